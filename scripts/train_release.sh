#!/usr/bin/env bash
# The release model: skip-recon with the levers that let partially-known patches reach the encoder
# (4-channel patch input, token threshold 0.5), a full-resolution known-pixel path into the decoder,
# and a hole-weighted MSE. 128 px, patch 8, D=256, depth 8. Resumable; extend with a larger --steps.
# Usage: scripts/train_release.sh RUN_DIR [STEPS] [MAX_MINUTES]
set -euo pipefail
RUN=${1:-runs/release}
STEPS=${2:-20000}
MINUTES=${3:-110}
DATA=${DATA:-../shared/data/train}
INPNET=${INPNET:-inpnet}
ARGS=(--variant skip-recon --preset tiny --image-size 128 --patch-size 8 --embed-dim 256 --depth 8 --num-heads 4
      --data "$DATA" --steps "$STEPS" --batch-size 16 --amp bf16 --workers 1 --seed 0 --no-progress
      --max-minutes "$MINUTES")
if [ -f "$RUN/training_state.pt" ]; then
  $INPNET train "${ARGS[@]}" --out "$RUN" --resume
else
  $INPNET train "${ARGS[@]}" --out "$RUN" \
    --set in_chans=4 token_threshold=0.5 pixel_skip=true decoder_channels=[128,64,32] rec_loss=weighted hole_weight=4 \
          lr=5e-4 warmup_steps=300 ckpt_every_s=300
fi
