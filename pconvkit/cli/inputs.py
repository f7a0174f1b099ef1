"""How the benchmark commands turn their shared options into the library's inputs: checked method
names, the image folder (or the sample photos), a run's images at its size, the networks' options,
masks read by the one mask rule, and the metric networks' weight files."""

from pathlib import Path

import click

from pconvkit.cli.options import unique_names
from pconvkit.errors import UserError


def method_names(value) -> tuple:
    """--methods as a tuple of checked names, each once; a one-line error for an empty or unknown one."""
    from pconvkit.benchmark.methods import check_method_name

    names = unique_names(value)
    if not names:
        raise UserError("--methods is empty: name at least one method")
    for name in names:
        check_method_name(name)
    return names


def image_folder(images):
    """--images, or the held-out sample photos (which must have been fetched)."""
    from pconvkit import sampledata

    if images is None:
        sampledata.require_sample_data()
        images = sampledata.photos_dir("test")
    return images


def run_images(images, results):
    """The images of a run at its size: --images, else the folder the run recorded (else, for a run
    made before folders were recorded, the held-out sample photos), each checked against the run."""
    from pconvkit.benchmark.provenance import run_images as checked_run_images

    return checked_run_images(results, images, default=lambda: image_folder(None))


def run_networks(results, checkpoint, conv_checkpoint) -> dict:
    """The networks a run used, for drawing its methods again (a different checkpoint is refused)."""
    from pconvkit.benchmark.provenance import run_network_options

    return run_network_options(results, network_options(checkpoint, conv_checkpoint))


def network_options(checkpoint, conv_checkpoint, device=None) -> dict:
    """The options of the two networks, by method name."""
    extra = {} if device is None else dict(device=device)
    return {"pconv": dict(checkpoint=checkpoint, **extra), "conv": dict(checkpoint=conv_checkpoint, **extra)}


def read_masks(masks, hole_white, mask_threshold, mostly_hole, outside=None):
    """The masks of --masks, read as every mask-reading command reads them; the count of those
    outside every bin is printed (and their paths added to `outside`, a list, where given)."""
    from pconvkit.benchmark.data import load_masks

    if not Path(masks).exists():
        raise UserError(f"mask folder not found: {masks} (build one with `maskgen build`)")
    outside = [] if outside is None else outside
    entries = load_masks(masks, hole_white, threshold=mask_threshold, mostly_hole=mostly_hole, outside=outside)
    if outside:
        click.echo(
            f"{len(outside)} of {len(outside) + len(entries)} masks lie outside every hole-ratio bin "
            "(0.01, 0.6]: not scored"
        )
    return entries


def metric_weights(inception_weights, fid_weights, lpips_weights, device="cpu"):
    """The metric networks' weight files, each checked to exist before any work starts, and the
    device they run on (--device: auto is the GPU where there is one)."""
    from pconvkit.benchmark.run import MetricWeights
    from pconvkit.models.devices import pick_device

    for what, path in (("Inception-v3", inception_weights), ("FID Inception", fid_weights), ("LPIPS", lpips_weights)):
        if path and not Path(path).is_file():
            raise UserError(f"{what} weights not found: {path}")
    return MetricWeights(inception_weights, fid_weights, lpips_weights, str(pick_device(device)))
