"""maskgen speed: flow + occlusion frame pairs per second, DIS against Farneback flow, the test set's
cheap bound against none, and the time to build the 12,000-mask test set from a raw pool with 2
workers (target: under 5 minutes on these 2 cores).

    python benchmarks/bench_maskgen.py [--pairs 20] [--per-bin 1000] [--pool masks] [--workers 2] [--check-against REV]
    python benchmarks/bench_maskgen.py --farneback [--pairs 20]   # Farneback's settings: cost and masks

--check-against REV also times the consistency check of git revision REV (maskgen/occlusion.py as it
was there) on the same flows, alternating with the current one, and prints the ratio.

--pool names a maskgen output folder with a raw test pool (default: build the sample one first
with `maskgen build --preset sample --out masks`). Needs the sample data (benchmark data fetch).
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from pconvkit import sampledata
from pconvkit.maskgen import build
from pconvkit.maskgen.bins import BINS
from pconvkit.maskgen.build import BenchmarkSettings, build_test_set
from pconvkit.maskgen.flowcompute import (
    FARNEBACK_PARAMETERS,
    FlowSettings,
    camera_motion,
    compute_flow,
    flow_method_for,
    read_frames,
)
from pconvkit.maskgen.occlusion import raw_mask_from_flows
from pconvkit.maskgen.pool import load_pool, load_raw_mask
from pconvkit.maskgen.shots import shot_spans, transition_kinds
from pconvkit.memory import reuse_freed_memory


def bench_flow(pairs: int):
    """Flow + check per pair of each sample clip with the defaults: frames at FlowSettings' sizes,
    the flow method `auto` picks for the clip's first shot."""
    settings = FlowSettings()
    for video in sampledata.sample_videos():
        frames = read_frames(video, settings.max_side, short_side=settings.short_side)
        method = flow_method_for(
            settings.method, camera_motion(frames[: shot_spans(transition_kinds(frames)[1])[0][1]])
        )
        frames = frames[: pairs + 1]
        height, width = frames[0].shape
        start = time.perf_counter()
        flow_seconds, flows = 0.0, []
        for first, second in zip(frames, frames[1:]):
            t = time.perf_counter()
            forward = compute_flow(first, second, method, settings.dis_preset)
            backward = compute_flow(second, first, method, settings.dis_preset)
            flow_seconds += time.perf_counter() - t
            raw_mask_from_flows(forward, backward)
            flows.append((forward, backward))
        total = time.perf_counter() - start
        # the check again on the same flows, alone: without the flows' caches and threads around it
        t = time.perf_counter()
        for forward, backward in flows:
            raw_mask_from_flows(forward, backward)
        alone = time.perf_counter() - t
        pairs = len(frames) - 1
        print(
            f"{video.name:14} {width}x{height}: {pairs / total:5.2f} pairs/s "
            f"(two {method} flows {flow_seconds / pairs * 1e3:.0f} ms, "
            f"check {(total - flow_seconds) / pairs * 1e3:.0f} ms "
            f"per pair in the loop, {alone / pairs * 1e3:.1f} ms alone: {alone / flow_seconds:.2f} of the flows)"
        )


def bench_check_against(revision: str, pairs: int):
    """The consistency check of `revision` and the current one on the same flows of vtest.avi, alternating."""
    import subprocess
    import types

    source = subprocess.run(
        ["git", "show", f"{revision}:maskgen/occlusion.py"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    old = types.ModuleType("occlusion_then")
    exec(compile(source, f"{revision}:maskgen/occlusion.py", "exec"), old.__dict__)
    video = next(v for v in sampledata.sample_videos() if v.name == "vtest.avi")
    frames = read_frames(video)[: pairs + 1]
    flows = [(compute_flow(a, b), compute_flow(b, a)) for a, b in zip(frames, frames[1:])]
    seconds = {"then": 0.0, "now": 0.0}
    for forward, backward in flows:
        for name, function in (("then", old.raw_mask_from_flows), ("now", raw_mask_from_flows)):
            start = time.perf_counter()
            function(forward, backward)
            seconds[name] += time.perf_counter() - start
    then, now = (seconds[k] / len(flows) * 1e3 for k in ("then", "now"))
    print(f"consistency check on vtest.avi: {revision} {then:.1f} ms, now {now:.1f} ms per pair ({then / now:.2f}x)")


def bench_flow_methods(pairs: int):
    """Two flows per pair of vtest.avi with DIS and with Farneback, alternating, at the default size."""
    video = next(v for v in sampledata.sample_videos() if v.name == "vtest.avi")
    settings = FlowSettings()
    frames = read_frames(video, settings.max_side, short_side=settings.short_side)[: pairs + 1]
    seconds = {"dis": 0.0, "farneback": 0.0}
    for first, second in zip(frames, frames[1:]):
        for method in seconds:
            start = time.perf_counter()
            compute_flow(first, second, method), compute_flow(second, first, method)
            seconds[method] += time.perf_counter() - start
    dis, farneback = (seconds[m] / (len(frames) - 1) * 1e3 for m in ("dis", "farneback"))
    print(f"two flows per vtest pair: DIS {dis:.0f} ms, Farneback {farneback:.0f} ms ({farneback / dis:.1f}x)")


def _farneback(**changes) -> tuple:
    """FARNEBACK_PARAMETERS with some of them changed, by name."""
    names = ("pyr_scale", "levels", "winsize", "iterations", "poly_n", "poly_sigma")
    return tuple(changes.get(name, value) for name, value in zip(names, FARNEBACK_PARAMETERS))


# the default (OpenCV's sample values), then cheaper pyramids, windows and iteration counts
FARNEBACK_VARIANTS = {
    f"sample {FARNEBACK_PARAMETERS}": FARNEBACK_PARAMETERS,
    "2 levels": _farneback(levels=2),
    "window 9": _farneback(winsize=9),
    "1 iteration": _farneback(iterations=1),
    "2 iterations, window 11": _farneback(iterations=2, winsize=11),
}


def bench_farneback_settings(pairs: int):
    """Two Farneback flows per vtest pair with each variant, alternating per pair, and how far each
    variant's raw masks (the default check and clean-up) are from those of OpenCV's sample values:
    the holes' IoU and their share of the frame."""
    import cv2

    video = next(v for v in sampledata.sample_videos() if v.name == "vtest.avi")
    settings = FlowSettings()
    frames = read_frames(video, settings.max_side, short_side=settings.short_side)[: pairs + 1]
    seconds = dict.fromkeys(FARNEBACK_VARIANTS, 0.0)
    holes = {name: [] for name in FARNEBACK_VARIANTS}
    for first, second in zip(frames, frames[1:]):
        for name, values in FARNEBACK_VARIANTS.items():
            start = time.perf_counter()
            forward = cv2.calcOpticalFlowFarneback(first, second, None, *values, 0)
            backward = cv2.calcOpticalFlowFarneback(second, first, None, *values, 0)
            seconds[name] += time.perf_counter() - start
            holes[name].append(raw_mask_from_flows(forward, backward) == 0)
    reference = holes[next(iter(FARNEBACK_VARIANTS))]
    print(f"Farneback variants on {len(frames) - 1} vtest pairs ({frames[0].shape[1]}x{frames[0].shape[0]}):")
    for name in FARNEBACK_VARIANTS:
        both = sum(int((a & b).sum()) for a, b in zip(holes[name], reference))
        either = sum(int((a | b).sum()) for a, b in zip(holes[name], reference))
        share = np.mean([h.mean() for h in holes[name]])
        milliseconds = seconds[name] / (len(frames) - 1) * 1e3
        print(f"  {name:32s} {milliseconds:6.1f} ms per pair, holes {share:6.2%} of the frame, IoU {both / either:.3f}")


def bench_ratio_bound(pool_dir: Path, masks: int = 30):
    """Masks of the hardest cell (0.5-0.6 N) with the sampler's cheap bound and without it, alternating;
    the masks must be the same."""
    rows = load_pool(pool_dir, "test")
    raws = [load_raw_mask(pool_dir, "test", row["raw_id"]) for row in rows]
    reaches = [build.reach(raw) for raw in raws]
    settings, bound = BenchmarkSettings(per_bin=masks), build.largest_ratio_bound
    seconds, made = {"with": 0.0, "without": 0.0}, {}
    for index in range(masks):
        for name in seconds:
            build.largest_ratio_bound = bound if name == "with" else (lambda *args: 1.0)
            start = time.perf_counter()
            rng = np.random.default_rng(build.mask_seed(0, 0, len(BINS) - 1, index))
            made[name] = build.sample_cell_mask(raws.__getitem__, reaches, "N", len(BINS) - 1, rng, settings)[0]
            seconds[name] += time.perf_counter() - start
        build.largest_ratio_bound = bound
        assert np.array_equal(made["with"], made["without"]), "the bound changed a mask"
    with_bound, without = (seconds[k] / masks * 1e3 for k in ("with", "without"))
    print(
        f"0.5-0.6 N masks from {len(rows)} raw test masks: {without:.1f} ms without the cheap bound, "
        f"{with_bound:.1f} ms with it ({without / with_bound:.1f}x), the same masks"
    )


def bench_test_set(pool_dir: Path, per_bin: int, workers: int):
    rows = load_pool(pool_dir, "test")
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(pool_dir / "raw", Path(tmp) / "raw")
        start = time.perf_counter()
        build_test_set(tmp, rows, BenchmarkSettings(per_bin=per_bin), workers)
        seconds = time.perf_counter() - start
    print(
        f"test set: {12 * per_bin} masks of 512x512 from {len(rows)} raw test masks, {workers} workers: "
        f"{seconds:.1f} s ({12 * per_bin / seconds:.1f} masks/s)"
    )


def main():
    reuse_freed_memory()  # as the command-line tools do
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--per-bin", type=int, default=1000)
    parser.add_argument("--pool", type=Path, default=Path("masks"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--check-against", default=None)
    parser.add_argument("--farneback", action="store_true", help="only Farneback's settings: cost and masks")
    args = parser.parse_args()
    if args.farneback:
        bench_farneback_settings(args.pairs)
        return
    bench_flow(args.pairs)
    bench_flow_methods(args.pairs)
    if args.check_against:
        bench_check_against(args.check_against, args.pairs)
    if not (args.pool / "raw" / "test" / "pool.csv").exists():
        raise SystemExit(f"no raw test pool in {args.pool}: run `maskgen build --preset sample --out {args.pool}`")
    bench_ratio_bound(args.pool)
    bench_test_set(args.pool, args.per_bin, args.workers)


if __name__ == "__main__":
    main()
