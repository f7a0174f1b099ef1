"""Command-line interface: thin click layers over the library functions.

    maskgen    the mask pipeline of Section 4.1 (flow -> occlusion -> raw pools -> binned test set)
    benchmark  evaluation and tables (Section 4.3), and the sample data
    pconv      training, inpainting one image, converting checkpoints (Sections 3-4.2)

A mistake in the input ends in a one-line error and exit status 1, never a traceback.
"""

import math
import sys
from pathlib import Path

import click

from pconvkit.errors import UserError
from pconvkit.maskgen.augment import FOOTPRINTS
from pconvkit.maskgen.bins import BINS, bin_label
from pconvkit.maskgen.build import PRESETS, BenchmarkSettings
from pconvkit.maskgen.flowcompute import FlowSettings
from pconvkit.maskgen.manifest import read_manifest
from pconvkit.maskgen.occlusion import ConsistencyThresholds
from pconvkit.maskgen.pool import RawMaskSettings
from pconvkit.models.config import TrainConfig, UNetConfig


class _Group(click.Group):
    """Turns UserError and the file system's refusals (OSError) into click's one-line 'Error: ...'
    and exit status 1."""

    def invoke(self, ctx):
        from pconvkit.memory import reuse_freed_memory

        reuse_freed_memory()
        try:
            return super().invoke(ctx)
        except UserError as err:
            raise click.ClickException(str(err)) from None
        except OSError as err:  # the file system refused (a file where a folder should be, no permission, disk full)
            names = " -> ".join(str(name) for name in (err.filename, err.filename2) if name is not None)
            raise click.ClickException(f"{err.strerror or err}: {names}" if names else str(err)) from None
        except KeyboardInterrupt:
            click.echo("interrupted: run the same command again to resume", err=True)
            sys.exit(130)


def _csv_list(value, cast=str):
    return tuple(cast(v) for v in value.split(",") if v.strip()) if value else ()


# Numeric options are checked when the command line is read, so a value out of range is one line of
# click's "Invalid value for ..." before any work starts, never a traceback from deep inside.
POSITIVE = click.IntRange(min=1)
NON_NEGATIVE = click.IntRange(min=0)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which compare false with every bound, so
    FloatRange lets them through)."""

    def convert(self, value, param, ctx):
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return number


POSITIVE_FLOAT = FiniteFloatRange(min=0, min_open=True)
NON_NEGATIVE_FLOAT = FiniteFloatRange(min=0)


def _option(name: str, default, kind=None, help: str | None = None):
    """A click option whose default is shown in --help."""
    return click.option(name, default=default, show_default=True, type=kind, help=help)


def _positive_int_list(ctx, param, value):
    """Click callback: the value must be a comma-separated list of positive integers; kept as text."""
    try:
        numbers = _csv_list(value, int)
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of positive integers, e.g. 1,4,16")
    return value


# ---------------------------------------------------------------------------------------------- maskgen


@click.group(cls=_Group)
def maskgen():
    """Irregular hole masks from video occlusions (Section 4.1 of Liu et al., ECCV 2018)."""


# Defaults come from the library's dataclasses, the one place where the paper's values are stated.
_FLOW = FlowSettings()
_RAW = RawMaskSettings()
_CHECK = ConsistencyThresholds()
_TEST = BenchmarkSettings()

_flow_options = [
    click.option(
        "--frame-gaps",
        default=",".join(map(str, _FLOW.frame_gaps)),
        show_default=True,
        callback=_positive_int_list,
        help="Comma-separated frame gaps: each gives pairs (i, i+gap); more gaps, more distinct masks, "
        "but pairs further apart than 1 (the paper's) can turn a moving object into a filled silhouette.",
    ),
    _option("--frame-stride", _FLOW.frame_stride, POSITIVE, "Step between first frames of pairs."),
    click.option(
        "--max-side", type=POSITIVE, default=_FLOW.max_side, help="Scale frames down to this longer side before flow."
    ),
    click.option(
        "--flow-method",
        type=click.Choice(["dis", "farneback"]),
        default=_FLOW.method,
        show_default=True,
        help="OpenCV DIS optical flow (default) or Farneback.",
    ),
    click.option(
        "--dis-preset",
        type=click.Choice(["ultrafast", "fast", "medium"]),
        default=_FLOW.dis_preset,
        show_default=True,
        help="DIS preset.",
    ),
]

_consistency_options = [
    _option(
        "--occlusion-relative",
        _CHECK.relative,
        NON_NEGATIVE_FLOAT,
        "Occluded where |w + w^|^2 > this (|w|^2 + |w^|^2) + --occlusion-absolute (Sundaram et al. 2010).",
    ),
    click.option("--occlusion-absolute", default=_CHECK.absolute, show_default=True, type=NON_NEGATIVE_FLOAT),
    _option(
        "--boundary-relative",
        _CHECK.boundary_relative,
        NON_NEGATIVE_FLOAT,
        "Motion boundary where |grad u|^2 + |grad v|^2 > this |w|^2 + --boundary-absolute.",
    ),
    click.option("--boundary-absolute", default=_CHECK.boundary_absolute, show_default=True, type=NON_NEGATIVE_FLOAT),
    _option(
        "--boundary-noise",
        _CHECK.boundary_noise,
        NON_NEGATIVE_FLOAT,
        "--boundary-absolute is raised to this times the frame's median flow-gradient energy (0: off).",
    ),
    click.option("--no-motion-boundaries", is_flag=True, help="Holes from the consistency check only."),
    click.option(
        "--out-of-frame-holes",
        is_flag=True,
        help="Pixels whose flow leaves the frame become holes (default: valid; they are not occluded by the scene).",
    ),
    _option(
        "--min-area",
        _RAW.min_component_area,
        NON_NEGATIVE,
        "Hole components smaller than this many px per 512x512 px of frame are dropped.",
    ),
]


def _bin_list(ctx, param, value):
    """Click callback: comma-separated bin labels, each one of the six; None for all."""
    if value is None:
        return None
    labels = [bin_label(i) for i in range(len(BINS))]
    chosen = _csv_list(value)
    if not chosen:
        raise click.BadParameter(f"{value!r} names no bin: give e.g. 0.3-0.4,0.4-0.5 or leave --bins out for all")
    unknown = [b for b in chosen if b not in labels]
    if unknown:
        raise click.BadParameter(f"unknown bin {unknown[0]!r}: bins are {', '.join(labels)}")
    return chosen


def _shard(ctx, param, value):
    """Click callback: 'I/N' with 1 <= I <= N -> (I, N)."""
    try:
        index, count = (int(part) for part in value.split("/"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not I/N, e.g. 3/8") from None
    if not 1 <= index <= count:
        raise click.BadParameter(f"{value!r}: the shard I of I/N runs from 1 to N")
    return index, count


def _weights_option(name: str, what: str, metric: str):
    """An option naming a weights file; without it the metric is not computed."""
    return click.option(name, type=click.Path(), default=None, help=f"{what}; without it {metric} not computed.")


def _mask_reading_options(function):
    function = click.option(
        "--mostly-hole",
        is_flag=True,
        help="Accept masks that are mostly hole (e.g. super-resolution lattices, large dilations) instead of "
        "stopping, as pconvkit otherwise does where masks look inverted.",
    )(function)
    return click.option(
        "--mask-threshold",
        type=FiniteFloatRange(0, 1, min_open=True),
        default=None,
        help="Binarise non-binary mask files: values >= this x the file type's maximum are white. Without it such "
        "files are refused.",
    )(function)


def _apply(options):
    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function

    return decorate


def _flow_settings(options) -> FlowSettings:
    return FlowSettings(
        frame_gaps=_csv_list(options["frame_gaps"], int),
        frame_stride=options["frame_stride"],
        max_side=options["max_side"],
        method=options["flow_method"],
        dis_preset=options["dis_preset"],
    )


@maskgen.command("flow")
@click.option("--video", "videos", multiple=True, type=click.Path(), help="A video file (repeatable).")
@click.option("--frames", "frames", multiple=True, type=click.Path(), help="A folder of frames (repeatable).")
@click.option("--out", required=True, type=click.Path(), help="Flow folder to write (VIDEO/forward_I_J.flo ...).")
@click.option("--format", "suffix", type=click.Choice(["flo", "png", "pfm", "npy"]), default="flo", show_default=True)
@_apply(_flow_options)
def maskgen_flow(videos, frames, out, suffix, **options):
    """Compute forward and backward flow of videos and save them as a flow folder for --flow-dir."""
    from pconvkit.maskgen.flowcompute import write_flow_folder

    click.echo(f"flows in {write_flow_folder(list(videos) + list(frames), out, suffix, _flow_settings(options))}")


@maskgen.command("build")
@click.option(
    "--flow-dir",
    type=click.Path(),
    help="Flow folder: VIDEO/forward_I_J.EXT and VIDEO/backward_J_I.EXT, "
    "EXT in .flo (Middlebury), .png (KITTI 16-bit), .pfm, .npy.",
)
@click.option("--video", "videos", multiple=True, type=click.Path(), help="A video file (repeatable).")
@click.option("--frames", "frames", multiple=True, type=click.Path(), help="A folder of frames (repeatable).")
@click.option("--out", default="masks", show_default=True, type=click.Path(), help="Output folder.")
@click.option(
    "--preset",
    type=click.Choice(sorted(PRESETS)),
    default=None,
    help="paper: the paper's counts (the default). sample: the small build on the opencv-doc sample "
    "videos used by `make demo` (consecutive frames, every 2nd frame, every raw mask kept, 25 per bin, "
    "Megamind as the test video). With no inputs, the sample videos are used with this preset.",
)
@click.option("--train-count", type=NON_NEGATIVE, default=None, help="Raw training masks (paper: 55,116; 0 = all).")
@click.option("--test-count", type=NON_NEGATIVE, default=None, help="Raw testing masks (paper: 24,866; 0 = all).")
@click.option(
    "--test-videos",
    default=None,
    help="Comma-separated video names for the test split "
    "(default: ~31 %% of the videos by a hash of their names, as 24,866 of 79,982 in the paper).",
)
@click.option("--per-bin", type=POSITIVE, default=None, help="Masks per (bin, border category) cell (paper: 1,000).")
@click.option(
    "--size", default=_TEST.size, show_default=True, type=POSITIVE, help="Side of the test masks (paper: 512)."
)
@_option(
    "--border-margin",
    _TEST.margin,
    NON_NEGATIVE,
    "N masks have no hole pixel within this many px of the border (paper: 50).",
)
@click.option(
    "--hole-white", is_flag=True, help="Write white = hole (NVIDIA's files). Default: white = valid (the paper's M)."
)
@click.option("--seed", default=_TEST.seed, show_default=True, type=NON_NEGATIVE)
@_option(
    "--max-tries",
    _TEST.max_tries,
    POSITIVE,
    "Candidate (source, angle, crop) draws per mask before its bin is declared impossible.",
)
@click.option(
    "--workers", default=1, show_default=True, type=POSITIVE, help="Processes; the output does not depend on it."
)
@click.option(
    "--footprint",
    type=click.Choice(FOOTPRINTS),
    default=_TEST.footprint,
    show_default=True,
    help="Shape of the dilation: an axis-aligned square (as NVIDIA's masks show) or a disk.",
)
@_apply(_flow_options + _consistency_options)
@click.option(
    "--family",
    type=click.Choice(["video", "rect", "strokes-thin", "strokes-medium", "strokes-thick"]),
    default="video",
    show_default=True,
    help="video: occlusions from flow (Section 4.1). rect and strokes-*: other families binned into the "
    "same 12 cells (no video needed).",
)
def maskgen_build(
    flow_dir,
    videos,
    frames,
    out,
    preset,
    size,
    border_margin,
    hole_white,
    seed,
    max_tries,
    workers,
    footprint,
    family,
    **options,
):
    """Raw training/testing pools and the binned 12,000-mask test benchmark with its manifest (or, with
    --family, a test set of rectangles or brush strokes binned the same way)."""
    from pconvkit.files import ensure_writable_dir
    from pconvkit.maskgen.build import build_mask_set

    if family != "video":
        from pconvkit.maskgen.families import FamilySettings, build_family_set

        ensure_writable_dir(out)
        per_bin = options["per_bin"] or PRESETS[preset or "paper"]["per_bin"]
        manifest = build_family_set(out, FamilySettings(family, per_bin, size, border_margin, seed, hole_white))
        click.echo(f"test set: {12 * per_bin} {family} masks, manifest {manifest}")
        return

    ctx = click.get_current_context()
    explicit = {
        key: ctx.params[key]
        for key in PRESETS["paper"]
        if ctx.get_parameter_source(key).name in ("COMMANDLINE", "ENVIRONMENT")
    }
    if "frame_gaps" in explicit:
        explicit["frame_gaps"] = _csv_list(explicit["frame_gaps"], int)
    if "test_videos" in explicit:
        explicit["test_videos"] = _csv_list(explicit["test_videos"])
    ensure_writable_dir(out)
    thresholds = ConsistencyThresholds(
        options["occlusion_relative"],
        options["occlusion_absolute"],
        options["boundary_relative"],
        options["boundary_absolute"],
        not options["no_motion_boundaries"],
        options["out_of_frame_holes"],
        options["boundary_noise"],
    )
    raw_settings = RawMaskSettings(
        thresholds=thresholds, min_component_area=options["min_area"], flow=_flow_settings(options)
    )
    test_settings = BenchmarkSettings(
        size=size, margin=border_margin, seed=seed, hole_white=hole_white, max_tries=max_tries, footprint=footprint
    )
    pools, manifest = build_mask_set(
        out, videos, frames, flow_dir, preset, explicit, raw_settings, test_settings, workers
    )
    click.echo(f"raw pools: {len(pools['train'])} training, {len(pools['test'])} testing masks in {Path(out) / 'raw'}")
    click.echo(f"test set: {len(read_manifest(manifest))} masks, manifest {manifest}")


@maskgen.command("classify")
@click.argument("folder", type=click.Path())
@click.option("--hole-white", is_flag=True, help="The folder's masks are white = hole (NVIDIA's files).")
@click.option("--border-margin", default=50, show_default=True, type=NON_NEGATIVE)
def maskgen_classify(folder, hole_white, border_margin):
    """Print the bin and border category of every mask in FOLDER, measured from its pixels."""
    from pconvkit.files import csv_text
    from pconvkit.maskgen.survey import classify_folder

    rows = [
        dict(row, hole_ratio=f"{row['hole_ratio']:.6f}") for row in classify_folder(folder, hole_white, border_margin)
    ]
    click.echo(csv_text(rows, ["path", "category", "bin", "hole_ratio", "border_distance"]), nl=False)


@maskgen.command("stats")
@click.argument("folder", type=click.Path())
@click.option("--hole-white", is_flag=True, help="The folder's masks are white = hole.")
def maskgen_stats(folder, hole_white):
    """Per-category counts and means: hole ratio, components, compactness, band width, centre line."""
    from pconvkit.maskgen.survey import folder_statistics

    click.echo(folder_statistics(folder, hole_white).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


@maskgen.command("compare")
@click.argument("first", type=click.Path())
@click.argument("second", type=click.Path())
@click.option("--first-hole-white", is_flag=True, help="FIRST is a plain folder of white = hole masks.")
@click.option("--second-hole-white", is_flag=True, help="SECOND is a plain folder of white = hole masks (NVIDIA's).")
@click.option("--out", type=click.Path(), default=None, help="Folder for compare.csv and compare.png.")
def maskgen_compare(first, second, first_hole_white, second_hole_white, out):
    """Two mask sets side by side per cell: counts, hole ratios, components, compactness, the largest
    component's share, band width and centre line; relative differences, one line per cell, and a picture."""
    from pconvkit.files import ensure_writable_dir, write_text_atomic
    from pconvkit.maskgen.survey import compare_folders, comparison_lines, comparison_picture

    table = compare_folders(first, second, first_hole_white, second_hole_white)
    names = (Path(first).name, Path(second).name)
    for line in comparison_lines(table, names):
        click.echo(line)
    if out:
        folder = ensure_writable_dir(out)
        write_text_atomic(folder / "compare.csv", table.to_csv(index=False))
        click.echo(str(comparison_picture(table, folder / "compare.png", names)))


@maskgen.command("sheet")
@click.argument("folder", type=click.Path())
@click.option(
    "--out", default=None, type=click.Path(), help="Where to write sheet_N.png and sheet_B.png (default FOLDER)."
)
@click.option("--hole-white", is_flag=True, help="The folder's masks are white = hole.")
def maskgen_sheet(folder, out, hole_white):
    """Contact sheets of masks, one PNG per border category, one block per bin."""
    from pconvkit.maskgen.survey import contact_sheets

    for path in contact_sheets(folder, out or folder, hole_white):
        click.echo(str(path))


@maskgen.command("import-nvidia")
@click.argument("source", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Output folder (OUT/test/... and manifest.csv).")
def maskgen_import_nvidia(source, out):
    """Read NVIDIA's released masks (white = hole) into our layout, re-measuring every mask."""
    from pconvkit.maskgen.survey import import_nvidia

    click.echo(f"manifest {import_nvidia(source, out)}")


# -------------------------------------------------------------------------------------------- benchmark


@click.group(cls=_Group)
def benchmark():
    """Inpainting methods x images x masks -> l1, PSNR, SSIM, IS per category (Table 1, Section 4.3)."""


@benchmark.group("data", cls=_Group)
def benchmark_data():
    """The sample data: Debian's opencv-doc examples and scikit-image's photos."""


@benchmark_data.command("fetch")
def benchmark_data_fetch():
    """Put the sample data into $PCONVKIT_CACHE (default ~/.cache/pconvkit). Does nothing the second time."""
    from pconvkit import sampledata

    sampledata.fetch(log=click.echo)


@benchmark_data.command("path")
@click.argument("what", type=click.Choice(["cache", "train-photos", "test-photos", "videos"]))
def benchmark_data_path(what):
    """Print where a part of the sample data lies."""
    from pconvkit import sampledata

    paths = {
        "cache": sampledata.cache_dir,
        "train-photos": lambda: sampledata.photos_dir("train"),
        "test-photos": lambda: sampledata.photos_dir("test"),
        "videos": sampledata.opencv_data_dir,
    }
    click.echo(str(paths[what]()))


@benchmark.command("run")
@click.option(
    "--methods",
    "--model",
    "methods",
    default="pconv,conv,patchmatch,telea,ns,biharmonic,mean",
    show_default=True,
    help="Comma-separated method names, or module:function for your own.",
)
@click.option("--images", type=click.Path(), default=None, help="Image folder (default: the held-out sample photos).")
@click.option(
    "--masks",
    type=click.Path(),
    default="masks",
    show_default=True,
    help="A maskgen output folder (its manifest) or any folder of masks.",
)
@click.option("--hole-white", is_flag=True, help="A plain mask folder is white = hole.")
@_mask_reading_options
@click.option("--split", default="all", show_default=True, type=click.Choice(["N", "B", "all"]), help="N, B or all.")
@click.option(
    "--bins", default=None, callback=_bin_list, help="Comma-separated bins, e.g. 0.3-0.4,0.4-0.5 (default: all six)."
)
@click.option("--limit", type=POSITIVE, default=None, help="At most this many masks per cell.")
@click.option("--out", default="results", show_default=True, type=click.Path())
@_option("--size", 512, POSITIVE, "Images are centre-cropped and resized to this (paper: 512).")
@click.option("--seed", default=0, show_default=True, type=NON_NEGATIVE, help="Seed of the mask-image pairing.")
@click.option("--workers", default=1, show_default=True, type=POSITIVE, help="Processes for the CPU methods.")
@click.option("--batch-size", default=8, show_default=True, type=POSITIVE, help="Batch of the neural methods.")
@click.option("--checkpoint", type=click.Path(), default=None, help="PConv checkpoint (default: the bundled model).")
@click.option("--conv-checkpoint", type=click.Path(), default=None, help="Conv baseline checkpoint.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@_weights_option("--inception-weights", "torchvision inception_v3 state-dict file", "the Inception score is")
@_weights_option(
    "--fid-weights",
    "the TF-Inception port's weights (pt_inception-2015-12-05-6726825d.pth or torch-fidelity's "
    "weights-inception-2015-12-05-6726825d.pth)",
    "FID and KID are",
)
@_weights_option("--lpips-weights", "a torchvision AlexNet or VGG16 ImageNet state dict, LPIPS's backbone", "LPIPS is")
@click.option(
    "--shard",
    default="1/1",
    show_default=True,
    callback=_shard,
    help="I/N: run the I-th of N deterministic slices of the pairs into OUT/results-shard-I-of-N.csv "
    "(join them with `benchmark merge`).",
)
def benchmark_run(
    methods,
    images,
    masks,
    hole_white,
    mask_threshold,
    mostly_hole,
    split,
    bins,
    limit,
    out,
    size,
    seed,
    workers,
    batch_size,
    checkpoint,
    conv_checkpoint,
    device,
    inception_weights,
    fid_weights,
    lpips_weights,
    shard,
):
    """Run methods on image/mask pairs; results go to OUT/results.csv as they are computed (resumable)."""
    from pconvkit import sampledata
    from pconvkit.benchmark.data import check_mask_sizes, load_images, load_masks, select_masks
    from pconvkit.benchmark.methods import check_method_name
    from pconvkit.benchmark.run import MetricWeights, run_benchmark
    from pconvkit.files import ensure_writable_dir

    methods = tuple(dict.fromkeys(_csv_list(methods)))  # a method named twice runs once
    if not methods:
        raise UserError("--methods is empty: name at least one method")
    for name in methods:
        check_method_name(name)
    if images is None:
        sampledata.require_sample_data()
        images = sampledata.photos_dir("test")
    if not Path(masks).exists():
        raise UserError(f"mask folder not found: {masks} (build one with `maskgen build`)")
    for what, path in (("Inception-v3", inception_weights), ("FID Inception", fid_weights), ("LPIPS", lpips_weights)):
        if path and not Path(path).is_file():
            raise UserError(f"{what} weights not found: {path}")
    chosen = select_masks(
        load_masks(masks, hole_white, threshold=mask_threshold, mostly_hole=mostly_hole), split, bins, limit
    )
    check_mask_sizes(chosen, size)
    loaded = load_images(images, size)
    ensure_writable_dir(out)
    options = {
        "pconv": dict(checkpoint=checkpoint, device=device),
        "conv": dict(checkpoint=conv_checkpoint, device=device),
    }
    if len(loaded) < len(chosen):
        click.echo(
            f"{len(loaded)} images for {len(chosen)} masks: each image is used about "
            f"{len(chosen) / len(loaded):.1f} times, dealt in random permutations"
        )
    path = run_benchmark(
        methods,
        loaded,
        chosen,
        out,
        seed,
        workers,
        batch_size,
        options,
        MetricWeights(inception_weights, fid_weights, lpips_weights),
        log=click.echo,
        shard=shard,
    )
    for option, value, metrics in (
        ("--inception-weights", inception_weights, "Inception score"),
        ("--fid-weights", fid_weights, "FID and KID"),
        ("--lpips-weights", lpips_weights, "LPIPS"),
    ):
        if not value:
            click.echo(f"{metrics} not computed: no {option} (their networks' weights cannot be downloaded here)")
    click.echo(f"results in {path}")


@benchmark.command("merge")
@click.argument("folders", nargs=-1, required=True, type=click.Path())
@click.option(
    "--out", required=True, type=click.Path(), help="Folder for the merged results.csv (may be a shard folder)."
)
def benchmark_merge(folders, out):
    """Join the shard files (results-shard-I-of-N.csv) of one run into OUT/results.csv."""
    from pconvkit.benchmark.results import merge_shards

    click.echo(str(merge_shards(folders, out)))


def _run_images(images, results):
    """The images of a run at its size (its masks' side): --images, or the held-out sample photos."""
    from pconvkit import sampledata
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.results import read_pairing
    from pconvkit.files import read_mask

    pairs = read_pairing(results)
    if not pairs:
        raise UserError(f"{results} has an empty pairing")
    if images is None:
        sampledata.require_sample_data()
        images = sampledata.photos_dir("test")
    first = pairs[0][0]
    return load_images(images, read_mask(first.path, first.hole_white, first.threshold).shape[0])


@benchmark.command("export-pairs")
@click.argument("results", type=click.Path())
@_option(
    "--layout",
    "plain",
    click.Choice(["lama", "mmagic", "plain"]),
    "lama: NAME.png + NAME_mask001.png, white = hole; mmagic: images/, masks/ (white = hole), pairs.txt; "
    "plain: images/, masks/ (white = valid).",
)
@click.option("--out", required=True, type=click.Path(), help="Folder to write the pairs into.")
@click.option("--images", type=click.Path(), default=None, help="Image folder of the run (default: held-out photos).")
def benchmark_export_pairs(results, layout, out, images):
    """Write the exact inputs of a run's pairs for a method that runs in another tool."""
    from pconvkit.benchmark.external import export_pairs

    click.echo(str(export_pairs(results, _run_images(images, results), layout, out)))


@benchmark.command("score")
@click.argument("results", type=click.Path())
@click.option("--method", required=True, help="The name its rows get (GL and GntIpt fill the paper's rows).")
@click.option(
    "--outputs", required=True, type=click.Path(), help="Folder of outputs named NAME.png or NAME_mask001.png."
)
@click.option("--images", type=click.Path(), default=None, help="Image folder of the run (default: held-out photos).")
@_weights_option("--inception-weights", "torchvision inception_v3 state-dict file", "the Inception score is")
@_weights_option("--fid-weights", "the TF-Inception port's weights (as for `benchmark run`)", "FID and KID are")
@_weights_option("--lpips-weights", "a torchvision AlexNet or VGG16 state dict, LPIPS's backbone", "LPIPS is")
def benchmark_score(results, method, outputs, images, inception_weights, fid_weights, lpips_weights):
    """Score outputs made by any tool on a run's exported pairs, as rows of METHOD in its results."""
    from pconvkit.benchmark.external import score_outputs
    from pconvkit.benchmark.run import MetricWeights

    weights = MetricWeights(inception_weights, fid_weights, lpips_weights)
    click.echo(str(score_outputs(results, _run_images(images, results), method, outputs, click.echo, weights)))


@benchmark.command("report")
@click.argument("results", type=click.Path())
@click.option("--out", required=True, type=click.Path(), help="Folder for index.html and its pictures.")
@click.option("--images", type=click.Path(), default=None, help="Image folder of the run (default: held-out photos).")
@click.option("--checkpoint", type=click.Path(), default=None)
@click.option("--conv-checkpoint", type=click.Path(), default=None)
def benchmark_report(results, out, images, checkpoint, conv_checkpoint):
    """One HTML page of a run: Table 1 with intervals, plots against hole size, comparison pictures,
    worst pairs, timings and the protocol."""
    from pconvkit.benchmark.report import require_matplotlib, write_report

    require_matplotlib()
    options = {"pconv": dict(checkpoint=checkpoint), "conv": dict(checkpoint=conv_checkpoint)}
    click.echo(str(write_report(results, _run_images(images, results), out, options, log=click.echo)))


@benchmark.command("sweep")
@click.option(
    "--dilations", default="0,5,15,35,55,95", show_default=True, help="Hole dilations in px (Fig. 10 of the paper)."
)
@click.option("--masks", type=click.Path(), default="masks", show_default=True, help="A maskgen output or mask folder.")
@click.option("--hole-white", is_flag=True, help="A plain mask folder is white = hole.")
@click.option("--images", type=click.Path(), default=None, help="Image folder (default: the held-out sample photos).")
@click.option("--methods", default="pconv,telea,ns", show_default=True)
@click.option("--count", default=10, show_default=True, type=POSITIVE, help="Masks to dilate (fewest holes first).")
@click.option("--out", default="sweep", show_default=True, type=click.Path())
@click.option("--size", default=512, show_default=True, type=POSITIVE)
@click.option("--seed", default=0, show_default=True, type=NON_NEGATIVE)
@click.option("--workers", default=1, show_default=True, type=POSITIVE)
@click.option("--shard", default="1/1", show_default=True, callback=_shard, help="I/N, as for `benchmark run`.")
def benchmark_sweep(dilations, masks, hole_white, images, methods, count, out, size, seed, workers, shard):
    """The dilation sweep of Fig. 10: the same pairs with the holes dilated by each amount; a table,
    plots of l1, PSNR and SSIM against dilation, and a Fig. 10-like picture."""
    from pconvkit import sampledata
    from pconvkit.benchmark.data import load_images, load_masks
    from pconvkit.benchmark.methods import check_method_name
    from pconvkit.benchmark.report import require_matplotlib
    from pconvkit.benchmark.sweep import run_sweep, write_outputs

    try:
        radii = tuple(dict.fromkeys(int(v) for v in _csv_list(dilations)))
    except ValueError:
        radii = ()
    if not radii or min(radii) < 0:
        raise UserError(f"--dilations {dilations!r}: give non-negative whole numbers of pixels, e.g. 0,5,15")
    methods = tuple(dict.fromkeys(_csv_list(methods)))
    for name in methods:
        check_method_name(name)
    require_matplotlib()
    if images is None:
        sampledata.require_sample_data()
        images = sampledata.photos_dir("test")
    loaded = load_images(images, size)
    run_sweep(
        methods, loaded, load_masks(masks, hole_white), out, radii, count, seed, workers, shard=shard, log=click.echo
    )
    if shard != (1, 1):
        click.echo("a shard: `benchmark merge` the shards, then run this command without --shard for the table")
        return
    for path in write_outputs(out, loaded, methods):
        click.echo(str(path))


@benchmark.command("sr")
@click.option(
    "--methods",
    default="pconv,bicubic,lanczos",
    show_default=True,
    help="pconv (a --task sr checkpoint), bicubic, lanczos, or module:function taking (low, factor).",
)
@click.option("--factor", default=4, show_default=True, type=click.IntRange(2, 16))
@click.option("--images", type=click.Path(), default=None, help="Image folder (default: the held-out sample photos).")
@click.option("--size", default=512, show_default=True, type=POSITIVE, help="Central square resized to this first.")
@click.option("--checkpoint", type=click.Path(), default=None, help="Default: the bundled x4 model.")
@click.option("--out", default="sr", show_default=True, type=click.Path())
def benchmark_sr(methods, factor, images, size, checkpoint, out):
    """Super-resolution (Section 5.2): the SR network against bicubic and Lanczos, PSNR and SSIM on Y
    and RGB, on lattice-sampled and area-downscaled inputs; a table and a comparison picture."""
    from pconvkit import sampledata
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.superres import run_sr_benchmark
    from pconvkit.files import ensure_writable_dir

    names = tuple(dict.fromkeys(_csv_list(methods)))
    if not names:
        raise UserError("--methods is empty")
    if images is None:
        sampledata.require_sample_data()
        images = sampledata.photos_dir("test")
    ensure_writable_dir(out)
    path = run_sr_benchmark(names, load_images(images, size), factor, out, checkpoint, log=click.echo)
    click.echo(Path(path).read_text(), nl=False)


@benchmark.group("study", cls=_Group)
def benchmark_study():
    """The paper's user study (Section 4.4, Fig. 9): pairwise A/B trials in a browser, a tally."""


@benchmark_study.command("create")
@click.argument("results", type=click.Path())
@click.option("--design", type=click.Choice(["unlimited", "limited"]), default="unlimited", show_default=True)
@click.option("--methods", default="pconv,patchmatch,telea", show_default=True)
@click.option("--per-method", default=300, show_default=True, type=POSITIVE, help="Inputs per method (paper: 300).")
@click.option("--repeats", default=10, show_default=True, type=POSITIVE, help="Answers per trial (paper: 10).")
@click.option(
    "--times",
    default="250,1000,4000",
    show_default=True,
    callback=_positive_int_list,
    help="Display durations in ms of the limited design.",
)
@click.option("--seed", default=0, show_default=True, type=NON_NEGATIVE)
@click.option("--images", type=click.Path(), default=None, help="Image folder of the run (default: held-out photos).")
@click.option("--out", required=True, type=click.Path())
def benchmark_study_create(results, design, methods, per_method, repeats, times, seed, images, out):
    """Draw the trials from a run's pairs and render their images into a study folder."""
    from pconvkit.benchmark.methods import check_method_name
    from pconvkit.benchmark.study import create_study

    names = tuple(dict.fromkeys(_csv_list(methods)))
    for name in names:
        check_method_name(name)
    path = create_study(
        results, _run_images(images, results), design, names, out, per_method, repeats, _csv_list(times, int), seed
    )
    click.echo(str(path))


@benchmark_study.command("serve")
@click.argument("study", type=click.Path())
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--host", default="127.0.0.1", show_default=True)
def benchmark_study_serve(study, port, host):
    """Serve the study's pages (participants at /, progress at /admin) until interrupted."""
    from pconvkit.benchmark.study_server import serve

    serve(study, host, port)


@benchmark_study.command("export")
@click.argument("study", type=click.Path())
@click.option("--out", required=True, type=click.Path())
@click.option("--base-url", required=True, help="Where the exported images/ folder will be served from.")
def benchmark_study_export(study, out, base_url):
    """The trials as an MTurk HIT layout (hit.html) and its input CSV, images by token names."""
    from pconvkit.benchmark.study import export_mturk

    click.echo(str(export_mturk(study, out, base_url)))


@benchmark_study.command("import")
@click.argument("study", type=click.Path())
@click.argument("batch", type=click.Path())
def benchmark_study_import(study, batch):
    """Bring MTurk's batch-results CSV into the study's answers."""
    from pconvkit.benchmark.study import import_mturk

    click.echo(f"{import_mturk(study, batch)} answers added")


@benchmark_study.command("tally")
@click.argument("study", type=click.Path())
@click.option("--out", required=True, type=click.Path())
def benchmark_study_tally(study, out):
    """Preference rates with 95 % intervals (bootstrap over participants and images), CSV, LaTeX and a plot."""
    from pconvkit.benchmark.report import require_matplotlib
    from pconvkit.benchmark.study import write_tally
    from pconvkit.files import ensure_writable_dir

    require_matplotlib()
    for path in write_tally(study, ensure_writable_dir(out)):
        click.echo(str(path))


@benchmark.command("table")
@click.argument("results", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["csv", "latex", "markdown"]), default="markdown", show_default=True)
@click.option("--with-paper", is_flag=True, help="Add the paper's Table 1 rows for l1, PSNR and SSIM.")
@click.option("--out", type=click.Path(), default=None, help="Write to this file instead of printing.")
@click.option("--against", default=None, help="Add each method's paired difference to this method, with its interval.")
def benchmark_table(results, fmt, with_paper, out, against):
    """Table 1 from a results folder or file: rows metric x method, columns 6 bins x N/B; each cell its
    mean and 95 % interval (bootstrap over photos); best in bold, ties bold together."""
    from pconvkit.benchmark.tables import FORMATS, summarise, table1
    from pconvkit.files import write_text_atomic

    summary = summarise(results, against)
    text = FORMATS[fmt](table1(summary, with_paper), summary)
    if out:
        write_text_atomic(out, text)
        click.echo(out)
    else:
        click.echo(text, nl=False)


@benchmark.command("timing")
@click.argument("results", type=click.Path())
def benchmark_timing(results):
    """Seconds per image of each method and the device it ran on."""
    from pconvkit.benchmark.tables import timing

    click.echo(timing(results).to_string(index=False))


@benchmark.command("grid")
@click.argument("results", type=click.Path())
@click.option("--methods", default="pconv,conv,patchmatch,telea,ns", show_default=True)
@click.option(
    "--masks", "mask_ids", default=None, help="Comma-separated mask ids of the pairing (default: one per bin)."
)
@click.option(
    "--out", type=click.Path(), default=None, help="Picture path, format from its suffix (default RESULTS/grid.png)."
)
@click.option("--images", type=click.Path(), default=None, help="Image folder of the run (default: held-out photos).")
@click.option("--size", default=512, show_default=True, type=POSITIVE)
@click.option("--checkpoint", type=click.Path(), default=None)
@click.option("--conv-checkpoint", type=click.Path(), default=None)
def benchmark_grid(results, methods, mask_ids, out, images, size, checkpoint, conv_checkpoint):
    """Comparison picture (as in Figure 5 of the paper) for pairs of a run: input, methods, truth."""
    from pconvkit import sampledata
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.grid import comparison_grid, grid_pairs
    from pconvkit.files import image_format

    if out:
        image_format(out)
    pairs = grid_pairs(results, _csv_list(mask_ids) if mask_ids else None)
    if images is None:
        sampledata.require_sample_data()
        images = sampledata.photos_dir("test")
    loaded = load_images(images, size)
    options = {"pconv": dict(checkpoint=checkpoint), "conv": dict(checkpoint=conv_checkpoint)}
    path = comparison_grid(pairs, loaded, _csv_list(methods), out or Path(results) / "grid.png", options)
    click.echo(str(path))


# ------------------------------------------------------------------------------------------------ pconv


@click.group(cls=_Group)
def pconv():
    """Partial-convolution U-Net: train, inpaint one image, convert checkpoints (Sections 3-4.2)."""


_TRAIN = TrainConfig(images="", masks="", out="")
_UNET = UNetConfig()


@pconv.command("train")
@click.option("--images", required=True, type=click.Path(), help="Training images (random crops are taken).")
@click.option(
    "--masks",
    default=None,
    type=click.Path(),
    help="A maskgen output folder (raw training pool, augmented on the fly) or a folder of mask PNGs "
    "(not used with --task sr).",
)
@click.option("--out", required=True, type=click.Path(), help="Folder for last.pt, loss_log.csv and sample grids.")
@click.option("--size", default=_TRAIN.size, show_default=True, type=POSITIVE, help="Crop side (paper: 512).")
@click.option("--batch-size", default=_TRAIN.batch_size, show_default=True, type=POSITIVE, help="Paper: 6.")
@_option("--steps", _TRAIN.steps, POSITIVE, "Total steps to reach, counted across phases.")
@click.option("--finetune", is_flag=True, help="Phase 2: lr 5e-5, encoder BatchNorm frozen (needs --resume).")
@click.option(
    "--lr", type=POSITIVE_FLOAT, default=None, help="Default: 2e-4 (phase 1), 5e-5 (--finetune), as in Section 4.2."
)
@click.option("--resume", type=click.Path(), default=None, help="Continue from this checkpoint.")
@click.option(
    "--layers", default=_UNET.layers, show_default=True, type=click.IntRange(2, 8), help="Encoder depth (Table 2: 8)."
)
@click.option(
    "--width", default=_UNET.width, show_default=True, type=POSITIVE_FLOAT, help="Channel multiplier (Table 2: 1.0)."
)
@click.option("--plain", is_flag=True, help="Train the 'Conv' baseline: the same U-Net with plain convolutions.")
@click.option(
    "--vgg-weights",
    type=click.Path(),
    default=None,
    help="torchvision vgg16 (the paper's) or vgg19 ImageNet state dict, full or cut after pool3, for the perceptual "
    "and style terms (the checkpoint records which); without it they are off.",
)
@click.option("--device", default="auto", show_default=True)
@click.option("--no-amp", is_flag=True, help="No mixed precision on CUDA.")
@click.option("--seed", default=_TRAIN.seed, show_default=True, type=NON_NEGATIVE)
@click.option("--checkpoint-every", default=_TRAIN.checkpoint_every, show_default=True, type=POSITIVE)
@click.option("--sample-every", default=_TRAIN.sample_every, show_default=True, type=POSITIVE)
@click.option("--hole-white", is_flag=True, help="A plain mask folder is white = hole.")
@_option(
    "--scale-jitter",
    _TRAIN.scale_jitter,
    FiniteFloatRange(min=1.0),
    "Crops from the image resized to a random short side in [size, this x size]; 1 = native resolution (paper).",
)
@_option(
    "--color-jitter",
    _TRAIN.color_jitter,
    FiniteFloatRange(0, 1),
    "Random hue rotation (+-180 x this degrees) and saturation scaling (1 +- this); 0 = off (paper).",
)
@_option(
    "--workers",
    _TRAIN.workers,
    click.IntRange(min=0),
    "Processes preparing batches ahead (results do not depend on it).",
)
@click.option(
    "--data-pipeline",
    type=click.Choice(["auto", "device", "workers"]),
    default=_TRAIN.data_pipeline,
    show_default=True,
    help="Where batches are made: on the training device as batched torch operations, or on the CPU in --workers "
    "processes; auto: the device where it is a GPU.",
)
@click.option(
    "--max-minutes",
    type=FiniteFloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this much wall time, writing a checkpoint (resume later with --resume).",
)
@click.option(
    "--task",
    type=click.Choice(["inpaint", "sr"]),
    default=_TRAIN.task,
    show_default=True,
    help="sr: super-resolution (Section 5.2), the mask being the lattice of the low-resolution pixels.",
)
@_option("--factor", _TRAIN.factor, click.IntRange(2, 16), "Super-resolution factor K (with --task sr).")
def pconv_train(resume, layers, width, plain, no_amp, max_minutes, **options):
    """Train the PConv U-Net (or the Conv baseline) with the loss of Eq. 7; with --task sr, for
    super-resolution by --factor (Section 5.2)."""
    if options["task"] == "inpaint" and options["masks"] is None:
        raise UserError("--masks is needed to train inpainting (a maskgen output or a folder of masks)")
    from pconvkit.models.checkpoint import read_checkpoint
    from pconvkit.models.train import train

    unet = UNetConfig(layers=layers, width=width, partial=not plain).as_dict()
    if resume:
        unet = read_checkpoint(resume)["unet"]  # the architecture of the checkpoint wins
    if options["size"] % 2 ** unet["layers"]:
        raise UserError(f"--size {options['size']} is not divisible by 2^{unet['layers']}")
    max_seconds = None if max_minutes is None else max_minutes * 60
    config = TrainConfig(**options, amp=not no_amp, unet=unet, max_seconds=max_seconds)
    click.echo(f"checkpoint {train(config, resume, log=click.echo)}")


@pconv.command("inpaint")
@click.argument("image", type=click.Path())
@click.argument("mask", type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(), help="Output image (format from the suffix).")
@click.option("--checkpoint", type=click.Path(), default=None, help="Default: the bundled model.")
@click.option("--hole-white", is_flag=True, help="The mask is white = hole (NVIDIA's files). Default: white = valid.")
@_mask_reading_options
@click.option("--device", default="auto", show_default=True)
@_option(
    "--engine",
    "auto",
    click.Choice(["auto", "onnx", "torch"]),
    "onnx: ONNX Runtime on the CPU, which starts in a fraction of torch's import time (the graph is exported "
    "once per checkpoint and cached); auto: onnx where it is installed, unless --device names a GPU.",
)
def pconv_inpaint(image, mask, out, checkpoint, hole_white, mask_threshold, mostly_hole, device, engine):
    """Fill the holes of IMAGE given by MASK (any size; RGB, grayscale or RGBA)."""
    from pconvkit.files import image_format, read_image, read_mask, write_image
    from pconvkit.maskgen.bins import check_polarity, hole_ratio
    from pconvkit.models.inference import make_inpainter

    image_format(out)
    picture, valid = read_image(image), read_mask(mask, hole_white, mask_threshold)
    if not mostly_hole:
        check_polarity(mask, [hole_ratio(valid)], hole_white)
    if not (valid == 0).any():
        click.echo(f"{mask} has no hole: the output is the input", err=True)
    result = make_inpainter(checkpoint, device, engine)(picture, valid)
    write_image(out, result)
    click.echo(out)


@pconv.command("upscale")
@click.argument("image", type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(), help="Output image (format from the suffix).")
@click.option("--factor", default=4, show_default=True, type=click.IntRange(2, 16))
@click.option("--checkpoint", type=click.Path(), default=None, help="Default: the bundled x4 model.")
@click.option("--device", default="auto", show_default=True)
def pconv_upscale(image, out, factor, checkpoint, device):
    """Super-resolution of IMAGE by --factor with a network trained by `pconv train --task sr`."""
    from pconvkit.files import image_format, read_image, write_image
    from pconvkit.models.superres import load_sr_model, upscale

    image_format(out)
    low = read_image(image, min_size=4)
    write_image(out, upscale(load_sr_model(checkpoint, factor, device), low, factor))
    click.echo(out)


@pconv.command("export-onnx")
@click.option("--checkpoint", type=click.Path(), default=None, help="Default: the bundled model.")
@click.option(
    "-o",
    "--out",
    type=click.Path(),
    default=None,
    help="Write the graph here. Default: into the cache that `pconv inpaint` reads.",
)
def pconv_export_onnx(checkpoint, out):
    """Export a checkpoint's network as an ONNX graph: inputs 'image' (N, 3, H, W) in [0, 1] and
    'mask' (N, 1, H, W), 1 = valid, with H and W multiples of the 'stride' in the graph's metadata;
    output 'output' (N, 3, H, W), not yet composited."""
    from pconvkit.models.onnx_cache import cached_onnx_graph
    from pconvkit.models.onnx_engine import require_onnx_runtime
    from pconvkit.models.onnx_export import export_onnx

    require_onnx_runtime()
    click.echo(export_onnx(checkpoint, out) if out else cached_onnx_graph(checkpoint))


@pconv.command("convert")
@click.argument("source", type=click.Path())
@click.argument("out", type=click.Path())
@click.option(
    "--allow-partial",
    is_flag=True,
    help="Write the checkpoint even where parameters stay unfilled or "
    "source tensors unused (the network is then partly random).",
)
def pconv_convert(source, out, allow_partial):
    """Import a checkpoint of naoto0804/pytorch-inpainting-with-partial-conv (7 layers, 256 px)."""
    from pconvkit.models.convert import convert_naoto0804

    unmapped = convert_naoto0804(source, out, allow_partial)
    for key in unmapped:
        click.echo(f"not mapped: {key}")
    click.echo(f"wrote {out}")
