"""Training batches prepared on the device: the photos decoded once and kept there, the raw mask pool
there, and the augmentation as batched torch operations (the same code runs on the CPU).

What a batch holds is decided as in `train.TrainingData`: every random number is drawn with NumPy
from (seed, step, rank), so batch k is a function of the seed and k on any device; the arrays those
numbers describe are computed on the device. The masks are maskgen's augmentation
(`pconvkit.maskgen.augment`: scale-up of small sources, rotation about the centre with nearest
sampling, crop, dilation by a square of side within the training kernel range), rendered by gathering the rotated pixels
and dilating with separable max-pooling (a square footprint is a max filter, and a radius is the sum of
its powers of two); the photos are
cropped, resized and flipped as `TrainingData` does, and their colours jittered in HSV
(`rgb_to_hsv`, `hsv_to_rgb`, the formulas of OpenCV's `cvtColor`).
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from pconvkit.maskgen.augment import KERNEL_RANGE, MAX_RADIUS, random_params, scaled_shape, source_scale
from pconvkit.models.crops import draw_crop


class DeviceBatches:
    """Batches of (images (B, 3, S, S), masks (B, 1, S, S)) float tensors made on `device`.

    images: list of float (H, W, 3) RGB arrays in [0, 1]; raw_masks: list of uint8 (h, w) arrays,
    1 = valid (maskgen's raw pool). Photos are stored as uint8 (a quarter of the memory).
    """

    def __init__(
        self,
        images,
        raw_masks,
        size: int,
        device,
        scale_jitter: float = 1.0,
        color_jitter: float = 0.0,
        kernel_range: tuple[int, int] = KERNEL_RANGE,
    ):
        if not raw_masks:
            raise ValueError("the raw mask pool is empty")
        self.size, self.device = size, torch.device(device)
        self.scale_jitter, self.color_jitter = scale_jitter, color_jitter
        self.kernel_range = tuple(kernel_range)
        self.images = [
            torch.from_numpy(
                np.ascontiguousarray((np.clip(i, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(2, 0, 1))
            ).to(self.device)
            for i in images
        ]
        self.image_shapes = [tuple(i.shape[:2]) for i in images]
        self.mask_shapes = np.array([m.shape for m in raw_masks])
        height, width = self.mask_shapes.max(axis=0)
        pool = np.ones((len(raw_masks), height, width), np.uint8)  # padded with valid pixels
        for index, mask in enumerate(raw_masks):
            pool[index, : mask.shape[0], : mask.shape[1]] = mask
        self.pool = torch.from_numpy(pool).to(self.device)

    def batch(self, seed: int, step: int, batch_size: int, rank: int = 0, world: int = 1):
        rng = np.random.default_rng([seed, step, rank])
        crops = [self._crop_parameters(rng) for _ in range(batch_size)]
        masks = [self._mask_parameters(rng) for _ in range(batch_size)]
        return self.render_images(crops), self.render_masks(masks)

    # -- what a batch holds: drawn on the host, as TrainingData and maskgen.augment draw it

    def _crop_parameters(self, rng):
        index = int(rng.integers(len(self.images)))
        shape = self.image_shapes[index]
        return index, draw_crop(rng, shape, self.size, self.scale_jitter, self.color_jitter)

    def _mask_parameters(self, rng):
        source = int(rng.integers(len(self.mask_shapes)))
        params = random_params(rng, tuple(self.mask_shapes[source]), self.size, kernel_range=self.kernel_range)
        return source, params.angle, params.crop_x, params.crop_y, params.kernel

    # -- the arrays: computed on the device

    def render_images(self, crops) -> torch.Tensor:
        out = []
        for index, d in crops:
            crop = self.images[index][:, d.y : d.y + d.side, d.x : d.x + d.side][None].float() / 255
            if d.side < self.size:
                crop = F.interpolate(crop, size=(self.size,) * 2, mode="bicubic", align_corners=False)
            elif d.side > self.size:
                crop = F.interpolate(crop, size=(self.size,) * 2, mode="area")
            out.append(crop.flip(-1) if d.flip else crop)
        images = torch.cat(out).clamp_(0, 1)
        if self.color_jitter > 0:
            hue = torch.tensor([d.hue for _, d in crops], device=self.device)[:, None, None]
            saturation = torch.tensor([d.saturation for _, d in crops], device=self.device)[:, None, None]
            h, s, v = rgb_to_hsv(images).unbind(1)
            images = hsv_to_rgb(torch.stack([(h + hue) % 360, (s * saturation).clamp(0, 1), v], 1)).clamp(0, 1)
        return images

    def render_masks(self, parameters) -> torch.Tensor:
        """Masks (B, 1, S, S), 1 = valid, for (source, angle, crop_x, crop_y, kernel) tuples."""
        window = self.size + 2 * MAX_RADIUS
        inverse = torch.tensor(
            np.stack([self._inverse_map(p) for p in parameters]), device=self.device, dtype=torch.float32
        )
        grid = torch.arange(window, device=self.device, dtype=torch.float32)
        v, u = torch.meshgrid(grid, grid, indexing="ij")
        points = torch.stack([u, v, torch.ones_like(u)])  # (3, W, W)
        source_xy = torch.einsum("bij,jhw->bihw", inverse, points)
        # nearest neighbour; outside the source (and its padding) is valid, as cv2.warpAffine's border
        x = torch.floor(source_xy[:, 0] + 0.5).long()
        y = torch.floor(source_xy[:, 1] + 0.5).long()
        sources = torch.tensor([p[0] for p in parameters], device=self.device)
        shapes = torch.as_tensor(self.mask_shapes[[p[0] for p in parameters]], device=self.device)
        inside = (x >= 0) & (y >= 0) & (x < shapes[:, 1, None, None]) & (y < shapes[:, 0, None, None])
        values = self.pool[
            sources[:, None, None], y.clamp(0, self.pool.shape[1] - 1), x.clamp(0, self.pool.shape[2] - 1)
        ]
        holes = (inside & (values == 0)).float()[:, None]
        # a square of side k covers Chebyshev distance (k - 1) // 2; a dilation by radius r is one by
        # each power of two in r in turn, so five shared passes serve every radius of the batch
        radii = torch.tensor([(p[4] - 1) // 2 for p in parameters], device=self.device)[:, None, None, None]
        dilated = holes
        for bit in range(int(radii.max()).bit_length()):
            step = 1 << bit
            grown = F.max_pool2d(dilated, (1, 2 * step + 1), stride=1, padding=(0, step))
            grown = F.max_pool2d(grown, (2 * step + 1, 1), stride=1, padding=(step, 0))
            dilated = torch.where((radii >> bit) & 1 == 1, grown, dilated)
        crop = dilated[:, :, MAX_RADIUS : MAX_RADIUS + self.size, MAX_RADIUS : MAX_RADIUS + self.size]
        return 1.0 - crop

    def _inverse_map(self, parameters) -> np.ndarray:
        """Window pixel -> source pixel, the inverse of maskgen.augment.crop_distance's affine map."""
        source, angle, crop_x, crop_y, _ = parameters
        shape = tuple(self.mask_shapes[source])
        height, width = scaled_shape(shape, self.size)
        centre = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
        matrix = cv2.getRotationMatrix2D(centre, angle, source_scale(shape, self.size))
        matrix[:, 2] += ((width - 1) / 2.0 - centre[0], (height - 1) / 2.0 - centre[1])
        matrix[:, 2] -= (crop_x - MAX_RADIUS, crop_y - MAX_RADIUS)
        return cv2.invertAffineTransform(matrix)


def rgb_to_hsv(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> HSV with H in degrees [0, 360), S and V in [0, 1] (cv2's float
    convention)."""
    r, g, b = rgb.unbind(1)
    value, _ = rgb.max(1)
    low, _ = rgb.min(1)
    spread = value - low
    saturation = torch.where(value > 0, spread / value.clamp_min(1e-12), torch.zeros_like(value))
    safe = spread.clamp_min(1e-12)
    hue = torch.where(
        value == r, 60 * (g - b) / safe, torch.where(value == g, 120 + 60 * (b - r) / safe, 240 + 60 * (r - g) / safe)
    )
    hue = torch.where(spread > 0, hue % 360, torch.zeros_like(hue))
    return torch.stack([hue, saturation, value], 1)


def hsv_to_rgb(hsv: torch.Tensor) -> torch.Tensor:
    """The inverse of rgb_to_hsv."""
    hue, saturation, value = hsv.unbind(1)
    sector = hue / 60

    def channel(n):
        k = (n + sector) % 6
        return value - value * saturation * (torch.minimum(k, 4 - k).clamp(0, 1))

    return torch.stack([channel(5), channel(3), channel(1)], 1)
