"""`pconv`: training (Sections 3-4.2), inpainting one image, super-resolution, ONNX export and
checkpoint conversion."""

import click

from pconvkit.cli.options import (
    MASK_READING,
    NON_NEGATIVE,
    POSITIVE,
    POSITIVE_FLOAT,
    FiniteFloatRange,
    Group,
    apply,
    batch_size,
    checkpoint,
    csv_list,
    device,
    factor,
    hole_white,
    images_option,
    masks_option,
    mostly_hole,
    option,
    out_file,
    out_folder,
    processes,
    seed,
    side,
    sr_checkpoint,
)
from pconvkit.errors import UserError
from pconvkit.models.config import TrainConfig, UNetConfig


@click.group(cls=Group)
def pconv():
    """Partial-convolution U-Net: train, inpaint one image, convert checkpoints (Sections 3-4.2)."""


_TRAIN = TrainConfig(images="", masks="", out="")
_UNET = UNetConfig()


def _kernel_range(ctx, param, value):
    """Click callback: 'MIN,MAX' dilation kernels within maskgen's largest -> (MIN, MAX)."""
    from pconvkit.maskgen.augment import check_kernel_range

    try:
        low, high = csv_list(value, int)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not MIN,MAX, e.g. 1,47") from None
    try:
        check_kernel_range((low, high))  # the rule maskgen.augment applies
    except ValueError as err:
        raise click.BadParameter(str(err)) from None
    return low, high


@pconv.command("train")
@images_option("Training images (random crops are taken).", required=True)
@masks_option(
    None,
    "A maskgen output folder (raw training pool, augmented on the fly) or a folder of mask PNGs "
    "(not used with --task sr).",
)
@out_folder("Folder for last.pt, loss_log.csv and sample grids.")
@side(_TRAIN.size, "Crop side (paper: 512).")
@batch_size(_TRAIN.batch_size, "Paper: 6.")
@option("--steps", _TRAIN.steps, POSITIVE, "Total steps to reach, counted across phases.")
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
    "--skip-fill",
    type=NON_NEGATIVE,
    default=None,
    help="Passes of a 3x3 box partial convolution over the last layer's image skip, filling holes up to twice "
    "this wide that no deeper layer sees (0 = Table 2's network; the bundled models: 3). Default: the --resume "
    "checkpoint's, else 0.",
)
@click.option(
    "--input-fill",
    type=NON_NEGATIVE,
    default=None,
    help="Passes of the same box fill over the network's input: holes up to twice this wide vanish from every "
    "layer's mask (0 = Table 2's network). Default: the --resume checkpoint's, else 0.",
)
@click.option(
    "--vgg-weights",
    type=click.Path(),
    default=None,
    help="torchvision vgg16 (the paper's) or vgg19 ImageNet state dict, full or cut after pool3, for the perceptual "
    "and style terms (the checkpoint records which); without it they are off.",
)
@device
@click.option("--no-amp", is_flag=True, help="No mixed precision on CUDA.")
@seed
@click.option("--checkpoint-every", default=_TRAIN.checkpoint_every, show_default=True, type=POSITIVE)
@click.option("--sample-every", default=_TRAIN.sample_every, show_default=True, type=POSITIVE)
@hole_white
@mostly_hole
@option(
    "--scale-jitter",
    _TRAIN.scale_jitter,
    FiniteFloatRange(min=1.0),
    "Crops from the image resized to a random short side in [size, this x size]; 1 = native resolution (paper).",
)
@option(
    "--color-jitter",
    _TRAIN.color_jitter,
    FiniteFloatRange(0, 1),
    "Random hue rotation (+-180 x this degrees) and saturation scaling (1 +- this); 0 = off (paper).",
)
@click.option(
    "--kernel-range",
    callback=_kernel_range,
    default=",".join(map(str, _TRAIN.kernel_range)),
    show_default=True,
    help="The training masks' dilation kernels, MIN,MAX px (1 = the raw mask undilated; the test masks use 5,47).",
)
@processes(_TRAIN.workers, NON_NEGATIVE, "Processes preparing batches ahead (results do not depend on it).")
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
@factor
def pconv_train(resume, layers, width, plain, skip_fill, input_fill, no_amp, max_minutes, **options):
    """Train the PConv U-Net (or the Conv baseline) with the loss of Eq. 7; with --task sr, for
    super-resolution by --factor (Section 5.2)."""
    if options["task"] == "inpaint" and options["masks"] is None:
        raise UserError("--masks is needed to train inpainting (a maskgen output or a folder of masks)")
    from pconvkit.models.checkpoint import read_checkpoint
    from pconvkit.models.train import train

    fills = {"skip_fill": skip_fill, "input_fill": input_fill}
    unet = UNetConfig(layers=layers, width=width, partial=not plain, **{k: v or 0 for k, v in fills.items()}).as_dict()
    if resume:
        unet = read_checkpoint(resume)["unet"]  # the architecture of the checkpoint wins, but for
        # the fills, which have no weights: they may start at a resume
        unet = {**unet, **{k: v for k, v in fills.items() if v is not None}}
    if options["size"] % 2 ** unet["layers"]:
        raise UserError(f"--size {options['size']} is not divisible by 2^{unet['layers']}")
    max_seconds = None if max_minutes is None else max_minutes * 60
    config = TrainConfig(**options, amp=not no_amp, unet=unet, max_seconds=max_seconds)
    click.echo(f"checkpoint {train(config, resume, log=click.echo)}")


@pconv.command("inpaint")
@click.argument("image", type=click.Path())
@click.argument("mask", type=click.Path())
@out_file
@checkpoint
@apply(MASK_READING)
@device
@option(
    "--engine",
    "auto",
    click.Choice(["auto", "onnx", "torch"]),
    "onnx: ONNX Runtime on the CPU, which starts in a fraction of torch's import time (the graph is exported "
    "once per checkpoint and cached); auto: onnx where it is installed, unless --device names a GPU.",
)
def pconv_inpaint(image, mask, out, checkpoint, hole_white, mask_threshold, mostly_hole, device, engine):
    """Fill the holes of IMAGE given by MASK (any size; RGB, grayscale or RGBA)."""
    from pconvkit.files import image_format, write_image
    from pconvkit.images import read_image, read_mask
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
@out_file
@factor
@sr_checkpoint
@device
def pconv_upscale(image, out, factor, checkpoint, device):
    """Super-resolution of IMAGE by --factor with a network trained by `pconv train --task sr`."""
    from pconvkit.files import image_format, write_image
    from pconvkit.images import read_image
    from pconvkit.models.superres import load_sr_model, upscale

    image_format(out)
    low = read_image(image, min_size=4)
    write_image(out, upscale(load_sr_model(checkpoint, factor, device), low, factor))
    click.echo(out)


@pconv.command("export-onnx")
@checkpoint
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
