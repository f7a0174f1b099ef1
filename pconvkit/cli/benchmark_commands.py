"""`benchmark`: methods x images x masks -> Table 1 (Section 4.3), its pictures, shards, outside
tools' outputs, the dilation sweep and super-resolution; the user study is its `study` group."""

from pathlib import Path

import click

from pconvkit.benchmark import render
from pconvkit.cli import options as opt
from pconvkit.cli.inputs import (
    image_folder,
    method_names,
    metric_weights,
    network_options,
    read_masks,
    run_images,
    run_networks,
)
from pconvkit.cli.study_commands import benchmark_study
from pconvkit.errors import UserError

RUN_METHODS = "pconv,conv,patchmatch,telea,ns,biharmonic,mean"  # every built-in inpainting method
PICTURE_METHODS = "pconv,conv,patchmatch,telea,ns"  # what a comparison picture shows by default


@click.group(cls=opt.Group)
def benchmark():
    """Inpainting methods x images x masks -> l1, PSNR, SSIM, IS per category (Table 1, Section 4.3)."""


benchmark.add_command(benchmark_study)


@benchmark.group("data", cls=opt.Group)
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
@opt.methods(RUN_METHODS)
@opt.images
@opt.masks_folder
@opt.apply(opt.MASK_READING)
@opt.option("--split", "all", click.Choice(["N", "B", "all"]), "N, B or all.")
@opt.bins
@click.option("--limit", type=opt.POSITIVE, default=None, help="At most this many masks per cell.")
@opt.out_folder(default="results")
@opt.size
@opt.seed
@opt.workers
@opt.batch_size(8, "Batch of the neural methods.")
@opt.apply(opt.NETWORKS)
@opt.device
@opt.apply(opt.METRIC_WEIGHTS)
@opt.shard
@click.option(
    "--pairs",
    type=click.Path(),
    default=None,
    help="A published pairing, scored as published: a CSV of image,mask[,id] (masks relative to --masks "
    "where given, else to the CSV's folder) or a LaMa-style folder of NAME.png and NAME_mask*.png. "
    "Replaces the seeded pairing; --split, --bins and --limit do not apply.",
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
    pairs,
):
    """Run methods on image/mask pairs; results go to OUT/results.csv as they are computed (resumable)."""
    from pconvkit.benchmark.data import check_mask_sizes, load_images, read_pairs, select_masks
    from pconvkit.benchmark.run import run_benchmark
    from pconvkit.files import ensure_writable_dir

    methods = method_names(methods)
    images = image_folder(images)
    weights = metric_weights(inception_weights, fid_weights, lpips_weights, device)
    published, outside = None, []
    if pairs:
        loaded = load_images(images, size)
        masks_dir = masks if click.get_current_context().get_parameter_source("masks").name == "COMMANDLINE" else None
        published = read_pairs(pairs, loaded, masks_dir, hole_white, mask_threshold, log=click.echo)
        chosen = [mask for mask, _ in published]
    else:
        chosen = select_masks(read_masks(masks, hole_white, mask_threshold, mostly_hole, outside), split, bins, limit)
        check_mask_sizes(chosen, size)
        loaded = load_images(images, size)
    ensure_writable_dir(out)
    if published is None and len(loaded) < len(chosen):
        click.echo(
            f"{len(loaded)} images for {len(chosen)} masks: each image is used about "
            f"{len(chosen) / len(loaded):.1f} times, dealt in random permutations"
        )
    options = network_options(checkpoint, conv_checkpoint, device)
    path = run_benchmark(
        methods,
        loaded,
        chosen,
        out,
        seed,
        workers,
        batch_size,
        options,
        weights,
        log=click.echo,
        shard=shard,
        pairs=published,
        images_dir=images,
        outside_masks=len(outside),
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
    from pconvkit.benchmark.shards import merge_shards

    click.echo(str(merge_shards(folders, out)))


@benchmark.command("upgrade")
@click.argument("results", type=click.Path(exists=True))
def benchmark_upgrade(results):
    """Rewrite a results file written by an earlier pconvkit in today's format (columns added since
    are left not computed), so that runs can append to it again."""
    from pconvkit.benchmark.results import RESULTS_FORMAT, results_path, upgrade_results

    path = results_path(results)
    version = upgrade_results(path)
    click.echo(f"{path}: format {version}" + (" (current)" if version == RESULTS_FORMAT else f" -> {RESULTS_FORMAT}"))


@benchmark.command("export-pairs")
@click.argument("results", type=click.Path())
@opt.option(
    "--layout",
    "plain",
    click.Choice(["lama", "mmagic", "plain"]),
    "lama: NAME.png + NAME_mask001.png, white = hole; mmagic: images/, masks/ (white = hole), pairs.txt; "
    "plain: images/, masks/ (white = valid).",
)
@opt.out_folder("Folder to write the pairs into.")
@opt.images
@click.option(
    "--truth",
    is_flag=True,
    help="Write the ground truths (the exact pixels the run scores against) instead of the inputs: the folder "
    "another evaluator reads, and the input of tools that blank the holes themselves (LaMa, mmagic).",
)
def benchmark_export_pairs(results, layout, out, images, truth):
    """Write the exact inputs of a run's pairs for a method that runs in another tool."""
    from pconvkit.benchmark.external import export_pairs

    click.echo(str(export_pairs(results, run_images(images, results), layout, out, truth)))


@benchmark.command("score")
@click.argument("results", type=click.Path())
@click.option("--method", required=True, help="The name its rows get (GL and GntIpt fill the paper's rows).")
@click.option(
    "--outputs", required=True, type=click.Path(), help="Folder of outputs named NAME.png or NAME_mask001.png."
)
@opt.images
@opt.apply(opt.METRIC_WEIGHTS)
def benchmark_score(results, method, outputs, images, inception_weights, fid_weights, lpips_weights):
    """Score outputs made by any tool on a run's exported pairs, as rows of METHOD in its results."""
    from pconvkit.benchmark.external import score_outputs

    weights = metric_weights(inception_weights, fid_weights, lpips_weights)
    click.echo(str(score_outputs(results, run_images(images, results), method, outputs, click.echo, weights)))


@benchmark.command("report")
@click.argument("results", type=click.Path())
@opt.out_folder("Folder for index.html and its pictures.")
@opt.images
@opt.apply(opt.NETWORKS)
def benchmark_report(results, out, images, checkpoint, conv_checkpoint):
    """One HTML page of a run: Table 1 with intervals, plots against hole size, comparison pictures,
    worst pairs, timings and the protocol."""
    from pconvkit.benchmark.report import require_matplotlib, write_report

    require_matplotlib()
    options = run_networks(results, checkpoint, conv_checkpoint)
    click.echo(str(write_report(results, run_images(images, results), out, options, log=click.echo)))


@benchmark.command("sweep")
@opt.option("--dilations", "0,5,15,35,55,95", help="Hole dilations in px (Fig. 10 of the paper).")
@opt.masks_folder
@opt.apply(opt.MASK_READING)
@opt.images
@opt.methods("pconv,telea,ns")
@opt.option("--count", 10, opt.POSITIVE, "Masks to dilate (fewest holes first).")
@opt.out_folder(default="sweep")
@opt.size
@opt.seed
@opt.workers
@opt.shard
def benchmark_sweep(
    dilations, masks, hole_white, mask_threshold, mostly_hole, images, methods, count, out, size, seed, workers, shard
):
    """The dilation sweep of Fig. 10: the same pairs with the holes dilated by each amount; a table,
    plots of l1, PSNR and SSIM against dilation, and a Fig. 10-like picture."""
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.report import require_matplotlib
    from pconvkit.benchmark.sweep import run_sweep, write_outputs

    try:
        radii = tuple(dict.fromkeys(int(v) for v in opt.csv_list(dilations)))
    except ValueError:
        radii = ()
    if not radii or min(radii) < 0:
        raise UserError(f"--dilations {dilations!r}: give non-negative whole numbers of pixels, e.g. 0,5,15")
    methods = method_names(methods)
    require_matplotlib()
    loaded = load_images(image_folder(images), size)
    chosen = read_masks(masks, hole_white, mask_threshold, mostly_hole)
    run_sweep(methods, loaded, chosen, out, radii, count, seed, workers, shard=shard, log=click.echo)
    if shard != (1, 1):
        click.echo("a shard: `benchmark merge` the shards, then run this command without --shard for the table")
        return
    for path in write_outputs(out, loaded, methods):
        click.echo(str(path))


@benchmark.command("sr")
@opt.methods(
    "pconv,bicubic,lanczos",
    help="pconv (a --task sr checkpoint), bicubic, lanczos, or module:function taking (low, factor).",
)
@opt.factor
@opt.images
@opt.side(help="Central square resized to this first.")
@opt.sr_checkpoint
@opt.out_folder(default="sr")
def benchmark_sr(methods, factor, images, size, checkpoint, out):
    """Super-resolution (Section 5.2): the SR network against bicubic and Lanczos, PSNR and SSIM on Y
    and RGB, on lattice-sampled and area-downscaled inputs; a table and a comparison picture."""
    from pconvkit.benchmark.data import load_images
    from pconvkit.benchmark.superres import run_sr_benchmark
    from pconvkit.files import ensure_writable_dir

    names = opt.unique_names(methods)
    if not names:
        raise UserError("--methods is empty")
    images = image_folder(images)
    ensure_writable_dir(out)
    path = run_sr_benchmark(names, load_images(images, size), factor, out, checkpoint, log=click.echo)
    click.echo(Path(path).read_text(), nl=False)


@benchmark.command("table")
@click.argument("results", type=click.Path())
@opt.table_format()
@click.option("--with-paper", is_flag=True, help="Add the paper's Table 1 rows for l1, PSNR and SSIM.")
@opt.out_text
@click.option("--against", default=None, help="Add each method's paired difference to this method, with its interval.")
@click.option("--total", is_flag=True, help="Add a column of every pair (all bins, N and B together).")
@click.option(
    "--stat",
    type=click.Choice(["mean-ci", "mean-std"]),
    default="mean-ci",
    show_default=True,
    help="Each cell's mean with its 95 % interval, or with the standard deviation over pairs (as many papers print).",
)
@click.option(
    "--bins",
    default="paper",
    show_default=True,
    help="Columns by hole ratio: paper (6 bins (a, b], N and B apart), lama (LaMa's 10 bins [a, b), N and B "
    "together) or comma-separated ratios such as 0,0.2,0.4,0.6 (bins [a, b), the last [a, b]).",
)
@click.option(
    "--categories",
    type=click.Choice(["apart", "together"]),
    default=None,
    help="N and B in columns of their own, or together (default: apart for --bins paper, together otherwise).",
)
@click.option(
    "--ssim-border",
    type=click.Choice(["crop", "include"]),
    default="crop",
    show_default=True,
    help="SSIM over the pixels whose window lies inside the image (the paper, scikit-image), or over every "
    "pixel with zero-padded windows (LaMa, torchmetrics).",
)
def benchmark_table(results, fmt, with_paper, out, against, total, stat, bins, categories, ssim_border):
    """Table 1 from a results folder or file: rows metric x method, columns 6 bins x N/B; each cell its
    mean and 95 % interval (bootstrap over photos); best in bold, ties bold together."""
    from pconvkit.benchmark.perceptual import FID_MIN_IMAGES
    from pconvkit.benchmark.tables import biased_fid, binning, summarise, tables

    summary = summarise(results, against, total, binning(bins, categories), ssim_border)
    _write_or_print(render.FORMATS[fmt](*tables(summary, with_paper, stat)), out)
    if biased_fid(summary):
        click.echo(
            f"warning: some FID values come from fewer than {FID_MIN_IMAGES:,} images and are biased upward: "
            "compare them only at equal image counts (KID is unbiased)",
            err=True,
        )


@benchmark.command("timing")
@click.argument("results", type=click.Path())
@opt.table_format()
@opt.out_text
def benchmark_timing(results, fmt, out):
    """Seconds per image of each method and the device it ran on."""
    from pconvkit.benchmark.tables import timing_table

    _write_or_print(render.FORMATS[fmt](timing_table(results)), out)


def _write_or_print(text: str, out) -> None:
    from pconvkit.files import write_text_atomic

    if out:
        write_text_atomic(out, text)
        click.echo(out)
    else:
        click.echo(text, nl=False)


@benchmark.command("grid")
@click.argument("results", type=click.Path())
@opt.methods(PICTURE_METHODS, help="Comma-separated method names, one row each.")
@click.option("--mask-ids", default=None, help="Comma-separated mask ids of the run's pairing (default: one per bin).")
@opt.renamed("--masks", "--mask-ids", "the pairs' mask ids")
@click.option(
    "--out", type=click.Path(), default=None, help="Picture path, format from its suffix (default RESULTS/grid.png)."
)
@opt.images
@opt.apply(opt.NETWORKS)
def benchmark_grid(results, methods, mask_ids, out, images, checkpoint, conv_checkpoint):
    """Comparison picture (as in Figure 5 of the paper) for pairs of a run: input, methods, truth."""
    from pconvkit.benchmark.grid import comparison_grid, grid_pairs
    from pconvkit.files import image_format

    if out:
        image_format(out)
    pairs = grid_pairs(results, opt.csv_list(mask_ids) if mask_ids else None)
    options = run_networks(results, checkpoint, conv_checkpoint)
    path = comparison_grid(
        pairs, run_images(images, results), opt.csv_list(methods), out or Path(results) / "grid.png", options
    )
    click.echo(str(path))
