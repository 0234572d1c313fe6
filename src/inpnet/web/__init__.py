"""Web UI (Gradio): `inpnet.web.app.build_app(pipeline)`, started by `inpnet serve`. Nothing heavy here."""
