"""Super-resolution with the inpainting network, Section 5.2 of the paper.

A low-resolution image I (H x W) and a factor K give the network's input I' (K H x K W): pixel
(x, y) of I goes to (K x + floor(K/2), K y + floor(K/2)) of I', marked valid in the mask; every
other pixel is a hole. The network fills the holes; the lattice pixels keep I's values. Training
uses the same network, loss and phases with this fixed lattice as the mask: the input is a
high-resolution crop sampled on the lattice, the target the crop itself.

The baselines interpolate from the same lattice positions (bicubic, Lanczos: an affine map with
no half-pixel shift between methods), so that every method sees I's pixels where I' has them.
"""

import cv2
import numpy as np

from pconvkit.errors import UserError


def lattice_offset(factor: int) -> int:
    return factor // 2


def lattice_mask(height: int, width: int, factor: int) -> np.ndarray:
    """uint8 (height, width): 1 on the lattice (K y + floor(K/2), K x + floor(K/2)), 0 elsewhere.

    Examples
    --------
    >>> lattice_mask(4, 4, 2)
    array([[0, 0, 0, 0],
           [0, 1, 0, 1],
           [0, 0, 0, 0],
           [0, 1, 0, 1]], dtype=uint8)
    """
    valid = np.zeros((height, width), np.uint8)
    offset = lattice_offset(factor)
    valid[offset::factor, offset::factor] = 1
    return valid


def sr_input(low: np.ndarray, factor: int) -> tuple[np.ndarray, np.ndarray]:
    """I' and its mask for a low-resolution image (H, W, 3): ((K H, K W, 3) float32, (K H, K W) uint8)."""
    if factor < 2:
        raise UserError(f"--factor {factor}: a super-resolution factor is 2 or more")
    height, width = low.shape[:2]
    image = np.zeros((height * factor, width * factor, 3), np.float32)
    offset = lattice_offset(factor)
    image[offset::factor, offset::factor] = low
    return image, lattice_mask(height * factor, width * factor, factor)


def sample_lattice(high: np.ndarray, factor: int) -> np.ndarray:
    """The low-resolution image a high-resolution one gives on the paper's lattice: pixel
    (K x + floor(K/2), K y + floor(K/2)) becomes (x, y). Sides are cropped to multiples of K."""
    height, width = (high.shape[0] // factor) * factor, (high.shape[1] // factor) * factor
    offset = lattice_offset(factor)
    return np.ascontiguousarray(high[offset:height:factor, offset:width:factor])


def area_downscale(high: np.ndarray, factor: int) -> np.ndarray:
    """The usual low-resolution input of SR benchmarks (each pixel the mean of a K x K block)."""
    height, width = high.shape[0] // factor, high.shape[1] // factor
    return cv2.resize(high[: height * factor, : width * factor], (width, height), interpolation=cv2.INTER_AREA)


def interpolate(low: np.ndarray, factor: int, method: str = "bicubic") -> np.ndarray:
    """Upscale by `factor` with OpenCV's bicubic or Lanczos kernel, low pixel (x, y) landing on the
    lattice position (K x + floor(K/2), K y + floor(K/2)) as in the network's input."""
    flags = {"bicubic": cv2.INTER_CUBIC, "lanczos": cv2.INTER_LANCZOS4}.get(method)
    if flags is None:
        raise UserError(f"unknown interpolation {method!r}: bicubic or lanczos")
    shift = lattice_offset(factor) / factor
    inverse = np.array([[1 / factor, 0, -shift], [0, 1 / factor, -shift]], np.float64)  # output -> input position
    height, width = low.shape[:2]
    high = cv2.warpAffine(
        np.asarray(low, np.float32),
        inverse,
        (width * factor, height * factor),
        flags=flags | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REFLECT101,
    )
    return np.clip(high, 0, 1)


def load_sr_model(checkpoint=None, factor: int = 4, device: str = "auto"):
    """The network of a `pconv train --task sr` checkpoint (default: the bundled x4 model), refusing
    one trained for inpainting or for another factor."""
    from pconvkit.models import BUNDLED_SR_WEIGHTS
    from pconvkit.models.checkpoint import load_model
    from pconvkit.models.devices import pick_device

    path = checkpoint or BUNDLED_SR_WEIGHTS
    model, payload = load_model(path, pick_device(device))
    trained = payload.get("config", {})
    if trained.get("task") != "sr" or int(trained.get("factor", 0)) != factor:
        raise UserError(
            f"{path} is not a super-resolution model for --factor {factor} "
            f"(task {trained.get('task', 'inpaint')}, factor {trained.get('factor')})"
        )
    return model


def upscale(model, low: np.ndarray, factor: int) -> np.ndarray:
    """The network's super-resolution of `low` (H, W, 3) in [0, 1]: (K H, K W, 3)."""
    from pconvkit.models.inference import inpaint

    image, valid = sr_input(low, factor)
    return inpaint(model, image, valid)


def luma(image: np.ndarray) -> np.ndarray:
    """Y of ITU-R BT.601 in [0, 1] (16/255 to 235/255), as SR papers measure PSNR and SSIM on it."""
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    return (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
