"""NumPy pre- and post-processing around the network: checks, padding to the network's stride,
and cropping back (compositing, I_comp, is `pconvkit.images.composite`).

Images are float (..., H, W, 3) in [0, 1]; masks (..., H, W), 1 = valid, 0 = hole.
"""

import numpy as np

from pconvkit.errors import UserError
from pconvkit.memory import require_memory

# Peak memory of a forward pass per image pixel, per unit of channel width: 460 bytes per pixel
# measured for the bundled half-width network with ONNX Runtime at 1024 and 2048 px (benchmarks show
# PyTorch's no-grad forward in the same range), plus the NumPy arrays around it.
BYTES_PER_PIXEL_PER_WIDTH = 920
BYTES_PER_PIXEL_ARRAYS = 64


def check_fits_in_memory(height: int, width: int, channel_width: float):
    """Refuse, before the network allocates it, an image whose forward pass would not fit in memory."""
    needed = height * width * (BYTES_PER_PIXEL_PER_WIDTH * channel_width + BYTES_PER_PIXEL_ARRAYS)
    require_memory(needed, f"inpainting a {width}x{height} image with this network (scale it down or crop it)")


def check_pair(image: np.ndarray, valid_mask: np.ndarray):
    if image.shape[:2] != valid_mask.shape[:2]:
        raise UserError(
            f"mask is {valid_mask.shape[1]}x{valid_mask.shape[0]} but image is {image.shape[1]}x{image.shape[0]}"
        )
    if not np.isin(np.unique(valid_mask), (0, 1)).all():
        raise UserError("mask is not binary")


def pad_to_stride(images: np.ndarray, valid_masks: np.ndarray, stride: int):
    """(B, H, W, 3) images and (B, H, W) masks padded at the bottom and right to multiples of
    `stride`, the pad marked as hole: neither network reads a hole's values (PConv by Eq. 1, Conv
    puts its placeholder there), so the images are padded with zeros. Returns float32 NCHW arrays
    (images, masks)."""
    _, height, width = valid_masks.shape
    pad_h, pad_w = -height % stride, -width % stride
    images = np.pad(np.asarray(images, np.float32), ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
    masks = np.pad(np.asarray(valid_masks, np.float32), ((0, 0), (0, pad_h), (0, pad_w)))
    return np.ascontiguousarray(images.transpose(0, 3, 1, 2)), masks[:, None]


def crop_output(output: np.ndarray, height: int, width: int) -> np.ndarray:
    """Network output (B, 3, H', W') of padded inputs -> (B, H, W, 3)."""
    return output[:, :, :height, :width].transpose(0, 2, 3, 1)
