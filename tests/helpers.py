"""Inputs tests make on the fly: small smooth photos, box masks, and `benchmark run` arguments."""

import numpy as np

from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png


def gradient_photos(folder, count: int = 3, side: int = 64, seed: int = 0):
    """`count` smooth photos p0.png ...: an x ramp, a y ramp and a random flat channel (smooth, so
    that interpolation and 8-bit files keep them)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side] / (side - 1)
    for i in range(count):
        write_image(folder / f"p{i}.png", np.dstack([x, y, np.full_like(x, rng.random())]))


def box_masks(folder, boxes, side: int = 64):
    """One mask per box (top, bottom, left, right) of hole, m00.png ..., white = valid."""
    for i, (top, bottom, left, right) in enumerate(boxes):
        valid = np.ones((side, side), np.uint8)
        valid[top:bottom, left:right] = 0
        write_png_atomic(folder / f"m{i:02d}.png", mask_to_png(valid))


def run_arguments(folder, methods: str = "mean", out: str = "out") -> list[str]:
    """`benchmark run` of METHODS on FOLDER/images x FOLDER/masks at 64 px into FOLDER/OUT."""
    return [
        "run",
        "--methods",
        methods,
        "--images",
        str(folder / "images"),
        "--masks",
        str(folder / "masks"),
        "--size",
        "64",
        "--out",
        str(folder / out),
    ]
