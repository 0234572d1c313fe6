"""One module per `inpnet` subcommand: `add_arguments(parser)` and `run(args) -> int`."""
