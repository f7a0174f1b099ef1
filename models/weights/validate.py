"""Choose between trained checkpoints without looking at the held-out photos (MODEL_CARD.md): the
mean l1 (%) of each checkpoint over the demo's test masks, each mask on one of the sample photos
that are in neither split (`pconvkit.sampledata.VALIDATION_PHOTOS`), dealt as `benchmark run`
deals images. Run after `make demo` (it needs the sample data and the demo's masks):

    .venv/bin/python models/weights/validate.py CHECKPOINT [CHECKPOINT ...]   # masks: demo/masks
    MASKS=other/masks .venv/bin/python models/weights/validate.py ...

On the CPU, about 3.5 minutes per checkpoint of the bundled size for the demo's 300 masks.
"""
import os
import sys

import numpy as np

from benchmark.data import load_images, load_masks, pair_masks, read_pair
from benchmark.methods import NeuralMethod
from benchmark.metrics import l1_error_percent
from pconvkit import sampledata

BATCH = 8


def validation_l1(checkpoint, pairs, images) -> tuple[float, float]:
    """Mean l1 (%) over all pairs and over the pairs in the bins above 0.2."""
    inpaint = NeuralMethod(checkpoint)
    errors, large = [], []
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start:start + BATCH]
        truth = np.stack([images[name] for _, name in chunk])
        valid = np.stack([read_pair(mask, images[name]) for mask, name in chunk])
        for (mask, _), result, target in zip(chunk, inpaint.inpaint_batch(truth, valid), truth):
            errors.append(l1_error_percent(result, target))
            large.append(mask.bin >= "0.2")
    errors = np.array(errors)
    return float(errors.mean()), float(errors[np.array(large)].mean())


def main(checkpoints, masks):
    sampledata.require_sample_data()
    images = load_images(sampledata.write_photos("validation", sampledata.VALIDATION_PHOTOS))
    pairs = pair_masks(load_masks(masks), images, seed=0)
    print(f"mean l1 (%) over {len(pairs)} pairs of {masks} on {len(images)} validation photos")
    for checkpoint in checkpoints:
        everywhere, above_02 = validation_l1(checkpoint, pairs, images)
        print(f"{checkpoint}: all bins {everywhere:.4f}, bins above 0.2 {above_02:.4f}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:], os.environ.get("MASKS", "demo/masks"))
