"""Why ONNX Runtime's ratio 0.75 / ratio 0 stays above 0.5 at 128 px: the shipped graph's node time by operator
(ONNX Runtime's own profiler, fp32, 2 threads, no spinning, warm-up runs left out) at ratio 0 and 0.75, batch 1
and 8, and the ratio that would remain if every convolution-type node (the decoder's work, and the patch
embedding's) cost nothing, with and without the prefill that runs before the graph.

    python benchmarks/onnx_ratio_profile.py [--json out.json]

The profiler's own cost inflates every node a little, so compare the ratios, not the milliseconds, with
`inpnet bench`.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

CONV_TYPE = {"Conv", "ConvTranspose", "ReorderInput", "ReorderOutput", "Relu", "Resize", "Concat"}


def node_ms(path: str, feeds: dict, runs: int, warmup: int, threads: int) -> collections.Counter:
    """Mean milliseconds per run of each operator type over `runs` profiled runs after `warmup` others."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.enable_profiling, options.intra_op_num_threads = True, threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.profile_file_prefix = str(Path(tempfile.gettempdir()) / "inpnet-ort-profile")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    for _ in range(warmup + runs):
        session.run(None, feeds)
    profile = Path(session.end_profiling())
    events = json.loads(profile.read_text())
    profile.unlink()
    starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
    first = starts[warmup]
    by_op: collections.Counter = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time") and e["ts"] >= first:
            by_op[e["args"].get("op_name")] += e["dur"] / runs / 1000
    return by_op


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from inpnet.bench import random_masks
    from inpnet.export import OnnxInpainter, export_onnx
    from inpnet.predict import InpaintPipeline

    torch.set_num_threads(args.threads)
    model = InpaintPipeline.from_pretrained().model
    size = model.config.image_size
    result: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "model.onnx")
        export_onnx(model, path)
        runner = OnnxInpainter(path, threads=args.threads)
        for batch, runs, warmup in ((1, 20, 5), (8, 6, 2)):
            images = torch.rand(batch, 3, *size, generator=torch.Generator().manual_seed(0))
            for ratio in (0.0, 0.75):
                mask = random_masks(model.config, batch, ratio, seed=0) if ratio else torch.zeros(batch, 1, *size)
                feeds = runner.feeds(images, mask)
                before = []  # the prefill and the packing, in torch, before the graph
                for _ in range(10):
                    start = time.perf_counter()
                    runner.feeds(images, mask)
                    before.append((time.perf_counter() - start) * 1000)
                by_op = node_ms(path, feeds, runs, warmup, args.threads)
                total, conv = sum(by_op.values()), sum(v for k, v in by_op.items() if k in CONV_TYPE)
                result[f"batch {batch}, ratio {ratio}"] = {
                    "node_ms": total, "conv_type_ms": conv, "before_graph_ms": statistics.median(before),
                    "by_op": dict(by_op.most_common(10))}
    for batch in (1, 8):
        full, masked = result[f"batch {batch}, ratio 0.0"], result[f"batch {batch}, ratio 0.75"]
        rest = (masked["node_ms"] - masked["conv_type_ms"]) / (full["node_ms"] - full["conv_type_ms"])
        with_prefill = ((masked["node_ms"] - masked["conv_type_ms"] + masked["before_graph_ms"])
                        / (full["node_ms"] - full["conv_type_ms"] + full["before_graph_ms"]))
        result[f"batch {batch}"] = {"ratio": masked["node_ms"] / full["node_ms"], "ratio_conv_free": rest,
                                    "ratio_conv_free_with_prefill": with_prefill}
        print(f"batch {batch}: ratio 0.75 / ratio 0 of the graph's node time {masked['node_ms']:.1f} / "
              f"{full['node_ms']:.1f} ms = {result[f'batch {batch}']['ratio']:.2f}; convolution-type nodes "
              f"{masked['conv_type_ms']:.1f} / {full['conv_type_ms']:.1f} ms; without them {rest:.2f}, and with the "
              f"prefill before the graph ({masked['before_graph_ms']:.1f} / {full['before_graph_ms']:.1f} ms) "
              f"{with_prefill:.2f}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
