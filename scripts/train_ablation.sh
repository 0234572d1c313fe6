#!/usr/bin/env bash
# The equal-budget ablation: six variants + the MAE baseline, same encoder (D=192, depth 6, patch 8),
# same data, image size 64, batch 32, same number of steps, same seed. Resumable: rerun to continue.
# Usage: scripts/train_ablation.sh RUNS_DIR [STEPS]   (CPU: about 10 min per run on 1 core, bf16)
set -euo pipefail
RUNS=${1:-runs/ablation}
STEPS=${2:-800}
DATA=${DATA:-../shared/data/train}
INPNET=${INPNET:-inpnet}
COMMON=(--preset tiny --image-size 64 --patch-size 8 --depth 6 --data "$DATA" --steps "$STEPS"
        --batch-size 32 --amp bf16 --workers 1 --seed 0 --no-progress)
mkdir -p "$RUNS"
for v in random-recon random-gan dynamic-recon dynamic-gan skip-recon skip-gan mae; do
  extra=()
  # MAE's decoder scaled like FB-MAE's (512 wide, 8 deep for a 768-wide, 12-deep encoder): 128 wide, 4 deep
  [ "$v" = mae ] && extra=(--set decoder_embed_dim=128 decoder_depth=4 decoder_num_heads=4)
  if [ -f "$RUNS/$v/training_state.pt" ]; then
    $INPNET train --variant "$v" "${COMMON[@]}" --out "$RUNS/$v" --resume
  else
    rm -rf "$RUNS/$v"
    $INPNET train --variant "$v" "${COMMON[@]}" --out "$RUNS/$v" "${extra[@]}"
  fi
done
