"""What the command groups share: the group class that turns a user's mistake into one line, the
checked number types, and every option that more than one command takes, each defined here once.

Defaults and choices come from the library's dataclasses and constants, the one place where the
paper's values are stated.
"""

import math
import sys

import click

from pconvkit.errors import UserError
from pconvkit.maskgen.bins import BIN_LABELS
from pconvkit.models.config import TrainConfig


class Group(click.Group):
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


def csv_list(value, cast=str) -> tuple:
    """'a,b,,c' -> ('a', 'b', 'c'), each item passed through `cast`; () for an empty value."""
    return tuple(cast(v) for v in value.split(",") if v.strip()) if value else ()


def unique_names(value) -> tuple:
    """A comma-separated list of names, each once, in the order given."""
    return tuple(dict.fromkeys(csv_list(value)))


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
FINITE_FLOAT = FiniteFloatRange()


def option(name: str, default, kind=None, help: str | None = None, dest: str | None = None, **extra):
    """A click option whose default is shown in --help (`dest`: the parameter's name, if not the option's)."""
    names = (name, dest) if dest else (name,)
    return click.option(*names, default=default, show_default=True, type=kind, help=help, **extra)


def apply(options):
    """Decorator applying a list of click options in the order listed."""

    def decorate(function):
        for each in reversed(options):
            function = each(function)
        return function

    return decorate


def positive_int_list(ctx, param, value):
    """Click callback: the value must be a comma-separated list of positive integers; kept as text."""
    try:
        numbers = csv_list(value, int)
    except ValueError:
        numbers = ()
    if not numbers or min(numbers) < 1:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of positive integers, e.g. 1,4,16")
    return value


def _bin_list(ctx, param, value):
    """Click callback: comma-separated bin labels, each one of the six; None for all."""
    if value is None:
        return None
    labels = BIN_LABELS
    chosen = csv_list(value)
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


def methods(default: str, help: str = "Comma-separated method names, or module:function for your own."):
    """--methods: each command names its own default (what it is usually run or drawn with)."""
    return option("--methods", default, help=help)


# ------------------------------------------------------------------------------------------- inputs


IMAGES_HELP = "Image folder (default: the held-out sample photos); for a command that reads a run, the run's images."


def images_option(help=IMAGES_HELP, required: bool = False):
    """--images, a folder of photos (the option; `inputs.image_folder` resolves its default)."""
    return click.option("--images", type=click.Path(), default=None, required=required, help=help)


def masks_option(default="masks", help="A maskgen output (its manifest) or any folder of masks."):
    """--masks, a folder of masks or a maskgen output."""
    return option("--masks", default, click.Path(), help)


images = images_option()
masks_folder = masks_option()
hole_white = click.option(
    "--hole-white",
    is_flag=True,
    help="Mask files are white = hole (NVIDIA's files). Default: white = valid (the paper's M). "
    "A maskgen output's manifest records its own polarity.",
)
mask_threshold = click.option(
    "--mask-threshold",
    type=FiniteFloatRange(0, 1, min_open=True),
    default=None,
    help="Binarise non-binary mask files: values >= this x the file type's maximum are white. Without it such "
    "files are refused.",
)
mostly_hole = click.option(
    "--mostly-hole",
    is_flag=True,
    help="Accept masks that are mostly hole (e.g. super-resolution lattices, large dilations) instead of "
    "stopping, as pconvkit otherwise does where masks look inverted.",
)
# How every command that reads mask files reads them.
MASK_READING = [hole_white, mask_threshold, mostly_hole]
bins = click.option(
    "--bins", default=None, callback=_bin_list, help="Comma-separated bins, e.g. 0.3-0.4,0.4-0.5 (default: all six)."
)


def out_folder(help: str = "Output folder.", required: bool = True, default=None):
    """--out naming a folder a command writes into."""
    return click.option(
        "--out",
        required=required and default is None,
        default=default,
        show_default=default is not None,
        type=click.Path(),
        help=help,
    )


def table_format():
    """--format of a command that writes a table: every format of the one renderer."""
    from pconvkit.benchmark.render import FORMATS

    return option("--format", "markdown", click.Choice(list(FORMATS)), "Table format.", dest="fmt")


out_text = click.option("--out", type=click.Path(), default=None, help="Write to this file instead of printing.")


def side(default=512, help="Images are centre-cropped and resized to this (paper: 512)."):
    return option("--size", default, POSITIVE, help)


def processes(default=1, kind=POSITIVE, help="Processes; the output does not depend on it."):
    return option("--workers", default, kind, help)


def batch_size(default, help):
    return option("--batch-size", default, POSITIVE, help)


def renamed(old: str, new: str, meaning: str):
    """A hidden option under a spelling that now means something else: its use is a one-line error."""

    def refuse(ctx, param, value):
        if value is not None:
            raise click.UsageError(f"{ctx.command_path} takes {meaning} as {new} ({old} now means another thing)", ctx)

    return click.option(old, hidden=True, expose_value=False, callback=refuse)


size = side()
seed = option("--seed", 0, NON_NEGATIVE, "Seed of the random draws (the same seed gives the same bytes).")
workers = processes()
shard = option(
    "--shard",
    "1/1",
    help="I/N: run the I-th of N deterministic slices of the pairs into OUT/results-shard-I-of-N.csv "
    "(join them with `benchmark merge`).",
    callback=_shard,
)
device = option("--device", "auto", help="auto, cpu, cuda, cuda:1 ...")


out_file = click.option("-o", "--out", required=True, type=click.Path(), help="Output image (format from the suffix).")

# ------------------------------------------------------------------------------------------- models

checkpoint = click.option(
    "--checkpoint", type=click.Path(), default=None, help="PConv checkpoint (default: the bundled model)."
)
conv_checkpoint = click.option(
    "--conv-checkpoint", type=click.Path(), default=None, help="Conv baseline checkpoint (default: the bundled one)."
)
sr_checkpoint = click.option(
    "--checkpoint", type=click.Path(), default=None, help="Super-resolution checkpoint (default: the bundled x4 model)."
)
factor = option("--factor", TrainConfig.factor, click.IntRange(2, 16), "Super-resolution factor K (Section 5.2).")
# The networks whose outputs a command draws or scores: the run's own by default.
NETWORKS = [checkpoint, conv_checkpoint]


def _weights_option(name: str, what: str, metric: str):
    """An option naming a weights file; without it the metric is not computed."""
    return click.option(name, type=click.Path(), default=None, help=f"{what}; without it {metric} not computed.")


inception_weights = _weights_option(
    "--inception-weights", "torchvision inception_v3 state-dict file", "the Inception score is"
)
fid_weights = _weights_option(
    "--fid-weights",
    "the TF-Inception port's weights (pt_inception-2015-12-05-6726825d.pth or torch-fidelity's "
    "weights-inception-2015-12-05-6726825d.pth)",
    "FID and KID are",
)
lpips_weights = _weights_option(
    "--lpips-weights", "a torchvision AlexNet or VGG16 ImageNet state dict, LPIPS's backbone", "LPIPS is"
)
# Weight files of the metrics that need a network (`benchmark.run.MetricWeights`, in this order).
METRIC_WEIGHTS = [inception_weights, fid_weights, lpips_weights]
