"""`inpnet train`: train a variant (or the MAE baseline) on image folders. Works under `torchrun`."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from inpnet.commands import DEVICE_HELP, image_size_option
from inpnet.config import PRESETS, VARIANTS


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--variant", choices=list(VARIANTS), metavar="NAME",
                   help=f"one of: {', '.join(VARIANTS)} (needed for a new run; --resume takes the run's)")
    p.add_argument("--preset", choices=list(PRESETS), help="size preset (default tiny; --resume: the run's)")
    p.add_argument("--data", nargs="+", metavar="DIR",
                   help="image folders (recursive; needed for a new run; --resume: the run's own by default)")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to create (or resume)")
    p.add_argument("--image-size", type=int, nargs="+", metavar="N", help="training size: N or H W")
    p.add_argument("--patch-size", type=int, metavar="N", help="patch side in pixels (default: the preset's)")
    p.add_argument("--depth", type=int, metavar="N", help="encoder blocks (default: the preset's)")
    p.add_argument("--embed-dim", type=int, metavar="N", help="encoder width (default: the preset's)")
    p.add_argument("--num-heads", type=int, metavar="N", help="attention heads (default: the preset's)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="more overrides, e.g. model.in_chans=4 train.rec_loss=weighted")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--epochs", type=int, metavar="N", help="passes over the training split (default 30)")
    length.add_argument("--steps", type=int, metavar="N", help="optimizer steps instead of --epochs")
    p.add_argument("--batch-size", type=int, metavar="N", help="images per step in each process (default 32)")
    p.add_argument("--lr", type=float, help="peak learning rate of the warm-up + cosine schedule (default 1e-3)")
    p.add_argument("--mask-dir", help="mask PNG folder added to the dynamic policy (e.g. NVIDIA irregular)")
    p.add_argument("--amp", choices=["auto", "bf16", "fp16", "off"],
                   help="mixed precision (default auto: bf16 on a CUDA device that has it, else off)")
    p.add_argument("--workers", type=int,
                   help="processes that build whole steps (photos, masks, degradations) for the whole run, with "
                        "the same results as without (default 0: the main process builds them)")
    p.add_argument("--seed", type=int, help="seed of weights, data order and masks (default 0)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out exactly")
    p.add_argument("--init-from", metavar="CKPT", help="start from the weights of a checkpoint (same config)")
    p.add_argument("--init-from-backbone", metavar="PATH",
                   help="start the encoder from a pretrained ViT (timm / FB-MAE / Hugging Face files)")
    p.add_argument("--reinit", nargs="+", default=[], metavar="MODULE",
                   help="after --init-from, reset these modules to fresh values (e.g. decoder.head)")
    p.add_argument("--device", default="auto", help=DEVICE_HELP)
    p.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much wall time")
    p.add_argument("--stop-at-step", type=int, metavar="N",
                   help="checkpoint and stop at step N (continue later with --resume)")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar")


def _parse_value(text: str):
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _resume_changes(args: argparse.Namespace, train_over: dict, model_over: dict, given: dict) -> list[str]:
    """The settings of a resumed run that this command line changes (RESUME_CHANGES it was given), with a note
    naming the other given options whose values differ from the run's own: a resume keeps the run's."""
    import json
    from pathlib import Path

    from inpnet.train import CONFIG_FILE, RESUME_CHANGES, read_run_config

    changes = [k for k in train_over if k in RESUME_CHANGES]
    if not (Path(args.out) / CONFIG_FILE).is_file():
        return changes  # train() says that this is no run to resume
    saved = read_run_config(Path(args.out))
    # `given`: the configs this command line describes, {"model": {...}, "train": {...}} as saved (lists)
    same = lambda scope, k: json.loads(json.dumps(given[scope].get(k))) == saved[scope].get(k)  # noqa: E731
    ignored = [k for k in train_over if k not in RESUME_CHANGES and not same("train", k)]
    ignored += [k for k in model_over if not same("model", k)]
    for key in ("variant", "preset"):  # options, not overrides: compared by themselves, when given
        if getattr(args, key) is not None and getattr(args, key) != saved["model"].get(key):
            ignored.append(f"--{key} {getattr(args, key)} (the run is {saved['model'].get(key)})")
    if args.init_from or args.init_from_backbone or args.reinit:
        ignored.append("init-from / reinit")
    if ignored:
        print(f"inpnet train: note: --resume continues with the run's own settings; ignored: {', '.join(ignored)}",
              file=sys.stderr)
    return changes


def _what_to_train(args: argparse.Namespace, saved: dict | None) -> tuple[str, str, list[str]]:
    """(variant, preset, data folders): as given, and on a resume (`saved`: the run's config.json) the run's own
    where not given. Refuses a new run without them, and an --out inside a data folder."""
    from inpnet.errors import InpNetError

    if saved is None and not (args.variant and args.data):
        missing = " and ".join(o for o, v in (("--variant", args.variant), ("--data", args.data)) if not v)
        raise InpNetError(f"a new run needs {missing} (--resume continues a run with its own)")
    variant = args.variant or saved["model"]["variant"]
    preset = args.preset or (saved["model"].get("preset", "tiny") if saved else "tiny")
    data = args.data or saved.get("data")
    if not data:
        raise InpNetError(f"the run in {args.out} does not record its data folders (it predates 2026-12-01): "
                          "give --data")
    if saved is not None and args.data and saved.get("data") and \
            [str(Path(d).absolute()) for d in args.data] != saved["data"]:  # review 13: retrained on other photos
        print(f"inpnet train: note: --data differs from the run's own ({', '.join(saved['data'])}): the run goes on "
              "with the given folders, and an exact resume needs the same photos", file=sys.stderr)
    out = Path(args.out).resolve()
    for folder in map(Path, data if saved is None else ()):  # a new run only: an existing one stays resumable
        if folder.is_dir() and (out == folder.resolve() or folder.resolve() in out.parents):
            raise InpNetError(f"--out {args.out} is inside the --data folder {folder}: the run's files would land "
                              "among the photos; choose another --out")
    return variant, preset, data


def run(args: argparse.Namespace) -> int:
    from inpnet.config import ModelConfig, TrainConfig
    from inpnet.errors import InpNetError
    from inpnet.train import read_resumable_config, train

    saved = read_resumable_config(args.out) if args.resume else None
    variant, preset, data = _what_to_train(args, saved)
    model_over: dict = {}
    train_over: dict = {}
    if args.image_size:
        model_over["image_size"] = image_size_option(args.image_size)
    for key in ("patch_size", "depth", "embed_dim", "num_heads"):
        if getattr(args, key) is not None:
            model_over[key] = getattr(args, key)
    for key, attr in (("epochs", "epochs"), ("steps", "steps"), ("batch_size", "batch_size"), ("lr", "lr"),
                      ("mask_dir", "mask_dir"), ("amp", "amp"), ("num_workers", "workers"), ("seed", "seed")):
        if getattr(args, attr) is not None:
            train_over[key] = getattr(args, attr)
    model_fields = set(ModelConfig.__dataclass_fields__)
    for item in args.set:
        if "=" not in item:
            raise InpNetError(f"--set expects KEY=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        scope, _, name = key.rpartition(".")
        target = model_over if (scope == "model" or (not scope and name in model_fields)) else train_over
        target[name] = _parse_value(value)
    mcfg = ModelConfig.from_name(variant, preset=preset, **model_over)
    tcfg = TrainConfig.for_variant(variant, **train_over)
    if args.max_minutes is not None and not 0 < args.max_minutes < math.inf:
        raise InpNetError(f"--max-minutes must be a time above 0, got {args.max_minutes}")
    max_seconds = args.max_minutes * 60 if args.max_minutes is not None else None
    resume_changes = None
    if args.resume:  # only what was given: a default must not replace the run's own length or patience
        given = {"model": mcfg.to_dict(), "train": tcfg.to_dict()}
        resume_changes = _resume_changes(args, train_over, model_over, given)
    result = train(mcfg, tcfg, data, args.out, resume=args.resume, init_from=args.init_from,
                   init_from_backbone=args.init_from_backbone, reinit=tuple(args.reinit), device=args.device,
                   progress=not args.no_progress, max_seconds=max_seconds,
                   stop_at_step=args.stop_at_step, resume_changes=resume_changes)
    best = f"{result.best_psnr:.2f} dB" if result.best_psnr is not None else "n/a"
    if result.main:  # under torchrun, once (review 11: each process printed it)
        print(f"run {result.run_dir}: step {result.step}, {result.epoch} epoch(s) done, best val PSNR {best}, "
              f"stopped: {result.stopped_because}")
    if result.signal is not None:  # checkpointed, but not done: a script's `train && evaluate` must not go on
        print("inpnet train: interrupted; continue with the same command and --resume", file=sys.stderr)
        return 128 + result.signal  # the shell's convention: 130 for Ctrl-C, 143 for SIGTERM
    return 0
