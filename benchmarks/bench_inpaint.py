"""Wall time of the `pconv inpaint` command on a 512x512 photo, ONNX Runtime against PyTorch.

Each run is a fresh process, as a user's command is, so it includes Python's start, the imports and
loading the model. The two engines alternate run by run; medians. The ONNX graph is exported (and
cached) before the timed runs; the export's own time is reported once.

    python benchmarks/bench_inpaint.py [--repeats 5] [--image PHOTO]
    python benchmarks/bench_inpaint.py --checkpoints OLD.pt,NEW.pt   # two checkpoints, the ONNX engine

With --checkpoints the two alternate instead (each one's graph exported first): the cost of a
change of network, the skip fill say, measured side by side. With --against, another installation's
`pconv` (an earlier release in its own virtual environment, with its own bundled weights) alternates
with this one's: what a user's command costs before and after a change of code and weights together.

    python benchmarks/bench_inpaint.py --against /path/to/other-venv/bin/pconv --repeats 10
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from pconvkit.sampledata import photos_dir


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--image", default=None, help="Default: the first held-out sample photo, or noise.")
    parser.add_argument("--checkpoints", default=None, help="A,B: time two checkpoints against each other.")
    parser.add_argument("--against", default=None, help="Another installation's pconv command, timed against this one.")
    args = parser.parse_args()
    if args.checkpoints and len(args.checkpoints.split(",")) != 2:
        parser.error("--checkpoints takes two checkpoints, A,B")
    pconv = shutil.which("pconv") or sys.exit("the pconv command is not on PATH: install the package first")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        held_out = sorted(photos_dir("test").glob("*.png")) if photos_dir("test").is_dir() else []
        photo = Path(args.image) if args.image else next(iter(held_out), None)
        image = cv2.imread(str(photo)) if photo is not None and photo.exists() else None
        if image is None:
            image = (np.random.default_rng(0).random((512, 512, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(folder / "photo.png"), cv2.resize(image, (512, 512), interpolation=cv2.INTER_AREA))
        mask = np.full((512, 512), 255, np.uint8)
        cv2.circle(mask, (256, 256), 120, 0, -1)  # a 17 % hole
        cv2.imwrite(str(folder / "mask.png"), mask)
        env = {**os.environ, "PCONVKIT_CACHE": str(folder / "cache")}

        def command(engine, checkpoint=None, executable=pconv):
            # each installation its own graph cache: one prunes the graphs of another export version
            env["PCONVKIT_CACHE"] = str(folder / ("cache" if executable == pconv else "cache-other"))
            start = time.perf_counter()
            subprocess.run(
                [
                    executable,
                    "inpaint",
                    str(folder / "photo.png"),
                    str(folder / "mask.png"),
                    "-o",
                    str(folder / f"{engine}.png"),
                    "--engine",
                    engine,
                    *(["--checkpoint", checkpoint] if checkpoint else []),
                ],
                check=True,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            return time.perf_counter() - start

        if args.checkpoints:
            compare_checkpoints(command, args.checkpoints.split(","), args.repeats)
            return
        if args.against:
            compare_installations(command, args.against, pconv, args.repeats)
            return
        first = command("onnx")
        samples = {"onnx": [], "torch": []}
        for _ in range(args.repeats):
            for engine in samples:
                samples[engine].append(command(engine))
    onnx, torch = statistics.median(samples["onnx"]), statistics.median(samples["torch"])
    print(f"pconv inpaint, 512x512, median of {args.repeats} alternating runs (fresh processes)")
    print(f"  --engine onnx   {onnx:6.2f} s")
    print(f"  --engine torch  {torch:6.2f} s   ({torch / onnx:.1f}x the ONNX engine's time)")
    print(f"  first onnx run, which exports the graph: {first:.2f} s")


def compare_checkpoints(command, checkpoints, repeats):
    for checkpoint in checkpoints:
        command("onnx", checkpoint)  # exports and caches the graph
    samples = {checkpoint: [] for checkpoint in checkpoints}
    for _ in range(repeats):
        for checkpoint in checkpoints:
            samples[checkpoint].append(command("onnx", checkpoint))
    first, second = (statistics.median(samples[c]) for c in checkpoints)
    ratios = [b / a for a, b in zip(*samples.values())]
    print(f"pconv inpaint --engine onnx, 512x512, median of {repeats} alternating runs (fresh processes)")
    print(f"  {checkpoints[0]}  {first:6.2f} s")
    print(f"  {checkpoints[1]}  {second:6.2f} s   (run by run: {statistics.median(ratios):.3f}x the first)")


def compare_installations(command, before, after, repeats):
    executables = {"before": before, "after": after}
    for executable in executables.values():
        command("onnx", executable=executable)  # exports and caches each one's graph
    samples = {name: [] for name in executables}
    for _ in range(repeats):
        for name, executable in executables.items():
            samples[name].append(command("onnx", executable=executable))
    ratios = [b / a for a, b in zip(samples["before"], samples["after"])]
    print(f"pconv inpaint --engine onnx, 512x512, median of {repeats} alternating runs (fresh processes)")
    print(f"  before  {statistics.median(samples['before']):6.3f} s   {before}")
    print(f"  after   {statistics.median(samples['after']):6.3f} s   {after}")
    print(f"  run by run: after / before = {statistics.median(ratios):.3f} (range {min(ratios):.3f}-{max(ratios):.3f})")


if __name__ == "__main__":
    main()
