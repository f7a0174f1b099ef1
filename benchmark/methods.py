"""Inpainting methods behind one interface, registered by name.

A method is a callable inpaint(image, valid_mask) -> image: image float32 (H, W, 3) in [0, 1],
valid_mask uint8 (H, W) with 1 = valid, 0 = hole. The harness composites the result, so a method
may return anything in the known pixels. A method may also offer `inpaint_batch(images, masks)`.

Add your own with `register("name")`, or without touching this package with
`--method module:function` (a callable of the form above, or a factory with attribute
`is_factory = True` that takes **options and returns one).
"""

import importlib
import re
from pathlib import Path

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import content_hash, file_hash
from pconvkit.images import blank_holes, composite

METHODS = {}
# The version of what the harness hands a plug-in (`module:function`) and does with its output: it
# enters every plug-in's fingerprint beside the plug-in's own version. Rule: bumped when that changes.
PLUGIN_INTERFACE_VERSION = "0.3.0"  # 0.3.0: holes blanked before a method sees the image
NOT_RUN = {
    "GL": "Iizuka et al. 2017: needs its released model; plug it in with --methods module:function",
    "GntIpt": "Yu et al. 2018: needs its released TensorFlow model; plug it in with --methods module:function",
}


def register(name: str, neural: bool = False, output_version: str = "0.2.0"):
    """Decorator: register a factory ``f(**options) -> inpaint`` under `name`.

    ``inpaint(image, valid_mask) -> image`` takes float32 (H, W, 3) in [0, 1] and uint8 (H, W) with
    1 = valid; the harness composites what it returns. `neural` methods are built once per run and
    may offer ``inpaint_batch(images, masks)``.

    Parameters
    ----------
    name : str
        The name `--methods` and the tables use.
    neural : bool
        Built once per run and batched (the network methods).
    output_version : str
        The version of the method's outputs, part of every row's fingerprint: bump it when a change
        alters what the method returns (and only then), so that rows made before are refused, not mixed.

    Returns
    -------
    callable
        The decorator, which registers and returns the factory.

    References
    ----------
    The baselines of Liu et al., ECCV 2018, Section 4.3 (PatchMatch, Telea, Navier-Stokes, Conv).

    Examples
    --------
    >>> import numpy as np
    >>> @register("grey")
    ... def grey(**options):
    ...     return lambda image, valid_mask: np.full_like(image, 0.5)
    >>> "grey" in METHODS
    True
    >>> make_method("grey")(np.zeros((4, 4, 3), np.float32), np.ones((4, 4), np.uint8)).mean()
    np.float32(0.5)
    >>> del METHODS["grey"]
    """

    def decorate(factory):
        factory.neural = neural
        factory.output_version = output_version
        METHODS[name] = factory
        return factory

    return decorate


def check_method_name(name: str):
    """A one-line error for a name that is neither registered nor of the form module:function."""
    if name not in METHODS and ":" not in name:
        raise UserError(f"unknown method {name!r}: choose from {', '.join(sorted(METHODS))} or give module:function")


# The name `benchmark score` gives rows of outputs made elsewhere: a plain name, since it names
# folders of the run (its vectors) and files of its pictures.
SCORED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}")
RESERVED_NAMES = ("truth", "damaged", "gt")  # the study's two sides, and results.TRUTH (the truth's vectors)


def check_scored_name(name: str):
    """A one-line error unless `name` may name outputs scored from elsewhere: a plain name (letters,
    digits, _ . + -), not a built-in method's (the report would draw the real method under it), not
    of the plug-in form module:function, not a reserved one."""
    if name in METHODS:
        raise UserError(
            f"{name!r} is a built-in method: outputs made elsewhere need a name of their own "
            f"(for example {name}-external), or run it with --methods {name}"
        )
    if not SCORED_NAME.fullmatch(name) or name.lower() in RESERVED_NAMES or ".." in name:
        raise UserError(
            f"{name!r} cannot name a method: use up to 64 letters, digits and _ . + - "
            f"(not {' or '.join(RESERVED_NAMES)}), starting with a letter or digit"
        )


def method_fingerprint(name: str, weights_hash: str | None = None, **options) -> str:
    """What produced a results row: the method, its version, its options and its weights' hash.

    A built-in method is versioned by its `output_version` (not pconvkit's version, so that a
    release that leaves a method's numbers alone keeps its rows valid); a neural method adds its
    checkpoint's hash (the bundled model's by default), `weights_hash` where the caller has loaded
    the network (the hash of the bytes it was loaded from: `NeuralMethod.weights_hash`); a plug-in
    `module:function` is versioned by PLUGIN_INTERFACE_VERSION and its module's `__version__` or,
    without one, the hash of the module's source file.
    """
    check_method_name(name)
    # the device is where a method runs, not what it computes
    settings = sorted((k, str(v)) for k, v in options.items() if v is not None and k != "device")
    version = METHODS[name].output_version if name in METHODS else PLUGIN_INTERFACE_VERSION
    parts = [name, version, settings]
    if getattr(METHODS.get(name), "neural", False):
        from pconvkit.models import BUNDLED_CONV_WEIGHTS, BUNDLED_WEIGHTS

        default = BUNDLED_CONV_WEIGHTS if name == "conv" else BUNDLED_WEIGHTS
        checkpoint = Path(options.get("checkpoint") or default)
        if weights_hash is None:
            weights_hash = file_hash(checkpoint) if checkpoint.is_file() else "no weights"
        parts.append(weights_hash)
    elif name not in METHODS:
        import_callable(name)  # a one-line error for a name that does not import
        module = importlib.import_module(name.partition(":")[0])
        source = getattr(module, "__file__", None)
        parts.append(getattr(module, "__version__", None) or (file_hash(source) if source else "no source"))
    return content_hash(*parts)


def fill(method, image, valid_mask) -> np.ndarray:
    """The harness's one way to run a method on a pair: the method sees the image with its holes
    blanked (`images.blank_holes`) and the mask; its output is composited with the known pixels."""
    return composite(method(blank_holes(image, valid_mask), valid_mask), image, valid_mask)


def import_callable(name: str):
    """The object `module:attribute` names; a one-line error where it cannot be imported."""
    module_name, _, attribute = name.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as err:
        raise UserError(f"cannot import method {name}: {err}") from None


def make_method(name: str, **options):
    """The inpaint callable of a registered name or of 'module:function'.

    Parameters
    ----------
    name : str
        A registered name (`METHODS`) or 'module:function'.
    **options
        Passed to the method's factory (a checkpoint, a device, a radius).

    Returns
    -------
    callable
        inpaint(image, valid_mask) -> image, as `register` describes.

    References
    ----------
    Liu et al., ECCV 2018, Section 4.3.

    Examples
    --------
    >>> import numpy as np
    >>> telea = make_method("telea")
    >>> image = np.full((32, 32, 3), 0.25, np.float32)
    >>> valid = np.ones((32, 32), np.uint8)
    >>> valid[10:20, 10:20] = 0
    >>> round(float(telea(image, valid)[15, 15, 0]), 3)  # a flat image is filled flat
    0.251
    >>> make_method("numpy:median").__name__  # any importable callable
    'median'
    """
    check_method_name(name)
    if name in METHODS:
        return METHODS[name](**options)
    target = import_callable(name)
    return target(**options) if getattr(target, "is_factory", False) else target


def _uint8(image):
    return np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)


def _holes_255(valid_mask):
    return np.where(valid_mask == 0, 255, 0).astype(np.uint8)


def _opencv_inpaint(image, mask, radius: int, flag: int) -> np.ndarray:
    """cv2.inpaint on the image reflected outwards by radius + 2 px, the margin marked as hole, then
    cropped back. OpenCV's inpainting reads the hole pixels on the image's outermost rows and columns
    as if they were known (its frame handling), so a hole that touches the border was filled from
    what lay in it (the truth, before the harness blanked the holes; the blank since): in the margin,
    only pixels OpenCV has itself filled from known ones are read."""
    margin = radius + 2
    padded = cv2.copyMakeBorder(_uint8(image), *[margin] * 4, cv2.BORDER_REFLECT_101)
    holes = cv2.copyMakeBorder(_holes_255(mask), *[margin] * 4, cv2.BORDER_CONSTANT, value=255)
    filled = cv2.inpaint(padded, holes, radius, flag)[margin:-margin, margin:-margin]
    return filled.astype(np.float32) / 255


@register("telea", output_version="0.3.0")
def telea(radius: int = 3, **_):
    """Fast marching, Telea 2004 (the paper's reference [32]), OpenCV's cv2.INPAINT_TELEA (on the
    padded image of `_opencv_inpaint`: 0.2.0 called it on the image itself)."""
    return lambda image, mask: _opencv_inpaint(image, mask, radius, cv2.INPAINT_TELEA)


@register("ns", output_version="0.3.0")
def navier_stokes(radius: int = 3, **_):
    """Navier-Stokes based inpainting (Bertalmio et al. 2001), OpenCV's cv2.INPAINT_NS (on the padded
    image of `_opencv_inpaint`: 0.2.0 called it on the image itself)."""
    return lambda image, mask: _opencv_inpaint(image, mask, radius, cv2.INPAINT_NS)


@register("biharmonic", output_version="0.3.0")
def biharmonic(**_):
    """scikit-image's biharmonic inpainting, on a 4x smaller image for large holes' sake, upsampled into the holes.

    The small image is the mean of each block's known pixels (0.2.0 averaged the hole pixels in too,
    so the truth in a hole leaked into the known blocks at its edge)."""
    from skimage.restoration import inpaint_biharmonic

    def run(image, mask):
        height, width = mask.shape
        size = (width // 4, height // 4)
        weight = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
        known = cv2.resize(image * mask[..., None].astype(np.float32), size, interpolation=cv2.INTER_AREA)
        small = known / np.maximum(weight, 1e-6)[..., None]
        small_mask = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST)
        filled = inpaint_biharmonic(small, small_mask == 0, channel_axis=-1)
        return cv2.resize(filled.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)

    return run


@register("mean")
def mean_fill(**_):
    """The floor: every hole pixel gets the mean colour of the known pixels."""

    def run(image, mask):
        known = image[mask == 1]
        return np.broadcast_to(known.mean(axis=0) if known.size else 0.5, image.shape).astype(np.float32)

    return run


@register("patchmatch")
def patchmatch(patch_size: int = 3, **_):
    """PatchMatch (Barnes et al. 2009) through the PyPI package pypatchmatch (younesse-cv lineage)."""
    try:
        from patchmatch import patch_match
    except ImportError:
        raise UserError("patchmatch needs the patchmatch extra: pip install 'pconvkit[patchmatch]'") from None
    if not patch_match.patchmatch_available:
        raise UserError("pypatchmatch's compiled library did not load")
    return lambda image, mask: (
        patch_match.inpaint(_uint8(image), _holes_255(mask), patch_size=patch_size).astype(np.float32) / 255
    )


class NeuralMethod:
    """A trained U-Net from a checkpoint (default: the bundled model), batched on its device."""

    def __init__(self, checkpoint=None, device="auto", **_):
        from pconvkit.models.checkpoint import FILE_HASH, load_model
        from pconvkit.models.devices import pick_device

        self.device = pick_device(device)
        self.model, self.checkpoint = load_model(checkpoint, self.device)
        self.weights_hash = self.checkpoint[FILE_HASH]
        self.checkpoint_path = checkpoint  # None: the bundled model

    def __call__(self, image, mask):
        return self.inpaint_batch(image[None], mask[None])[0]

    def inpaint_batch(self, images, masks):
        from pconvkit.models.inference import inpaint_batch

        return inpaint_batch(self.model, np.asarray(images), np.asarray(masks))


@register("pconv", neural=True)
def pconv(checkpoint=None, device="auto", **_):
    method = NeuralMethod(checkpoint, device)
    if not method.model.config.partial:
        raise UserError(f"{checkpoint} holds a plain-convolution model: run it as --methods conv")
    return method


@register("conv", neural=True)
def conv(checkpoint=None, device="auto", **_):
    from pconvkit.models import BUNDLED_CONV_WEIGHTS

    if checkpoint is None and not BUNDLED_CONV_WEIGHTS.exists():
        raise UserError("the conv baseline needs --conv-checkpoint FILE (a `pconv train --plain` checkpoint)")
    method = NeuralMethod(checkpoint or BUNDLED_CONV_WEIGHTS, device)
    method.checkpoint_path = checkpoint  # None: the bundled model
    if method.model.config.partial:
        raise UserError(f"{checkpoint} holds a partial-convolution model: run it as --methods pconv")
    return method
