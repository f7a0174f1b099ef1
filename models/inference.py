"""Inpainting images of any size with a trained network: PyTorch on any device, or ONNX Runtime on
the CPU (`onnx_engine`), chosen by `make_inpainter`.

Importing torch takes about 3 s on a 2-core machine, ten times what the bundled network needs for a
512x512 image, so the one-image command (`pconv inpaint`) runs the network with ONNX Runtime where it
is installed. This module imports torch only where a function needs it.
"""

import numpy as np

from pconvkit.errors import UserError
from pconvkit.images import composite
from pconvkit.models.devices import pick_device
from pconvkit.models.preprocess import check_fits_in_memory, check_pair, crop_output, pad_to_stride


def inpaint_batch(model, images: np.ndarray, valid_masks: np.ndarray) -> np.ndarray:
    """images (B, H, W, 3) float in [0, 1], masks (B, H, W) with 1 = valid -> composited (B, H, W, 3)."""
    import torch

    device = next(model.parameters()).device
    padded, masks = pad_to_stride(images, valid_masks, model.stride)
    with torch.no_grad():
        output = model(torch.from_numpy(padded).to(device), torch.from_numpy(masks).to(device)).float().cpu().numpy()
    return composite(crop_output(output, *valid_masks.shape[1:]), images, valid_masks)


def inpaint(model, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """Fill the holes of one image of any size with a network.

    Parameters
    ----------
    model : PConvUNet
        A trained network (see `checkpoint.load_model`), in eval mode, on any device.
    image : ndarray
        (H, W, 3) float in [0, 1], RGB.
    valid_mask : ndarray
        (H, W), 1 = valid, 0 = hole.

    Returns
    -------
    ndarray
        (H, W, 3) float32: the known pixels of `image`, the network's output in the holes
        (I_comp of Section 3.3). Sides that are not multiples of the network's stride are padded
        by reflection (the padding is marked as hole) and cropped back.

    Examples
    --------
    >>> import numpy as np
    >>> from pconvkit.models.checkpoint import load_model
    >>> model, _ = load_model()  # the bundled model
    >>> image = np.random.default_rng(0).random((100, 150, 3)).astype(np.float32)
    >>> valid = np.ones((100, 150), np.uint8)
    >>> valid[30:60, 40:90] = 0
    >>> filled = inpaint(model, image, valid)
    >>> filled.shape, bool(np.array_equal(filled[valid == 1], image[valid == 1]))
    ((100, 150, 3), True)
    """
    check_pair(image, valid_mask)
    check_fits_in_memory(*valid_mask.shape, model.config.width)
    return inpaint_batch(model, image[None], valid_mask[None])[0]


def make_inpainter(checkpoint=None, device: str = "auto", engine: str = "auto"):
    """A callable (image (H, W, 3), mask (H, W)) -> composited image for one checkpoint (default: the
    bundled model). engine 'onnx': ONNX Runtime on the CPU; 'torch': PyTorch on `device`; 'auto':
    onnx where it is installed and `device` is not a GPU, else torch."""
    on_cpu = device in ("auto", "cpu")
    if engine == "auto":
        from pconvkit.models.onnx_engine import onnx_runtime_available

        engine = "onnx" if onnx_runtime_available() and on_cpu else "torch"
    if engine == "onnx":
        if not on_cpu:
            raise UserError(f"--engine onnx runs on the CPU, not on --device {device}")
        from pconvkit.models.onnx_engine import OnnxInpainter, require_onnx_runtime

        require_onnx_runtime()
        return OnnxInpainter(checkpoint)
    if engine != "torch":
        raise UserError(f"unknown engine {engine!r}: auto, onnx or torch")
    from pconvkit.models.checkpoint import load_model

    model, _ = load_model(checkpoint, pick_device(device))
    return lambda image, valid_mask: inpaint(model, image, valid_mask)
