"""Where the bundled models lose l1 to the diffusion methods, measured (MODEL_CARD.md, "Where the
l1 goes"). Run after `make demo`, which leaves the run's pairing in demo/results:

    .venv/bin/python tools/weights/diagnose.py [RESULTS] [MASKS]     # defaults: demo/results demo/masks
    python -m models.weights.diagnose RESULTS MASKS                    # the same, pconvkit installed

1. Mean absolute error per hole pixel, by distance to the hole's edge (<= 3 px, 3-15 px, > 15 px),
   for each method, over the run's pairs in the bins above 0.2, per border category.
2. The training loss's L1 terms per pixel on crops of the training photos and of the held-out
   photos (same masks, same crops' statistics, no colour jitter): a gap would mean the 26 photos
   are too few; no gap means the model needs more training rather than more data.
"""

import sys

import cv2
import numpy as np
import pandas as pd
import torch

from pconvkit import sampledata
from pconvkit.benchmark.data import load_images, read_pair
from pconvkit.benchmark.methods import make_method
from pconvkit.benchmark.results import read_pairing
from pconvkit.errors import UserError
from pconvkit.models.checkpoint import load_model
from pconvkit.models.loss import l1_hole_valid
from pconvkit.models.train import TrainConfig, TrainingData

METHODS = ("pconv", "conv", "ns", "telea")
BINS_ABOVE_02 = ("0.2-0.3", "0.3-0.4", "0.4-0.5", "0.5-0.6")
BANDS = (("<= 3 px", 0, 3), ("3-15 px", 3, 15), ("> 15 px", 15, np.inf))


def error_by_distance_to_the_edge(results, methods=METHODS) -> pd.DataFrame:
    """Mean |result - truth| per hole pixel and channel, per category, method and band."""
    pairs = [(mask, image) for mask, image in read_pairing(results) if mask.bin in BINS_ABOVE_02]
    images = load_images(sampledata.photos_dir("test"))
    inpainters = {name: make_method(name) for name in methods}
    totals = {}
    for mask, name in pairs:
        image = images[name]
        valid = read_pair(mask, image)
        holes = valid == 0
        distance = cv2.distanceTransform(holes.astype(np.uint8), cv2.DIST_L2, 3)
        for method, inpaint in inpainters.items():
            error = np.abs(inpaint(image, valid) - image).sum(axis=-1)
            for band, low, high in BANDS:
                chosen = holes & (distance > low) & (distance <= high)
                total = totals.setdefault((mask.category, method, band), [0.0, 0])
                total[0] += float(error[chosen].sum())
                total[1] += 3 * int(chosen.sum())
    rows = [dict(category=c, method=m, band=b, error=s / n) for (c, m, b), (s, n) in totals.items() if n]
    return pd.DataFrame(rows).pivot_table(index=["category", "method"], columns="band", values="error")[
        [b for b, _, _ in BANDS]
    ]


def training_loss_on_both_splits(masks, batches: int = 12, batch_size: int = 16) -> pd.DataFrame:
    """L_hole and L_valid per hole / valid pixel of the bundled PConv on 256-px crops of each split."""
    model, _ = load_model(None)
    model.float().eval()
    rows = []
    for split in ("train", "test"):
        config = TrainConfig(
            images=str(sampledata.photos_dir(split)),
            masks=str(masks),
            out="unused",
            size=256,
            batch_size=batch_size,
            scale_jitter=3.0,
            color_jitter=0.0,
        )
        data = TrainingData(config)
        hole = valid = hole_fraction = 0.0
        with torch.no_grad():
            for step in range(batches):
                crops, crop_masks = data.batch(seed=123, step=step, batch_size=batch_size)
                h, v = l1_hole_valid(model(crops, crop_masks), crops, crop_masks.expand_as(crops))
                hole, valid, hole_fraction = (
                    hole + h.item(),
                    valid + v.item(),
                    hole_fraction + 1 - crop_masks.mean().item(),
                )
        rows.append(
            dict(
                photos=split,
                hole_error_per_pixel=hole / hole_fraction,
                valid_error_per_pixel=valid / (batches - hole_fraction),
            )
        )
    return pd.DataFrame(rows)


def main(results="demo/results", masks="demo/masks"):
    sampledata.require_sample_data()
    pd.set_option("display.width", 120)
    by_distance = error_by_distance_to_the_edge(results)
    print("Mean absolute error per hole pixel (0-1 scale) by distance to the hole's edge, bins above 0.2:")
    print(by_distance.round(4).to_string())
    print("\nThe bundled PConv's L1 per pixel on 256-px crops (scale jitter 3, no colour jitter):")
    print(training_loss_on_both_splits(masks).round(4).to_string(index=False))


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except UserError as err:
        sys.exit(f"Error: {err}")
