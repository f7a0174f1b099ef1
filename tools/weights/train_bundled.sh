#!/usr/bin/env bash
# The bundled models' recipe (MODEL_CARD.md): PConv and the Conv baseline trained side by side on
# one GPU, the same data, steps and budget. Phase 1 (lr 2e-4) runs for PHASE1_MINUTES, phase 2
# (--finetune: lr 5e-5, encoder BatchNorm frozen) for a third as many steps or PHASE2_MINUTES.
# Each model's fp16 weights land in OUT/NAME.pt.
#
#   tools/weights/train_bundled.sh PHOTOS MASKS OUT [PHASE1_MINUTES] [PHASE2_MINUTES]
#
# PHOTOS: `benchmark data path train-photos`; MASKS: a `maskgen build --preset sample` folder.
# EXTRA_ARGS adds options to every `pconv train` (--no-amp, say), PCONV_ARGS to PConv's alone (--skip-fill 3). To repeat a run step for step, replace the time
# limits by the step counts that the model card gives. START_FROM=DIR continues from DIR/NAME.pt (the
# bundled models: START_FROM=models/weights) instead of starting afresh, so that training budgets add
# up across runs; its step count carries on. BATCH_SIZE (32) and THREADS (torch's threads per run,
# default all cores) fit it to a CPU machine: BATCH_SIZE=8 THREADS=1 WORKERS=0 runs the two side by
# side on two cores.
set -euo pipefail
photos=$1 masks=$2 out=$3 phase1_minutes=${4:-60} phase2_minutes=${5:-20}
workers=${WORKERS:-7}
if [[ -n ${THREADS:-} ]]; then export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS; fi
common=(--images "$photos" --masks "$masks" --size 256 --batch-size "${BATCH_SIZE:-32}" --layers 7 --width 0.5
        --scale-jitter 3 --color-jitter 0.5 --workers "$workers" --checkpoint-every 1000 --sample-every 5000 ${EXTRA_ARGS:-})

train_one() {  # NAME [--plain]
    local name=$1 run=$out/$1
    shift
    local start=()
    if [[ -n ${START_FROM:-} ]]; then start=(--resume "$START_FROM/$name.pt"); fi
    pconv train "${common[@]}" "$@" ${start[@]+"${start[@]}"} --out "$run" --steps 1000000 --max-minutes "$phase1_minutes"
    cp "$run/last.pt" "$run/phase1.pt"
    local steps
    steps=$(python3 -c "import torch, sys; print(torch.load(sys.argv[1], weights_only=False)['step'])" "$run/phase1.pt")
    pconv train "${common[@]}" --out "$run" --resume "$run/phase1.pt" --finetune \
        --steps $((steps + steps / 3)) --max-minutes "$phase2_minutes"
    python3 - "$run/last.pt" "$out/$name.pt" <<'EOF'
import sys
from pconvkit.models.checkpoint import load_model, save_checkpoint
model, state = load_model(sys.argv[1])
save_checkpoint(sys.argv[2], model, None, state["step"], state["phase"], state["config"], state["metadata"], half=True)
EOF
}

mkdir -p "$out"
train_one pconv ${PCONV_ARGS:-} > "$out/pconv.log" 2>&1 &
partial=$!
train_one conv --plain > "$out/conv.log" 2>&1 &
plain=$!
status=0
wait $partial || status=1
wait $plain || status=1
exit $status
