"""Training crops: where a crop comes from in its photo and how its colours are changed, drawn from
a NumPy generator so that both batch pipelines (`train.TrainingData` on the CPU, `device_data` on
the training device) make the same batch from the same seed and step."""

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class CropDraw:
    """Where a training crop comes from and how it is changed (both batch pipelines apply it)."""

    y: int
    x: int
    side: int  # of the square in the source image, resized to the crop size
    flip: bool
    hue: float  # degrees added
    saturation: float  # factor


def draw_crop(rng, shape, size: int, scale_jitter: float, color_jitter: float) -> CropDraw:
    """A random crop of an image of `shape` (H, W): its square in the source (the same as cropping
    the image resized to a random short side, without resizing all of it), flip and colour jitter."""
    height, width = shape
    if scale_jitter > 1:
        short_side = size * rng.uniform(1.0, scale_jitter)
    else:  # native resolution; images smaller than the crop are scaled up
        short_side = max(size, min(height, width))
    side = min(height, width, max(1, round(size * min(height, width) / short_side)))
    y, x = int(rng.integers(height - side + 1)), int(rng.integers(width - side + 1))
    flip = bool(rng.random() < 0.5)
    hue, saturation = 0.0, 1.0
    if color_jitter > 0:
        hue = float(rng.uniform(-180, 180) * color_jitter)
        saturation = float(rng.uniform(1 - color_jitter, 1 + color_jitter))
    return CropDraw(y, x, side, flip, hue, saturation)


def jitter_colours(crop, draw: CropDraw) -> np.ndarray:
    """The crop (float RGB in [0, 1]) with the draw's hue rotation and saturation scaling (OpenCV's HSV)."""
    hsv = cv2.cvtColor(crop.astype(np.float32), cv2.COLOR_RGB2HSV)  # H in degrees, S and V in [0, 1]
    hsv[..., 0] = (hsv[..., 0] + draw.hue) % 360
    hsv[..., 1] = np.clip(hsv[..., 1] * draw.saturation, 0, 1)
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0, 1)
