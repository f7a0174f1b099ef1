import numpy as np

from pconvkit.maskgen.occlusion import ConsistencyThresholds, occluded_pixels, raw_mask_from_flows

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
