"""Benchmark harness speed: images/s of each method at 512x512, and the share of the time spent in
the metrics (goal: metrics under 20 % of the cheapest real method's time), and the cost of the
margin Telea and Navier-Stokes run on (`methods._opencv_inpaint`) against OpenCV's call on the bare
image, the two alternating pair by pair.

    python benchmarks/bench_methods.py [--images 6] [--methods telea,ns,biharmonic,patchmatch,pconv]

Uses the held-out sample photos and synthetic irregular holes of about 25 %.
"""

import argparse
import time

import cv2
import numpy as np

from pconvkit import sampledata
from pconvkit.benchmark.data import load_images
from pconvkit.benchmark.methods import _holes_255, _opencv_inpaint, _uint8, make_method
from pconvkit.benchmark.metrics import image_metrics
from pconvkit.images import blank_holes, composite
from pconvkit.memory import reuse_freed_memory


def holes(seed, size=512):
    rng = np.random.default_rng(seed)
    valid = np.ones((size, size), np.uint8)
    while (valid == 0).mean() < 0.25:
        points = rng.integers(0, size, (6, 2)).astype(np.int32)
        cv2.polylines(valid, [points], False, 0, int(rng.integers(15, 40)))
    return valid


def main():
    reuse_freed_memory()  # as the command-line tools do
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--methods", default="mean,telea,ns,biharmonic,patchmatch,pconv")
    args = parser.parse_args()
    images = list(load_images(sampledata.photos_dir("test")).values())[: args.images]
    masks = [holes(i) for i in range(len(images))]
    start = time.perf_counter()
    for image, valid in zip(images, masks):
        image_metrics(composite(image, image, valid), image, valid)
    metrics = (time.perf_counter() - start) / len(images)
    print(f"metrics (l1, PSNR, SSIM, l1 over holes): {metrics * 1e3:.1f} ms per image")
    print(f"{'method':12} {'images/s':>9} {'s/image':>8} {'metrics share':>14}")
    for name in args.methods.split(","):
        method = make_method(name)
        method(blank_holes(images[0], masks[0]), masks[0])  # warm-up (model load, library init)
        start = time.perf_counter()
        for image, valid in zip(images, masks):
            method(blank_holes(image, valid), valid)  # what the harness hands a method
        seconds = (time.perf_counter() - start) / len(images)
        print(f"{name:12} {1 / seconds:9.2f} {seconds:8.3f} {metrics / (metrics + seconds):14.1%}")
    margin_cost(images, masks)


def margin_cost(images, masks, repeats: int = 3):
    """Seconds per image of cv2.inpaint on the bare image and on the padded one, alternating."""
    for name, flag in (("telea", cv2.INPAINT_TELEA), ("ns", cv2.INPAINT_NS)):
        bare = padded = 0.0
        for _ in range(repeats):
            for image, valid in zip(images, masks):
                image = blank_holes(image, valid)
                start = time.perf_counter()
                cv2.inpaint(_uint8(image), _holes_255(valid), 3, flag)
                bare += time.perf_counter() - start
                start = time.perf_counter()
                _opencv_inpaint(image, valid, 3, flag)
                padded += time.perf_counter() - start
        count = repeats * len(images)
        ratio = padded / bare
        print(f"{name}: bare {bare / count:.3f} s, with the margin {padded / count:.3f} s per image ({ratio:.2f}x)")


if __name__ == "__main__":
    main()
