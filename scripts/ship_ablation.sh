#!/usr/bin/env bash
# Ship the equal-budget ablation runs (fp16) so that `inpnet ablate` can be rerun on exactly these weights,
# and the MAE baseline beside the release model (weights/mae-64, also the ablation's mae row). Usage: scripts/ship_ablation.sh RUNS_DIR
set -euo pipefail
RUNS=${1:-runs/ablation}
PY=${PYTHON:-python}
for v in random-recon random-gan dynamic-recon dynamic-gan skip-recon skip-gan; do
  "$PY" scripts/ship_weights.py "$RUNS/$v" "ablation-64/$v"
done
"$PY" scripts/ship_weights.py "$RUNS/mae" mae-64
