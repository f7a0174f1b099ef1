"""Mask augmentation: random dilation, rotation and crop (Section 4.1).

A raw mask (any size, 1 = valid, 0 = hole) is scaled up if its shorter side is under the output
size, rotated by any angle about its centre (nearest neighbour, outside the source = valid),
dilated by a footprint of side `kernel` (5 to 47 px, the range of NVIDIA's dataset page) and cropped.

The footprint is an axis-aligned square by default: NVIDIA's released test masks show the blocky
steps and square corners of a square structuring element (OpenCV's and NumPy's default, a
`np.ones((k, k))` kernel), dilated after the rotation since their squares are never tilted. A disk
(`footprint="disk"`) is the isotropic alternative. The dilation is computed as a distance threshold
on the rotated mask (Chebyshev distance for the square, Euclidean for the disk), which equals the
dilation and lets the sampler read the hole ratio of every kernel size from one distance map (see
`crop_distance` and maskgen.build).
"""

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from pconvkit.maskgen.bins import MASK_SIZE

KERNEL_RANGE = (5, 47)  # the test masks' dilation (NVIDIA's dataset page); training's: TrainConfig
MAX_RADIUS = (KERNEL_RANGE[1] - 1) // 2 + 1
FOOTPRINTS = ("square", "disk")
_DISTANCE = {"square": (cv2.DIST_C, 3), "disk": (cv2.DIST_L2, cv2.DIST_MASK_PRECISE)}
_BLOCK = np.ones((4, 4), np.uint8)


@dataclass(frozen=True)
class AugmentParams:
    kernel: int  # dilation footprint side (square) or diameter (disk) in pixels; holes grow by (kernel - 1) / 2
    angle: float  # degrees, counter-clockwise
    crop_x: int  # top-left corner of the crop in the scaled, rotated source
    crop_y: int
    footprint: str = "square"

    def as_dict(self):
        return asdict(self)


def source_scale(shape, size: int) -> float:
    """Scale that brings the shorter side of a raw mask of `shape` up to `size` (never down)."""
    return max(1.0, size / min(shape))


def scaled_shape(shape, size: int) -> tuple[int, int]:
    scale = source_scale(shape, size)
    return max(size, round(shape[0] * scale)), max(size, round(shape[1] * scale))


def random_geometry(rng: np.random.Generator, raw_shape, size: int) -> tuple[float, int, int]:
    """A random angle and crop corner for a raw mask of `raw_shape`."""
    height, width = scaled_shape(raw_shape, size)
    angle = float(rng.uniform(0.0, 360.0))
    crop_x = int(rng.integers(0, width - size + 1))
    crop_y = int(rng.integers(0, height - size + 1))
    return angle, crop_x, crop_y


def crop_distance(
    raw_valid: np.ndarray, angle: float, crop_x: int, crop_y: int, size: int, footprint: str = "square"
) -> np.ndarray:
    """Distance of each output pixel to the nearest hole, float32 (size, size); 0 on holes.

    Chebyshev distance for a square footprint, Euclidean for a disk. Holes outside the crop but
    within the largest dilation radius count too.
    """
    return window_distance(rotated_window(raw_valid, angle, crop_x, crop_y, size), size, footprint)


def rotated_window(raw_valid: np.ndarray, angle: float, crop_x: int, crop_y: int, size: int) -> np.ndarray:
    """The scaled and rotated raw mask over the crop and a border as wide as the largest dilation,
    uint8 (size + 2 MAX_RADIUS) square, 1 = valid (also outside the source)."""
    height, width = scaled_shape(raw_valid.shape, size)
    scale = source_scale(raw_valid.shape, size)
    centre = ((raw_valid.shape[1] - 1) / 2.0, (raw_valid.shape[0] - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, angle, scale)
    matrix[:, 2] += ((width - 1) / 2.0 - centre[0], (height - 1) / 2.0 - centre[1])
    # Render only the crop plus a border as wide as the largest dilation.
    matrix[:, 2] -= (crop_x - MAX_RADIUS, crop_y - MAX_RADIUS)
    window = size + 2 * MAX_RADIUS
    return cv2.warpAffine(
        raw_valid.astype(np.uint8),
        matrix,
        (window, window),
        flags=cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=1,
    )


def window_distance(window: np.ndarray, size: int, footprint: str = "square") -> np.ndarray:
    """`crop_distance` of a `rotated_window`: float32 (size, size)."""
    distance = cv2.distanceTransform(window, *_DISTANCE[footprint])
    # A window with no hole gets OpenCV's "infinite" distance (about 1.8e19), which overflows any
    # integer cast downstream; every distance beyond the window's diagonal means the same: far.
    np.minimum(distance, 2.0 * window.shape[0], out=distance)
    return distance[MAX_RADIUS : MAX_RADIUS + size, MAX_RADIUS : MAX_RADIUS + size]


def largest_ratio_bound(window: np.ndarray, size: int, margin: int) -> float:
    """An upper bound of the crop's hole ratio at the largest kernel, for a sixteenth of the pixels.

    Blocks of 4 x 4 pixels of the `rotated_window` that hold a hole are grown by the largest
    dilation radius in blocks, rounded up (a pixel within r of a hole lies in a block within
    floor((r + 3) / 4) blocks of that hole's block, for either footprint); the grown blocks that
    overlap the crop (or, with `margin`, its interior) count whole. A sampler that needs more hole
    than this can skip the full-resolution distance map.
    """
    # a block is valid where all its pixels are: the erosion's minimum at each block's corner (past
    # the window's edge the erosion reads valid)
    valid_blocks = cv2.erode(window, _BLOCK, anchor=(0, 0))[::4, ::4]
    if valid_blocks.all():
        return 0.0
    block_distance = cv2.distanceTransform(valid_blocks, cv2.DIST_C, 3)
    reach = (KERNEL_RANGE[1] - 1) / 2
    start, stop = (MAX_RADIUS + margin) // 4, -(-(MAX_RADIUS + size - margin) // 4)
    grown = block_distance[start:stop, start:stop] <= (reach + 3) // 4
    return float(np.count_nonzero(grown) * 16 / size**2)


def holes_within(distance: np.ndarray, kernel: int) -> np.ndarray:
    """bool: pixels within the dilation footprint of side (diameter) `kernel` of a hole.

    Written as ceil(2 d) <= kernel - 1 so that the sampler's histogram and the mask agree exactly.
    """
    return half_pixel_steps(distance) <= kernel - 1


def half_pixel_steps(distance: np.ndarray) -> np.ndarray:
    return np.ceil(2.0 * distance).astype(np.int32)


def augment(raw_valid: np.ndarray, params: AugmentParams, size: int = MASK_SIZE) -> np.ndarray:
    """The augmented mask, uint8 (size, size), 1 = valid, 0 = hole."""
    distance = crop_distance(raw_valid, params.angle, params.crop_x, params.crop_y, size, params.footprint)
    return (~holes_within(distance, params.kernel)).astype(np.uint8)


def random_augment(
    raw_valid: np.ndarray,
    rng: np.random.Generator,
    size: int = MASK_SIZE,
    footprint: str = "square",
    kernel_range: tuple[int, int] = KERNEL_RANGE,
) -> tuple[np.ndarray, AugmentParams]:
    """A random augmentation (as used for training masks on the fly) and its parameters."""
    params = random_params(rng, raw_valid.shape, size, footprint, kernel_range)
    return augment(raw_valid, params, size), params


def random_params(
    rng: np.random.Generator,
    raw_shape,
    size: int = MASK_SIZE,
    footprint: str = "square",
    kernel_range: tuple[int, int] = KERNEL_RANGE,
) -> AugmentParams:
    """Random augmentation parameters for a raw mask of `raw_shape`: any angle, any crop, a kernel
    drawn uniformly from `kernel_range` (within 1 and KERNEL_RANGE's largest)."""
    check_kernel_range(kernel_range)
    angle, crop_x, crop_y = random_geometry(rng, raw_shape, size)
    kernel = int(rng.integers(kernel_range[0], kernel_range[1] + 1))
    return AugmentParams(kernel, angle, crop_x, crop_y, footprint)


def check_kernel_range(kernel_range) -> None:
    low, high = kernel_range
    if not 1 <= low <= high <= KERNEL_RANGE[1]:
        raise ValueError(f"kernel range {low}-{high} is not within 1-{KERNEL_RANGE[1]} (smallest first)")


class AugmentedMasks:
    """A torch-style Dataset of augmented masks drawn from a raw pool: item i is a pure function of
    (seed, i), so training on the fly sees the same masks on every run and after a resume.

    Returns uint8 (size, size) masks, 1 = valid. Works with torch.utils.data.DataLoader.
    """

    def __init__(
        self,
        raw_masks,
        size: int = MASK_SIZE,
        seed: int = 0,
        length: int = 10**9,
        footprint: str = "square",
        kernel_range: tuple[int, int] = KERNEL_RANGE,
    ):
        if not raw_masks:
            raise ValueError("the raw mask pool is empty")
        check_kernel_range(kernel_range)
        self.raw_masks, self.size, self.seed, self.length = raw_masks, size, seed, length
        self.footprint, self.kernel_range = footprint, tuple(kernel_range)

    def __len__(self):
        return self.length

    def __getitem__(self, index: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, index])
        raw = self.raw_masks[rng.integers(len(self.raw_masks))]
        mask, _ = random_augment(raw, rng, self.size, self.footprint, self.kernel_range)
        return mask
