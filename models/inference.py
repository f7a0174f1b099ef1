"""Inpainting images of any size with a trained network."""
import numpy as np
import torch

from models.unet import PConvUNet, composite
from pconvkit.errors import UserError


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {name}: no CUDA device here")
    return torch.device(name)


def check_pair(image: np.ndarray, valid_mask: np.ndarray):
    if image.shape[:2] != valid_mask.shape[:2]:
        raise UserError(f"mask is {valid_mask.shape[1]}x{valid_mask.shape[0]} but image is {image.shape[1]}x{image.shape[0]}")
    if not np.isin(np.unique(valid_mask), (0, 1)).all():
        raise UserError("mask is not binary")


@torch.no_grad()
def inpaint_batch(model: PConvUNet, images: np.ndarray, valid_masks: np.ndarray) -> np.ndarray:
    """images (B, H, W, 3) float in [0, 1], masks (B, H, W) with 1 = valid -> composited (B, H, W, 3).

    Sides that are not multiples of the network's stride are padded (image: reflection, mask:
    hole, so padding is never read as content) and cropped back.
    """
    device = next(model.parameters()).device
    _, height, width = valid_masks.shape
    stride = model.stride
    pad_h, pad_w = -height % stride, -width % stride
    x = torch.from_numpy(np.ascontiguousarray(images, np.float32)).permute(0, 3, 1, 2).to(device)
    m = torch.from_numpy(np.ascontiguousarray(valid_masks, np.float32))[:, None].to(device)
    if pad_h or pad_w:
        mode = "reflect" if pad_h < height and pad_w < width else "replicate"
        x = torch.nn.functional.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        m = torch.nn.functional.pad(m, (0, pad_w, 0, pad_h), value=0.0)
    output = model(x, m)
    result = composite(output, x, m).clamp(0, 1)[:, :, :height, :width]
    return result.permute(0, 2, 3, 1).cpu().numpy()


def inpaint(model: PConvUNet, image: np.ndarray, valid_mask: np.ndarray) -> np.ndarray:
    """One image (H, W, 3) in [0, 1] and its mask (H, W), 1 = valid -> composited (H, W, 3)."""
    check_pair(image, valid_mask)
    return inpaint_batch(model, image[None], valid_mask[None])[0]
