#!/usr/bin/env bash
# Stage 3 of the release model: the stage-2 network (scripts/train_release_prefill.sh, the default before
# 2026-11-29) continued with restoration in the same model and the paper's full ratio range:
#  - a quarter of each batch is trained at ratio 0 on a degraded input (noise / JPEG / blur) against the clean
#    photo (train.restore_fraction; eval/degrade.random_degradation), so one default model also restores;
#  - mask ratios 0.1-0.9 (was 0.1-0.75); irregular masks counted at the model's token threshold 0.5;
#  - a test split (sha1 fraction < 0.02, the photos of `--holdout 0.02`) that neither training nor checkpoint
#    selection sees; validation photos come from the next 2 % (they were training photos of stages 1-2).
# Stage 4 (RESTORE_WEIGHT=4): the same, but the restoration samples' all-pixel MSE is its own loss term times
# RESTORE_WEIGHT (train.restore_weight; losses.mixed_reconstruction_loss) instead of ~12 % of one pooled loss,
# which stage 3 (RESTORE_WEIGHT=0) did not learn to denoise from.
# Stage 5 (the default since 2026-11-29 session 3): stage 4 continued with more restoration in each batch:
#   RESTORE_WEIGHT=4 RESTORE_FRACTION=0.375 LR=2e-4 WARMUP=100 SEED=1 OMP_NUM_THREADS=1 \
#     scripts/train_release_restore.sh RUN weights/stage4-restore-mix-128 1600 125
#   (weights/stage4-restore-mix-128: the stage-4 folder of commit 1e46994)
# Stage 6 (the default since 2026-11-29 session 4): stage 5 continued with half of each batch restoration,
# JPEG-heavy (the family stage 5 learned slowest: JPEG q20 +0.3 dB against a goal of +1):
#   RESTORE_WEIGHT=4 RESTORE_FRACTION=0.5 RESTORE_MIX=[1,3,0.5] JPEG_QUALITY=[10,40] LR=2e-4 WARMUP=100 SEED=2 \
#     OMP_NUM_THREADS=1 scripts/train_release_restore.sh RUN STAGE5 1500 105
#   (STAGE5: the weights/inpnet-skip-recon-128 folder of commit 6dd8ef8; stopped by SIGINT after step 1,210)
# Stage 7 (tried, not shipped; docs/results.md "levers"): stage 6 continued the same way for 1,300 steps, SEED=3,
#   INIT = the stage-6 weights/inpnet-skip-recon-128 folder: restoration +0.04 to +0.13 dB, inpainting level.
# Stage 8 (the default from 2026-11-29 session 6 to stage 9): stage 6 continued with the stage-7 recipe for 8 minutes on a lent
#   GPU, batch 256: scripts/train_gpu_stage.py (its docstring and weights/inpnet-skip-recon-128/MODEL_CARD.md).
# Stage 9 (the default since 2026-11-30): stage 8 continued the same way for 9 minutes (the model card's commands).
# Resumable. Usage: [RESTORE_WEIGHT=4] scripts/train_release_restore.sh RUN_DIR INIT_WEIGHTS [STEPS] [MAX_MINUTES]
set -euo pipefail
RUN=${1:?run directory}
INIT=${2:?stage-2 weights (e.g. the inpnet-skip-recon-128 folder of commit 2e5e587)}
STEPS=${3:-4500}
MINUTES=${4:-115}
DATA=${DATA:-../shared/data/train}
INPNET=${INPNET:-inpnet}
RESTORE_WEIGHT=${RESTORE_WEIGHT:-0}
RESTORE_FRACTION=${RESTORE_FRACTION:-0.25}
LR=${LR:-3e-4}
WARMUP=${WARMUP:-200}
SEED=${SEED:-0}
RESTORE_MIX=${RESTORE_MIX:-[1,1,1]}  # weights of noise, jpeg, blur among the restoration samples
JPEG_QUALITY=${JPEG_QUALITY:-[10,70]}
AMP=${AMP:-off}  # bf16 autocast is emulated (10x slower) on CPUs without avx512_bf16/AMX, as on the 2026-11-29 machine
ARGS=(--variant skip-recon --preset tiny --image-size 128 --patch-size 8 --embed-dim 256 --depth 8 --num-heads 4
      --data "$DATA" --steps "$STEPS" --batch-size 16 --amp "$AMP" --workers 1 --seed "$SEED" --no-progress
      --max-minutes "$MINUTES")
if [ -f "$RUN/training_state.pt" ]; then
  $INPNET train "${ARGS[@]}" --out "$RUN" --resume
else
  $INPNET train "${ARGS[@]}" --out "$RUN" --init-from "$INIT" \
    --set in_chans=4 token_threshold=0.5 pixel_skip=true decoder_channels=[128,64,32] prefill=harmonic \
          rec_loss=weighted hole_weight=4 lr=$LR warmup_steps=$WARMUP ckpt_every_s=300 patience=1000 \
          ratio_range=[0.1,0.9] restore_fraction=$RESTORE_FRACTION restore_weight=$RESTORE_WEIGHT \
          restore_mix=$RESTORE_MIX restore_jpeg_quality=$JPEG_QUALITY test_fraction=0.02 val_fraction=0.02
fi
