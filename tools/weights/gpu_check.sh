#!/usr/bin/env bash
# Before spending GPU time on training the bundled models: where a training step's time goes on this
# GPU (batches made on the device against CPU processes, and the network's step), and a short run of
# the bundled recipe with the device pipeline and the VGG terms, so that a fault shows in minutes.
#
#   tools/weights/gpu_check.sh MASKS [VGG_WEIGHTS]      # MASKS: a maskgen build (make demo: demo/masks)
#
# DEVICE (default cuda) and STEPS (default 200) override. Needs the sample data (benchmark data fetch).
set -euo pipefail
masks=$1 vgg=${2:-}
device=${DEVICE:-cuda} steps=${STEPS:-200}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
python benchmarks/bench_training.py --masks "$masks" --device "$device" --batches 20
vgg_args=()
if [[ -n $vgg ]]; then vgg_args=(--vgg-weights "$vgg"); fi
start=$(date +%s)
pconv train --images "$(benchmark data path train-photos)" --masks "$masks" --out "$out/run" \
    --size 256 --batch-size 32 --layers 7 --width 0.5 --scale-jitter 3 --color-jitter 0.5 \
    --data-pipeline device --device "$device" --steps "$steps" --checkpoint-every "$steps" \
    --sample-every "$steps" ${vgg_args[@]+"${vgg_args[@]}"}
seconds=$(( $(date +%s) - start ))
python - "$out/run/last.pt" "$seconds" <<'EOF'
import sys
import torch
state = torch.load(sys.argv[1], weights_only=False)
steps, seconds = state["step"], float(sys.argv[2])
batch = state["config"]["batch_size"]
print(f"{steps} steps in {seconds:.0f} s (with start-up): {steps * batch / seconds:.0f} crops/s; "
      f"pipeline {state['metadata']['data_pipeline']}, loss terms: {state['metadata']['loss_terms']}, "
      f"final losses {state['metadata']['final_losses']}")
EOF
