"""Two revisions of pconvkit side by side: `pconv inpaint` and `benchmark run` wall time.

Each revision is built into a wheel and unpacked into a folder of its own (no dependencies: they come
from this environment), and every timed command is a fresh process that imports that folder's
pconvkit. The two revisions alternate run by run; medians and their ratio are printed.

    python benchmarks/bench_versions.py OLD_REV [NEW_REV] [--repeats 5] [--pairs 48]

NEW_REV defaults to the working tree. `benchmark run` times the CPU methods mean, telea and ns on
PAIRS held-out photo x mask pairs (masks: a maskgen test set given with --masks, default demo/masks).
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

REPOSITORY = Path(__file__).resolve().parents[1]


def install(revision: str | None, folder: Path) -> Path:
    """Unpack the wheel of a git revision (None: the working tree) into folder/site."""
    source = folder / "source"
    if revision is None:
        ignored = shutil.ignore_patterns(".git", ".venv", "demo", "build", "*.egg-info", "__pycache__")
        shutil.copytree(REPOSITORY, source, ignore=ignored)
    else:
        subprocess.run(
            ["git", "-C", str(REPOSITORY), "worktree", "add", "--detach", str(source), revision],
            check=True,
            capture_output=True,
        )
    wheel_dir, site = folder / "wheel", folder / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheel_dir),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(site),
            *map(str, wheel_dir.glob("*.whl")),
        ],
        check=True,
        capture_output=True,
    )
    if revision is not None:
        subprocess.run(["git", "-C", str(REPOSITORY), "worktree", "remove", "--force", str(source)], check=True)
    return site


def timed(site: Path, args, env) -> float:
    code = (
        "import sys; from pconvkit.cli import benchmark, pconv; "
        "{'pconv': pconv, 'benchmark': benchmark}[sys.argv[1]](sys.argv[2:])"
    )
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, *args],
        check=True,
        env={**env, "PYTHONPATH": str(site)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old")
    parser.add_argument("new", nargs="?", default=None)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--masks", default=str(REPOSITORY / "demo" / "masks"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sites = {"old": install(args.old, folder / "old"), "new": install(args.new, folder / "new")}
        image = (np.random.default_rng(0).random((512, 512, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(folder / "photo.png"), cv2.GaussianBlur(image, (0, 0), 3))
        mask = cv2.circle(np.full((512, 512), 255, np.uint8), (256, 256), 120, 0, -1)
        cv2.imwrite(str(folder / "mask.png"), mask)
        env = {**os.environ, "PCONVKIT_CACHE": str(folder / "cache")}  # a fresh ONNX graph cache
        photos = photos_dir("test")
        inpaint = ["pconv", "inpaint", str(folder / "photo.png"), str(folder / "mask.png"), "-o", str(folder / "o.png")]
        for site in sites.values():  # export and cache the ONNX graph once, untimed
            timed(site, inpaint, env)
        times = {("inpaint", v): [] for v in sites} | {("run", v): [] for v in sites}
        for repeat in range(args.repeats):
            for version, site in sites.items():
                times["inpaint", version].append(timed(site, inpaint, env))
                out = folder / f"results_{version}_{repeat}"
                run = [
                    "benchmark",
                    "run",
                    "--images",
                    str(photos),
                    "--methods",
                    "mean,telea,ns",
                    "--masks",
                    args.masks,
                    "--limit",
                    str(max(1, args.pairs // 12)),
                    "--out",
                    str(out),
                ]
                times["run", version].append(timed(site, run, env))
        for command in ("inpaint", "run"):
            old, new = (statistics.median(times[command, v]) for v in ("old", "new"))
            print(
                f"{command:8} old {old:7.3f} s  new {new:7.3f} s  new/old {new / old:.3f}  ({args.repeats} runs each)"
            )


if __name__ == "__main__":
    main()
