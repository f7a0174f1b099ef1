"""Inputs tests make on the fly: small smooth photos, box masks, flows of a moving square, textures,
and `benchmark run` arguments."""

import os
import shutil

import cv2
import numpy as np
import pytest

from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png
from pconvkit.maskgen.flowio import write_flow


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


SHIFT = 8  # px the square of `write_square_flows` moves right between its frames


def write_square_flows(folder, video, pairs, shape=(64, 80)):
    for first, second in pairs:
        forward = np.zeros(shape + (2,), np.float32)
        backward = np.zeros(shape + (2,), np.float32)
        forward[20:40, 20 + first : 40 + first, 0] = SHIFT
        backward[20:40, 20 + first + SHIFT : 40 + first + SHIFT, 0] = -SHIFT
        write_flow(folder / video / f"forward_{first}_{second}.flo", forward)
        write_flow(folder / video / f"backward_{second}_{first}.flo", backward)


def textured(shape, seed=0):
    """A smooth random texture in [0, 1] (flow can track it)."""
    rng = np.random.default_rng(seed)
    noise = rng.random(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)


def browser():
    """A headless Chromium, or a failure under CI (where .ci/run installs it), or a skip elsewhere."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test needs {', '.join(missing)} (.ci/run installs them)")
        pytest.skip(f"no {', '.join(missing)} here (Debian's chromium and chromium-driver, and selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
