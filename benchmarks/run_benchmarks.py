"""Measure, record and render docs/benchmarks.md: every number on the page comes from a JSON file in
benchmarks/ that this script (or the command it names) wrote.

    python benchmarks/run_benchmarks.py [--wrap /work/runs/quiet.sh] [--steps bench export quality]
    python benchmarks/run_benchmarks.py --render-only        # rewrite the page from the committed files

Steps (each writes its file; `--wrap CMD` prefixes the timed subprocesses, e.g. a script that pauses
other work on the machine while they run):
- bench:   `inpnet bench --full` (or `--bench-mode default`: `inpnet bench --realtime --onnx-at 256`) ->
           benchmarks/bench.json
           (encoder / InP-Net vs MAE on `small` at 224 px, ONNX Runtime vs PyTorch on the shipped model
           against the ratio, real-time frames/s)
- export:  `inpnet export-onnx` of the shipped model, wall time -> benchmarks/export.json
- quality: `python benchmarks/quality.py` -> benchmarks/quality.json (hole PSNR cost of each step)
and benchmarks/run.json: the machine, the load before / after each timed step, FLOP ratios.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks"
FILES = {"bench": DATA / "bench.json", "export": DATA / "export.json", "quality": DATA / "quality.json",
         "run": DATA / "run.json"}
GPU_MFU = DATA / "gpu-mfu.json"
TARGETS = {
    "export_s": 30.0,  # inpnet export-onnx of the shipped model (issue 15)
    "bench_s": 90.0,  # the default `inpnet bench` (issue 15; the --realtime section included here)
    "onnx_fall": 0.5,  # ONNX Runtime latency at ratio 0.75 / at ratio 0 (issue 15)
    "fps": 30.0,  # end-to-end frames/s, 256 px, batch 1, fastest path (issue 15)
    "quality_db": 0.1,  # hole PSNR lost by a deployment step (issue 15)
    "encoder": 0.35,  # encoder latency at 0.75 / at 0 (issue 8)
    "speedup": 1.5,  # InP-Net images/s / MAE images/s at 0.75 (issue 8)
    "onnx": 0.7,  # ONNX Runtime / PyTorch latency, batch 1 (issue 8)
    "flops": 0.25,  # decoder / encoder FLOPs at ratio 0 (issue 8)
}


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_times() -> list[int] | None:
    """The machine's CPU time counters (/proc/stat's first line: user, nice, system, idle, iowait, irq,
    softirq, steal, ...), in clock ticks; None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as f:
            return [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None


def steal_share(before: list[int] | None, after: list[int] | None) -> float | None:
    """Of the CPU time that passed between two `cpu_times()` readings, the share the hypervisor gave to
    other machines (steal): on a virtual machine, the cores this one did not get, which stretches wall times."""
    if not before or not after or len(before) < 8 or len(after) < 8:
        return None
    delta = [b - a for a, b in zip(before[:8], after[:8])]
    total = sum(delta)
    return delta[7] / total if total > 0 else None


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def machine() -> dict[str, str]:
    import onnxruntime
    import torch

    name = platform.processor() or "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                name = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return {"cpu": name, "cores": str(os.cpu_count()), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "python": platform.python_version()}


def timed(cmd: list[str], wrap: list[str]) -> dict:
    """Run `cmd` (an `inpnet ...` or script command line) under `wrap`; its record: command, wall seconds
    (of the command itself, measured inside the wrapper), load before and after, stdout."""
    inner = [sys.executable, "-c", "import subprocess,sys,time;t=time.perf_counter();"
             "r=subprocess.run(sys.argv[1:]);print(f'@@seconds {time.perf_counter()-t:.3f}');sys.exit(r.returncode)"]
    exe = [sys.executable, "-m", "inpnet", *cmd[1:]] if cmd[0] == "inpnet" else [sys.executable, *cmd[1:]]
    record = {"date": now(), "command": shlex.join(cmd), "load_start": load()}
    ticks = cpu_times()
    print("running:", shlex.join(cmd), flush=True)
    done = subprocess.run([*wrap, *inner, *exe], cwd=ROOT, capture_output=True, text=True)
    record["load_end"] = load()
    record["steal"] = steal_share(ticks, cpu_times())
    sys.stderr.write(done.stderr[-3000:])
    if done.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed with exit code {done.returncode}")
    record["seconds"] = float(re.search(r"@@seconds ([\d.]+)", done.stdout).group(1))
    record["stdout"] = [line for line in done.stdout.splitlines() if not line.startswith("@@")]
    return record


def step_bench(wrap: list[str], run: dict, mode: str = "full") -> None:
    out = FILES["bench"].relative_to(ROOT)
    flags = ["--full"] if mode == "full" else ["--realtime", "--onnx-at", "256"]
    run["bench"] = timed(["inpnet", "bench", *flags, "--json", str(out), "--overwrite"], wrap)
    run["bench"].pop("stdout")


def step_export(wrap: list[str], run: dict, mode: str = "") -> None:
    from inpnet.checkpoint import shipped_weights_dir

    with tempfile.TemporaryDirectory() as tmp:
        record = timed(["inpnet", "export-onnx", "-o", str(Path(tmp) / "model.onnx")], wrap)
    record["command"] = "inpnet export-onnx -o model.onnx"
    record["model"] = f"shipped weights ({shipped_weights_dir().name})"
    diff = re.search(r"max abs diff ([\d.e+-]+)", " ".join(record["stdout"]))
    record["max_diff"] = float(diff.group(1)) if diff else None
    _write(FILES["export"], record)
    run["export"] = {k: record[k] for k in ("date", "load_start", "load_end", "steal")}


def step_quality(wrap: list[str], run: dict, mode: str = "") -> None:
    record = timed(["python", "benchmarks/quality.py", "--out", str(FILES["quality"])], [])
    run["quality"] = {k: record[k] for k in ("date", "seconds")}


def flop_ratios() -> dict[str, float]:
    """FLOP ratios of the models of the bench's encoder section (no timing noise)."""
    import torch

    from inpnet.bench import inpnet_gflops, model_gflops
    from inpnet.models import build_model

    torch.manual_seed(0)
    inpnet = build_model("skip-recon", preset="small", image_size=224).eval()
    mae = build_model("mae", preset="small", image_size=224).eval()
    return {
        "encoder_gflops_0": inpnet_gflops(inpnet, 0.0)["encoder"],
        "encoder_gflops_75": inpnet_gflops(inpnet, 0.75)["encoder"],
        "inpnet_gflops_75": model_gflops(inpnet, 0.75),
        "mae_gflops_75": model_gflops(mae, 0.75),
    }


def _write(path: Path, data: dict) -> None:
    from inpnet.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def _read(path: Path) -> dict:
    if not path.is_file():
        raise SystemExit(f"missing {path.relative_to(ROOT)}: run its step first")
    return json.loads(path.read_text())


def read_files() -> dict:
    """What the page is written from: the recorded files, and the GPU MFU run when there is one."""
    files = {name: _read(path) for name, path in FILES.items()}
    if GPU_MFU.is_file():  # measured on a lent GPU by benchmarks/gpu_train_mfu.py, not by this script
        files["gpu_mfu"] = json.loads(GPU_MFU.read_text())
    return files


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", nargs="+", choices=["bench", "export", "quality"],
                        default=["bench", "export", "quality"])
    parser.add_argument("--bench-mode", choices=["full", "default"], default="full",
                        help="full: `inpnet bench --full`; default: `inpnet bench --realtime` (about a minute)")
    parser.add_argument("--wrap", default="", help="command prefix for the timed steps, e.g. /work/runs/quiet.sh")
    parser.add_argument("--render-only", action="store_true", help="no measurement: rewrite the page")
    parser.add_argument("--out", default=str(ROOT / "docs"), help="folder of benchmarks.md and the plot")
    args = parser.parse_args()
    if not args.render_only:
        run = json.loads(FILES["run"].read_text()) if FILES["run"].is_file() else {}
        run.update(machine=machine(), flops=flop_ratios(), wrap=args.wrap)
        if "bench" in args.steps:  # the mode of the bench recorded here (a run of other steps keeps it)
            run["bench_mode"] = args.bench_mode
        wrap = shlex.split(args.wrap)
        for step in args.steps:
            {"bench": step_bench, "export": step_export, "quality": step_quality}[step](wrap, run, args.bench_mode)
            _write(FILES["run"], run)
    from render_benchmarks import render_page  # the page from the files alone

    Path(args.out).mkdir(parents=True, exist_ok=True)
    render_page(read_files(), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
