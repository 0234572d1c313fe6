#!/usr/bin/env bash
# Stage 2 of the release model: the stage-1 network (scripts/train_release.sh) continued with the harmonic
# prefill (the hole is first filled smoothly; the network sees that image and predicts a correction, its
# output head starting at zero). Resumable; early stopping is effectively off (validation is noisy at this lr).
# Usage: scripts/train_release_prefill.sh RUN_DIR INIT_WEIGHTS [STEPS] [MAX_MINUTES]
#   INIT_WEIGHTS: the stage-1 run directory or weights folder (the shipped run used the stage-1 weights of
#   commit fe2b118: git show fe2b118:weights/inpnet-skip-recon-128/model.safetensors).
set -euo pipefail
RUN=${1:?run directory}
INIT=${2:?stage-1 weights}
STEPS=${3:-8000}
MINUTES=${4:-120}
DATA=${DATA:-../shared/data/train}
INPNET=${INPNET:-inpnet}
ARGS=(--variant skip-recon --preset tiny --image-size 128 --patch-size 8 --embed-dim 256 --depth 8 --num-heads 4
      --data "$DATA" --steps "$STEPS" --batch-size 16 --amp bf16 --workers 1 --seed 0 --no-progress
      --max-minutes "$MINUTES")
if [ -f "$RUN/training_state.pt" ]; then
  $INPNET train "${ARGS[@]}" --out "$RUN" --resume --set patience=1000
else
  $INPNET train "${ARGS[@]}" --out "$RUN" --init-from "$INIT" --reinit decoder.head \
    --set in_chans=4 token_threshold=0.5 pixel_skip=true decoder_channels=[128,64,32] prefill=harmonic \
          rec_loss=weighted hole_weight=4 lr=3e-4 warmup_steps=200 ckpt_every_s=300 patience=1000
fi
