"""The paper's augmentation of raw masks: random dilation, rotation and crop, reproducible, with a
cheap bound that never undercuts the true hole ratio."""

import cv2
import numpy as np
import pytest
from scipy import ndimage

from pconvkit.maskgen.augment import AugmentParams, augment, random_augment


def test_training_masks_from_small_sparse_holes_are_never_all_hole():
    from pconvkit.maskgen.augment import AugmentedMasks

    raw = np.ones((1500, 2000), np.uint8)
    raw[20:26, 30:36] = 0
    raw[1400:1404, 1900:1904] = 0
    masks = AugmentedMasks([raw], 512, seed=0)
    ratios = [float((masks[i] == 0).mean()) for i in range(40)]
    assert max(ratios) < 0.05 and min(ratios) == 0.0  # crops far from both holes hold no hole at all


def test_augmentation_is_reproducible_and_dilation_grows_holes():
    valid = np.ones((300, 400), np.uint8)
    cv2.circle(valid, (200, 150), 30, 0, -1)
    mask, params = random_augment(valid, np.random.default_rng(7), 256)
    assert np.array_equal(mask, augment(valid, params, 256)) and mask.shape == (256, 256)
    small = augment(valid, AugmentParams(5, 0.0, 72, 22), 256)
    large = augment(valid, AugmentParams(47, 0.0, 72, 22), 256)
    assert ((small == 0) <= (large == 0)).all() and (large == 0).sum() > (small == 0).sum()
    # a disk of radius 30 dilated by a 47-px square: the square, plus 4 side bands 47 x 30, plus the
    # disk (the Minkowski sum of a disk and a square); by a 47-px disk, a disk of radius 30 + 23
    assert (large == 0).sum() == pytest.approx(47**2 + 4 * 47 * 30 + np.pi * 30**2, rel=0.03)
    disk = augment(valid, AugmentParams(47, 0.0, 72, 22, "disk"), 256)
    assert (disk == 0).sum() == pytest.approx(np.pi * 53**2, rel=0.03)
    assert ((disk == 0) <= (large == 0)).all()  # the disk fits in the square


def test_square_footprint_turns_a_hole_pixel_into_an_axis_aligned_square_at_any_angle():
    valid = np.ones((256, 256), np.uint8)
    valid[128, 128] = 0
    for angle in (0.0, 30.0):
        holes = augment(valid, AugmentParams(9, angle, 0, 0), 256) == 0
        ys, xs = np.nonzero(holes)
        assert holes.sum() == 81 and np.ptp(ys) == 8 and np.ptp(xs) == 8  # 9 x 9, never tilted


@pytest.mark.parametrize("size", [512, 250])  # a window that 4-px blocks tile, and one they do not
def test_the_cheap_bound_never_falls_below_the_largest_dilations_ratio(size):
    from pconvkit.maskgen.augment import (
        KERNEL_RANGE,
        half_pixel_steps,
        largest_ratio_bound,
        random_geometry,
        rotated_window,
        window_distance,
    )

    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(60):
        valid = np.ones((300, 420), np.uint8)
        for _ in range(int(rng.integers(1, 40))):  # specks and strokes, as raw masks have
            x, y = rng.integers(0, 420), rng.integers(0, 300)
            cv2.line(valid, (int(x), int(y)), (int(x + rng.integers(-60, 60)), int(y + rng.integers(-60, 60))), 0, 1)
        angle, crop_x, crop_y = random_geometry(rng, valid.shape, size)
        window = rotated_window(valid, angle, crop_x, crop_y, size)
        for footprint in ("square", "disk"):
            holes = half_pixel_steps(window_distance(window, size, footprint)) <= KERNEL_RANGE[1] - 1
            for margin in (0, 50):
                interior = holes[margin : size - margin, margin : size - margin]
                true_ratio = interior.sum() / size**2
                bound = largest_ratio_bound(window, size, margin)
                assert true_ratio <= bound <= true_ratio + 0.3  # never below; loose, not useless
                checked += true_ratio < 0.6
    assert checked > 100  # mostly crops below the top bin, where skipping them matters


def test_the_cheap_bound_holds_for_a_one_pixel_hole_anywhere_in_its_block():
    """A 4 x 4 block holds a hole whichever of its 16 pixels it is: the bound never misses it."""
    from pconvkit.maskgen.augment import (
        KERNEL_RANGE,
        MAX_RADIUS,
        half_pixel_steps,
        largest_ratio_bound,
        window_distance,
    )

    size = 64
    # inside the crop, and in the border outside it, as far as the largest dilation reaches in
    side = size + 2 * MAX_RADIUS
    edges = [p for x in [*range(1, 9), *range(side - 9, side - 1)] for p in ((40, x), (x, 40))]
    for row, column in [(40 + dy, 52 + dx) for dy in range(4) for dx in range(4)] + edges:
        window = np.ones((side, side), np.uint8)
        window[row, column] = 0
        for footprint in ("square", "disk"):
            holes = half_pixel_steps(window_distance(window, size, footprint)) <= KERNEL_RANGE[1] - 1
            assert largest_ratio_bound(window, size, 0) >= holes.sum() / size**2 > 0, (row, column, footprint)


def test_a_training_kernel_range_from_one_keeps_one_pixel_holes_and_draws_every_kernel():
    from pconvkit.maskgen.augment import AugmentedMasks, random_params

    valid = np.ones((513, 513), np.uint8)
    valid[256, 256] = 0  # the rotation's centre: it stays one pixel at any angle
    for kernel in (1, 3):
        masks = AugmentedMasks([valid], 512, seed=0, kernel_range=(kernel, kernel))
        assert [int((masks[i] == 0).sum()) for i in range(5)] == [kernel**2] * 5
    rng = np.random.default_rng(0)
    drawn = {random_params(rng, valid.shape, 512, kernel_range=(1, 6)).kernel for _ in range(300)}
    assert drawn == {1, 2, 3, 4, 5, 6}
    with pytest.raises(ValueError, match="not within 1-47"):
        random_params(rng, valid.shape, 512, kernel_range=(0, 47))
    with pytest.raises(ValueError, match="not within 1-47"):
        AugmentedMasks([valid], 512, kernel_range=(9, 3))


def _slow_augment(raw_valid, quarter_turns, crop_x, crop_y, size, kernel, footprint):
    """The augmentation written out: np.rot90 (exact for a square source), valid beyond the source,
    the holes dilated by SciPy with the footprint itself (a kernel x kernel square, or the disk of
    diameter kernel: offsets within (kernel - 1) / 2), then the crop."""
    radius = (kernel - 1) / 2
    reach = int(radius)
    offsets = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    structure = np.ones((2 * reach + 1,) * 2, bool)
    if footprint == "disk":
        structure = (offsets**2).sum(0) <= radius**2
    rotated = np.pad(np.rot90(raw_valid, quarter_turns), reach, constant_values=1)
    holes = ndimage.binary_dilation(rotated == 0, structure)
    top, left = crop_y + reach, crop_x + reach  # in the padded frame
    return (~holes[top : top + size, left : left + size]).astype(np.uint8)


@pytest.mark.parametrize("footprint, size", [("square", 64), ("disk", 64), ("square", 56)])  # 56: not a power of 2
def test_the_augmentation_is_the_slow_obvious_one_at_quarter_turns(footprint, size):
    rng = np.random.default_rng(0)
    raw = (rng.random((24, 24)) > 0.02).astype(np.uint8)
    raw = cv2.resize(raw, (96, 96), interpolation=cv2.INTER_NEAREST)  # blocks of 4 px, some on the edge
    raw[0, 10:14] = raw[95, 50] = 0  # holes on the source's edges, whose dilation leaves it
    for quarter_turns in range(4):
        for kernel in (1, 2, 5, 6, 13, 47):
            crop_x, crop_y = (int(v) for v in rng.integers(0, 96 - size + 1, 2))
            expected = _slow_augment(raw, quarter_turns, crop_x, crop_y, size, kernel, footprint)
            params = AugmentParams(kernel, 90.0 * quarter_turns, crop_x, crop_y, footprint)
            assert np.array_equal(augment(raw, params, size), expected), (quarter_turns, kernel)


def test_a_source_smaller_than_the_crop_is_scaled_up_by_whole_pixels():
    """A 16 x 16 raw mask for 64 px masks: each source pixel becomes a 4 x 4 block, then the
    rotation and dilation of the scaled source are the slow obvious ones."""
    rng = np.random.default_rng(5)
    raw = (rng.random((16, 16)) > 0.1).astype(np.uint8)
    scaled = np.kron(raw, np.ones((4, 4), np.uint8))
    for quarter_turns in (0, 2):
        for kernel in (1, 5):
            expected = _slow_augment(scaled, quarter_turns, 0, 0, 64, kernel, "square")
            assert np.array_equal(augment(raw, AugmentParams(kernel, 90.0 * quarter_turns, 0, 0), 64), expected)


def test_a_half_turn_of_an_oblong_source_is_np_rot90_twice():
    rng = np.random.default_rng(3)
    raw = cv2.resize((rng.random((20, 28)) > 0.03).astype(np.uint8), (112, 80), interpolation=cv2.INTER_NEAREST)
    for kernel in (1, 5, 47):
        crop_x, crop_y = int(rng.integers(0, 112 - 64 + 1)), int(rng.integers(0, 80 - 64 + 1))
        expected = _slow_augment(raw, 2, crop_x, crop_y, 64, kernel, "square")
        assert np.array_equal(augment(raw, AugmentParams(kernel, 180.0, crop_x, crop_y), 64), expected), kernel


def test_random_geometry_draws_every_angle_and_every_crop_of_the_scaled_source():
    from pconvkit.maskgen.augment import random_geometry, scaled_shape

    rng = np.random.default_rng(0)
    assert scaled_shape((40, 56), 64) == (64, 90)  # the shorter side scaled up to the size: 1.6 x
    draws = np.array([random_geometry(rng, (40, 56), 64) for _ in range(3000)])
    angles, crop_x, crop_y = draws.T
    assert 0 <= angles.min() < 1 and 359 < angles.max() < 360
    assert set(crop_x.astype(int)) == set(range(90 - 64 + 1)) and set(crop_y.astype(int)) == {0}
    # a tall source, and an odd count of crop positions: 57 x 40 scaled 1.6 x is 91 x 64
    assert scaled_shape((57, 40), 64) == (91, 64)
    crops = np.array([random_geometry(rng, (57, 40), 64)[1:] for _ in range(3000)]).astype(int)
    assert set(crops[:, 0]) == {0} and set(crops[:, 1]) == set(range(91 - 64 + 1))
    crops = np.array([random_geometry(rng, (40, 57), 64)[1:] for _ in range(3000)]).astype(int)
    assert set(crops[:, 0]) == set(range(91 - 64 + 1)) and set(crops[:, 1]) == {0}


def test_the_augmentations_defaults_are_the_papers_and_the_builds():
    """512 px masks (Section 4.1) wherever a size is not given; the training stream's default seed
    is the test set's; and its nominal length outlasts the default training run, so that a
    DataLoader over it never starts a second epoch of the same masks."""
    import inspect

    from pconvkit.maskgen.augment import AugmentedMasks, augment, random_augment, random_params
    from pconvkit.maskgen.build import BenchmarkSettings
    from pconvkit.models.config import TrainConfig

    for function in (augment, random_augment, random_params, AugmentedMasks):
        assert inspect.signature(function).parameters["size"].default == 512, function
    stream = AugmentedMasks([np.ones((600, 600), np.uint8)])
    assert stream.size == 512 and stream.seed == BenchmarkSettings().seed == 0
    training = TrainConfig(images="i", masks="m", out="o")
    assert len(stream) >= training.batch_size * training.steps
