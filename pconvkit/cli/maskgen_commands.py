"""`maskgen`: the mask pipeline of Section 4.1 (flow -> occlusion -> raw pools -> binned test set)."""

from dataclasses import replace
from pathlib import Path

import click

from pconvkit.cli.options import (
    FINITE_FLOAT,
    NON_NEGATIVE,
    NON_NEGATIVE_FLOAT,
    POSITIVE,
    Group,
    apply,
    csv_list,
    hole_white,
    mostly_hole,
    option,
    out_folder,
    positive_int_list,
    seed,
    side,
    workers,
)
from pconvkit.maskgen.augment import FOOTPRINTS
from pconvkit.maskgen.build import PRESETS, RATIO_DRAWS, SOURCE_WEIGHTS, BenchmarkSettings, preset_values
from pconvkit.maskgen.families import FAMILIES
from pconvkit.maskgen.flowcompute import DIS_PRESETS, FLOW_METHODS, FlowSettings
from pconvkit.maskgen.flowio import FLOW_SUFFIXES
from pconvkit.maskgen.manifest import read_manifest
from pconvkit.maskgen.occlusion import ConsistencyThresholds
from pconvkit.maskgen.pool import RawMaskSettings


@click.group(cls=Group)
def maskgen():
    """Irregular hole masks from video occlusions (Section 4.1 of Liu et al., ECCV 2018)."""


# Defaults come from the library's dataclasses, the one place where the paper's values are stated.
_FLOW = FlowSettings()
_RAW = RawMaskSettings()
_CHECK = ConsistencyThresholds()
_TEST = BenchmarkSettings()

border_margin = option(
    "--border-margin",
    _TEST.margin,
    NON_NEGATIVE,
    "N masks have no hole pixel within this many px of the border (paper: 50).",
)

_video_inputs = [
    click.option("--video", "videos", multiple=True, type=click.Path(), help="A video file (repeatable)."),
    click.option("--frames", "frames", multiple=True, type=click.Path(), help="A folder of frames (repeatable)."),
]

_flow_options = [
    click.option(
        "--frame-gaps",
        default=",".join(map(str, _FLOW.frame_gaps)),
        show_default=True,
        callback=positive_int_list,
        help="Comma-separated frame gaps: each gives pairs (i, i+gap); more gaps, more distinct masks, "
        "but pairs further apart than 1 (the paper's) can turn a moving object into a filled silhouette.",
    ),
    option("--frame-stride", _FLOW.frame_stride, POSITIVE, "Step between first frames of pairs."),
    click.option(
        "--max-side", type=POSITIVE, default=_FLOW.max_side, help="Scale frames down to this longer side before flow."
    ),
    click.option(
        "--short-side",
        type=POSITIVE,
        default=_FLOW.short_side,
        show_default=True,
        help="Scale frames down to this shorter side before flow (never up).",
    ),
    click.option(
        "--flow-method",
        type=click.Choice(FLOW_METHODS),
        default=_FLOW.method,
        show_default=True,
        help="OpenCV DIS optical flow, Farneback, or auto: per clip, Farneback where its camera moves "
        "(maskgen.flowcompute.camera_motion), DIS where it stands still.",
    ),
    click.option(
        "--dis-preset",
        type=click.Choice(list(DIS_PRESETS)),
        default=_FLOW.dis_preset,
        show_default=True,
        help="DIS preset.",
    ),
]

_consistency_options = [
    option(
        "--occlusion-relative",
        _CHECK.relative,
        NON_NEGATIVE_FLOAT,
        "Occluded where |w + w^|^2 > this (|w|^2 + |w^|^2) + --occlusion-absolute (Sundaram et al. 2010).",
    ),
    click.option("--occlusion-absolute", default=_CHECK.absolute, show_default=True, type=NON_NEGATIVE_FLOAT),
    option(
        "--boundary-relative",
        _CHECK.boundary_relative,
        NON_NEGATIVE_FLOAT,
        "Motion boundary where |grad u|^2 + |grad v|^2 > this |w|^2 + --boundary-absolute.",
    ),
    click.option("--boundary-absolute", default=_CHECK.boundary_absolute, show_default=True, type=NON_NEGATIVE_FLOAT),
    option(
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
    option(
        "--min-area",
        _RAW.min_component_area,
        NON_NEGATIVE,
        "Hole components smaller than this many px per 512x512 px of frame are dropped.",
    ),
    option(
        "--cut-correlation",
        _RAW.shots.cut_correlation,
        NON_NEGATIVE_FLOAT,
        "Frame pairs across a step whose thumbnails correlate below this are across a cut and skipped "
        "(0: off; fades, blank and frozen frames are skipped too; see `maskgen.shots`).",
    ),
]


def _flow_settings(options) -> FlowSettings:
    return FlowSettings(
        frame_gaps=csv_list(options["frame_gaps"], int),
        frame_stride=options["frame_stride"],
        max_side=options["max_side"],
        short_side=options["short_side"],
        method=options["flow_method"],
        dis_preset=options["dis_preset"],
    )


@maskgen.command("flow")
@apply(_video_inputs)
@out_folder("Flow folder to write (VIDEO/forward_I_J.flo ...).")
@click.option(
    "--format", "suffix", type=click.Choice([s.lstrip(".") for s in FLOW_SUFFIXES]), default="flo", show_default=True
)
@apply(_flow_options)
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
@apply(_video_inputs)
@out_folder(default="masks")
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
@side(_TEST.size, "Side of the test masks (paper: 512).")
@border_margin
@click.option(
    "--hole-white", is_flag=True, help="Write white = hole (NVIDIA's files). Default: white = valid (the paper's M)."
)
@seed
@option(
    "--max-tries",
    _TEST.max_tries,
    POSITIVE,
    "Candidate (source, angle, crop) draws per mask before its bin is declared impossible.",
)
@workers
@click.option(
    "--footprint",
    type=click.Choice(FOOTPRINTS),
    default=_TEST.footprint,
    show_default=True,
    help="Shape of the dilation: an axis-aligned square (as NVIDIA's masks show) or a disk.",
)
@option(
    "--source-weight",
    _TEST.source_weight,
    click.Choice(SOURCE_WEIGHTS),
    "How a test mask's raw source is drawn: video: each test video equally likely, whatever its length; "
    "mask: each raw mask equally likely (a video weighs as many raw masks as it gave).",
)
@option(
    "--ratio-draw",
    _TEST.ratio_draw,
    click.Choice(RATIO_DRAWS),
    "How a test mask's hole ratio is drawn within its bin: uniform; or nvidia: from the linear density "
    "whose mean is NVIDIA's in-bin mean.",
)
@option(
    "--dilation-law",
    _TEST.dilation_law,
    (FINITE_FLOAT, FINITE_FLOAT),
    "A test mask of drawn hole ratio r is dilated by at most A + B r px (47 0: by any of 5-47 px).",
    metavar="A B",
)
@apply(_flow_options + _consistency_options)
@click.option(
    "--family",
    type=click.Choice(["video", *FAMILIES]),
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
    source_weight,
    ratio_draw,
    dilation_law,
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
        per_bin = preset_values(preset or "paper", {"per_bin": options["per_bin"]})["per_bin"]
        manifest = build_family_set(out, FamilySettings(family, per_bin, size, border_margin, seed, hole_white))
        click.echo(f"test set: {12 * per_bin} {family} masks, manifest {manifest}")
        return

    ctx = click.get_current_context()  # what the user typed overrides the preset; maskgen resolves the rest
    explicit = {
        k: v for k, v in ctx.params.items() if ctx.get_parameter_source(k).name in ("COMMANDLINE", "ENVIRONMENT")
    }
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
        thresholds=thresholds,
        min_component_area=options["min_area"],
        flow=_flow_settings(options),
        shots=replace(_RAW.shots, cut_correlation=options["cut_correlation"]),
    )
    test_settings = BenchmarkSettings(
        size=size,
        margin=border_margin,
        seed=seed,
        hole_white=hole_white,
        max_tries=max_tries,
        footprint=footprint,
        source_weight=source_weight,
        ratio_draw=ratio_draw,
        dilation_law=dilation_law,
    )
    pools, manifest = build_mask_set(
        out, videos, frames, flow_dir, preset, explicit, raw_settings, test_settings, workers
    )
    click.echo(f"raw pools: {len(pools['train'])} training, {len(pools['test'])} testing masks in {Path(out) / 'raw'}")
    click.echo(f"test set: {len(read_manifest(manifest))} masks, manifest {manifest}")


@maskgen.command("classify")
@click.argument("folder", type=click.Path())
@hole_white
@border_margin
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
@hole_white
@click.option(
    "--by-video",
    is_flag=True,
    help="Per source video of a maskgen test set: its masks' figures, against NVIDIA's in the same cells, "
    "and the frame pairs the build skipped.",
)
def maskgen_stats(folder, hole_white, by_video):
    """Per-category counts and means: hole ratio, components, compactness, band width, centre line."""
    from pconvkit.maskgen.survey import folder_statistics, video_statistics

    table = video_statistics(folder) if by_video else folder_statistics(folder, hole_white)
    click.echo(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))


@maskgen.command("compare")
@click.argument("first", type=click.Path())
@click.argument("second", type=click.Path())
@click.option("--first-hole-white", is_flag=True, help="FIRST is a plain folder of white = hole masks.")
@click.option("--second-hole-white", is_flag=True, help="SECOND is a plain folder of white = hole masks (NVIDIA's).")
@out_folder("Folder for compare.csv and compare.png.", required=False)
@mostly_hole
def maskgen_compare(first, second, first_hole_white, second_hole_white, out, mostly_hole):
    """Two mask sets side by side per cell: counts, hole ratios, components, compactness, the largest
    component's share, band width and centre line; relative differences, one line per cell, and a picture."""
    from pconvkit.files import ensure_writable_dir, write_text_atomic
    from pconvkit.maskgen.survey import compare_folders, comparison_lines, comparison_picture

    table = compare_folders(first, second, first_hole_white, second_hole_white, mostly_hole=mostly_hole)
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
@hole_white
def maskgen_sheet(folder, out, hole_white):
    """Contact sheets of masks, one PNG per border category, one block per bin."""
    from pconvkit.maskgen.survey import contact_sheets

    for path in contact_sheets(folder, out or folder, hole_white):
        click.echo(str(path))


@maskgen.command("import-nvidia")
@click.argument("source", type=click.Path())
@out_folder("Output folder (OUT/test/... and manifest.csv).")
def maskgen_import_nvidia(source, out):
    """Read NVIDIA's released masks (white = hole) into our layout, re-measuring every mask."""
    from pconvkit.maskgen.survey import import_nvidia

    click.echo(f"manifest {import_nvidia(source, out)}")
