import dataclasses

import cv2
import numpy as np
import pytest
from scipy import ndimage

from pconvkit.maskgen.occlusion import (
    ConsistencyThresholds,
    _central_gradient,
    _pixel_grid,
    clean_holes,
    occluded_pixels,
    occlusions_and_disocclusions,
    raw_mask_from_flows,
)

SIZE, SQUARE, SHIFT = 96, (30, 60), 8  # a square over rows/cols 30..59 moves 8 px right


def square_flows():
    """Exact flows of a square moving SHIFT px right over a static background."""
    forward = np.zeros((SIZE, SIZE, 2), np.float32)
    backward = np.zeros((SIZE, SIZE, 2), np.float32)
    low, high = SQUARE
    forward[low:high, low:high, 0] = SHIFT  # frame 1: the square is at cols low..high
    backward[low:high, low + SHIFT : high + SHIFT, 0] = -SHIFT  # frame 2: it is at low+SHIFT..high+SHIFT
    return forward, backward


def test_forward_check_finds_the_hidden_strip():
    forward, backward = square_flows()
    occluded = occluded_pixels(forward, backward, ConsistencyThresholds(motion_boundaries=False))
    low, high = SQUARE
    expected = np.zeros((SIZE, SIZE), bool)
    expected[low:high, high : high + SHIFT] = True  # background covered by the square's leading edge
    assert np.array_equal(occluded, expected)


def test_both_directions_give_hidden_and_revealed_strips_and_little_else():
    forward, backward = square_flows()
    valid = raw_mask_from_flows(forward, backward, min_area=16)
    holes = valid == 0
    low, high = SQUARE
    hidden = np.zeros_like(holes)
    hidden[low:high, high : high + SHIFT] = True
    revealed = np.zeros_like(holes)
    revealed[low:high, low : low + SHIFT] = True
    assert holes[hidden].mean() > 0.95 and holes[revealed].mean() > 0.95
    near = np.zeros_like(holes)
    near[low - 3 : high + 3, low - 3 : high + SHIFT + 3] = True
    assert holes[~near].sum() == 0  # nothing far from the moving square
    assert holes.sum() < 1.6 * (hidden.sum() + revealed.sum())  # boundaries add a thin rim only


def test_static_scene_has_no_holes():
    zero = np.zeros((SIZE, SIZE, 2), np.float32)
    assert raw_mask_from_flows(zero, zero).all()


def test_flow_leaving_the_frame_is_valid_by_default_and_a_hole_on_request():
    forward = np.full((SIZE, SIZE, 2), 0, np.float32)
    forward[..., 0] = 5.0  # global pan: the last 5 columns leave the frame
    backward = -forward
    default = occluded_pixels(forward, backward)
    assert not default.any()
    strict = occluded_pixels(forward, backward, ConsistencyThresholds(out_of_frame_is_hole=True))
    assert strict[:, -5:].all() and not strict[:, :-6].any()


# --- against references: Sundaram et al.'s constants, NumPy's gradient, a slow, obvious check ---


def test_the_default_thresholds_are_sundaram_et_als():
    """Section 4.1 of Sundaram et al. (2010): |w + w^|^2 < 0.01 (|w|^2 + |w^|^2) + 0.5 and
    |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002."""
    defaults = ConsistencyThresholds()
    assert (defaults.relative, defaults.absolute) == (0.01, 0.5)
    assert (defaults.boundary_relative, defaults.boundary_absolute) == (0.01, 0.002)
    assert defaults.motion_boundaries and defaults.boundary_noise == 30.0  # the documented noise floor
    with pytest.raises(dataclasses.FrozenInstanceError):  # a default argument shared by every call
        defaults.relative = 0.5


def test_a_pixel_exactly_on_a_threshold_is_consistent():
    """Sundaram et al.'s inequalities are strict: with both absolute terms 0, a static scene (every
    term 0) has no hole."""
    zero = np.zeros((16, 16, 2), np.float32)
    on_the_threshold = ConsistencyThresholds(absolute=0.0, boundary_absolute=0.0, boundary_noise=0.0)
    assert not occluded_pixels(zero, zero, on_the_threshold).any()


@pytest.mark.parametrize("shapes", [((10, 12, 2), (12, 10, 2)), ((12, 10, 2), (10, 12, 2))])
def test_flows_of_different_sizes_are_refused(shapes):
    forward, backward = (np.zeros(shape, np.float32) for shape in shapes)
    with pytest.raises(ValueError) as error:
        raw_mask_from_flows(forward, backward)
    assert str(error.value) == f"forward flow {shapes[0][:2]} and backward flow {shapes[1][:2]} differ in size"


def test_the_shared_pixel_grid_is_read_only():
    grid_x, grid_y = _pixel_grid(4, 5)
    assert not grid_x.flags.writeable and not grid_y.flags.writeable


@pytest.mark.parametrize("shape", [(2, 2), (3, 7), (17, 5)])
def test_the_flow_gradient_is_numpys(shape):
    channel = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    d_dy, d_dx = _central_gradient(channel)
    expected_dy, expected_dx = np.gradient(channel.astype(np.float64))
    np.testing.assert_allclose(d_dy, expected_dy, atol=1e-6)
    np.testing.assert_allclose(d_dx, expected_dx, atol=1e-6)


def _random_flows(seed, size=48):
    """A smooth random flow of a few px and, backward, its negative, but for a box whose content
    moved its own way (so its round trip fails): on a 1/8-px lattice, where OpenCV's bilinear remap,
    whose weights are multiples of 1/32, is exact."""
    rng = np.random.default_rng(seed)
    forward = cv2.resize(rng.normal(0, 2, size=(6, 6, 2)).astype(np.float32), (size, size), cv2.INTER_CUBIC)
    backward = -forward
    backward[10:30, 12:28] += rng.normal(0, 4, 2).astype(np.float32)
    return [np.round(flow * 8) / 8 for flow in (forward, backward)]


def _slow_check(forward, backward, thresholds):
    """Sundaram et al.'s check written out in float64, pixel by pixel: (verdict, its margin)."""
    height, width = forward.shape[:2]
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float64)
    target_x, target_y = columns + forward[..., 0], rows + forward[..., 1]
    inside = (target_x >= 0) & (target_x <= width - 1) & (target_y >= 0) & (target_y <= height - 1)
    w_hat = np.stack(
        [ndimage.map_coordinates(backward[..., c].astype(np.float64), [target_y, target_x], order=1) for c in (0, 1)],
        axis=-1,
    )
    forward = forward.astype(np.float64)
    norm = (forward**2).sum(-1)
    margin = ((forward + w_hat) ** 2).sum(-1) - thresholds.relative * (norm + (w_hat**2).sum(-1)) - thresholds.absolute
    verdict = margin > 0
    if thresholds.motion_boundaries:
        gradient = sum(g**2 for c in (0, 1) for g in np.gradient(forward[..., c]))
        absolute = max(thresholds.boundary_absolute, thresholds.boundary_noise * np.median(gradient[::4, ::4]))
        boundary_margin = gradient - thresholds.boundary_relative * norm - absolute
        verdict |= boundary_margin > 0
        margin = np.maximum(margin, boundary_margin)  # the verdict is an or: the larger margin decides it
    verdict = verdict | ~inside if thresholds.out_of_frame_is_hole else verdict & inside
    return verdict, margin


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(
    "thresholds",
    [
        ConsistencyThresholds(motion_boundaries=False),
        ConsistencyThresholds(motion_boundaries=False, out_of_frame_is_hole=True),
        ConsistencyThresholds(boundary_noise=0.0),
        ConsistencyThresholds(boundary_noise=3.0),
    ],
    ids=["round-trip", "out-of-frame-is-hole", "boundaries", "boundaries-above-noise"],
)
def test_the_check_is_the_slow_obvious_one(seed, thresholds):
    forward, backward = _random_flows(seed)
    expected, margin = _slow_check(forward, backward, thresholds)
    found = occluded_pixels(forward, backward, thresholds)
    decided = np.abs(margin) > 1e-3  # float32 against float64: only pixels on the threshold may differ
    assert decided.mean() > 0.99 and 0.02 < expected.mean() < 0.98  # a case where the verdicts are not all one way
    assert np.array_equal(found[decided], expected[decided])


@pytest.mark.parametrize("threads", [1, 2])
def test_holes_are_occlusions_and_disocclusions_with_any_thread_count(threads):
    forward, backward = _random_flows(2)
    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        both = occlusions_and_disocclusions(forward, backward)
    finally:
        cv2.setNumThreads(before)
    expected = occluded_pixels(forward, backward) | occluded_pixels(backward, forward)
    assert np.array_equal(both, expected) and expected.any() and not expected.all()


# --- clean-up: each step by its own case ---


def test_clean_up_drops_components_under_min_area_and_keeps_those_of_it():
    holes = np.zeros((20, 20), bool)
    holes[1:4, 1:5] = True  # 12 px
    holes[10:14, 10:14] = True  # 16 px
    kept = clean_holes(holes, close_size=0, min_area=16)
    assert not kept[1:4, 1:5].any() and kept[10:14, 10:14].all()


def test_the_default_clean_up_drops_components_under_10_pixels_and_closes_one_pixel_gaps():
    holes = np.zeros((40, 40), bool)
    holes[2:5, 2:5] = True  # 9 px: flow noise
    holes[10:12, 10:15] = True  # 10 px
    holes[20:30, 20:30] = True
    holes[20:30, 25] = False  # a one-pixel break
    cleaned = clean_holes(holes)
    assert not cleaned[2:5, 2:5].any() and cleaned[10:12, 10:15].all() and cleaned[21:29, 25].all()


def test_closing_fills_a_one_pixel_gap_only_when_asked():
    holes = np.zeros((20, 20), bool)
    holes[5:15, 5:15] = True
    holes[5:15, 10] = False  # a one-pixel gap through the block
    for no_closing in (0, 1):
        assert not clean_holes(holes, close_size=no_closing, min_area=1)[5:15, 10].any()
    for closing in (2, 3):
        assert clean_holes(holes, close_size=closing, min_area=1)[6:14, 10].all()


def test_opening_removes_speckle_and_keeps_blocks():
    holes = np.zeros((30, 30), bool)
    holes[2:4, 2:4] = True  # speckle
    holes[10:20, 10:20] = True
    opened = clean_holes(holes, close_size=0, open_size=3, min_area=1)
    assert not opened[2:4, 2:4].any() and opened[11:19, 11:19].all()
    holes[25, 25] = True  # a one-pixel speckle, which the smallest opening (2 px) removes
    assert not clean_holes(holes, close_size=0, open_size=2, min_area=1)[25, 25]
    assert clean_holes(holes, close_size=0, open_size=0, min_area=1)[2:4, 2:4].all()


@pytest.mark.parametrize("side", [512, 520])  # 2^16 and 67,600 one-pixel components: more labels than 16 bits hold
def test_more_components_than_16_bit_labels_hold_are_all_kept(side):
    holes = np.zeros((side, side), bool)
    holes[::2, ::2] = True  # one-pixel components, none touching another
    assert np.array_equal(clean_holes(holes, close_size=0, min_area=1), holes)
