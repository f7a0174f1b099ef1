import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pconvkit.errors import UserError
from pconvkit.maskgen.bins import (
    BINS,
    bin_index,
    border_category,
    border_distance,
    border_frame,
    check_polarity,
    check_size_holds_every_bin,
    classify,
    hole_ratio,
    within,
)


def mask_with_hole(top, left, height, width, size=512):
    valid = np.ones((size, size), np.uint8)
    valid[top : top + height, left : left + width] = 0
    return valid


def test_hole_ratio_and_bin_edges_are_half_open():
    assert hole_ratio(mask_with_hole(0, 0, 256, 512)) == 0.5
    assert bin_index(0.5) == 4 and bin_index(0.5 + 1e-9) == 5
    assert bin_index(0.01) is None and bin_index(0.6) == 5 and bin_index(0.61) is None
    assert len(BINS) == 6
    ratios = np.array([0.01, 0.0100001, 0.05, 0.1, 0.1000001])
    assert within(ratios, 0.01, 0.1).tolist() == [False, True, True, True, False]
    assert within(0.1, 0.01, 0.1) and not within(0.01, 0.01, 0.1)


def test_border_distance_and_category():
    inner = mask_with_hole(50, 60, 100, 100)
    assert border_distance(inner) == 50 and border_category(inner) == "N"
    touching = mask_with_hole(49, 60, 100, 100)
    assert border_distance(touching) == 49 and border_category(touching) == "B"
    far_side = mask_with_hole(100, 100, 100, 512 - 100 - 49)  # last hole column 462, 49 px from column 511
    assert border_distance(far_side) == 49 and border_category(far_side) == "B"
    assert border_distance(np.ones((8, 8), np.uint8)) is None


@pytest.mark.parametrize("height", [60, 120, 250])
def test_classify_measures(height):
    valid = mask_with_hole(100, 100, height, 300)
    category, index, ratio = classify(valid)
    assert category == "N" and ratio == pytest.approx(height * 300 / 512**2)
    low, high = BINS[index]
    assert low < ratio <= high


# Properties, over masks hypothesis draws (a few hundred of every shape, hole layout and margin).


@st.composite
def _masks(draw):
    """A valid mask with 0 to 3 rectangular holes anywhere, touching any side or none."""
    height, width = draw(st.integers(8, 40)), draw(st.integers(8, 40))
    valid = np.ones((height, width), np.uint8)
    for _ in range(draw(st.integers(0, 3))):
        top, left = draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))
        valid[top : top + draw(st.integers(1, height - top)), left : left + draw(st.integers(1, width - left))] = 0
    return valid


@settings(max_examples=200, deadline=None)
@given(_masks(), st.integers(0, 12))
def test_a_mask_lands_in_the_bin_its_hole_area_says_and_n_means_no_hole_near_the_border(valid, margin):
    category, index, ratio = classify(valid, margin)
    holes = np.argwhere(valid == 0)
    assert ratio == len(holes) / valid.size
    inside = [i for i, (low, high) in enumerate(BINS) if low < ratio <= high]
    assert (index is None and not inside) or inside == [index]
    height, width = valid.shape
    near = any(min(r, c, height - 1 - r, width - 1 - c) < margin for r, c in holes)
    assert category == ("B" if near else "N")

    distance = border_distance(valid)
    assert distance == (min(min(r, c, height - 1 - r, width - 1 - c) for r, c in holes) if len(holes) else None)


def test_the_border_frame_is_margin_pixels_wide_on_every_side():
    for (height, width), margin in (((7, 9), 2), ((12, 9), 3), ((9, 12), 3)):
        frame = border_frame((height, width), margin)
        inner = frame[margin : height - margin, margin : width - margin]
        assert frame.sum() == height * width - inner.size and not inner.any()
        assert frame[:margin].all() and frame[-margin:].all() and frame[:, :margin].all() and frame[:, -margin:].all()


@pytest.mark.parametrize(
    "ratios,hole_white,message",
    [
        ([0.7, 0.8, 0.95, 0.05], False, r"3 of 4 masks fall outside .* read with --hole-white \(75% of them"),
        ([0.7, 0.8, 0.9], True, r"read without --hole-white"),
        ([0.65, 0.005, 0.0], False, r"3 of 3 masks .* check the polarity \(--hole-white\)"),
        ([0.61], False, r"^mask SRC fall outside .*\(mean hole ratio 0.61\); they look inverted"),
        ([0.7, 0.995], False, r"^SRC: 2 of 2 masks fall .* check the polarity"),  # half would fit inverted: not most
        ([0.005, 0.7, 0.8], False, r"3 of 3 masks"),  # a set whose first mask has a small hole
    ],
)
def test_sets_mostly_outside_the_bins_are_stopped_with_what_they_look_like(ratios, hole_white, message):
    with pytest.raises(UserError, match=message):
        check_polarity("SRC", ratios, hole_white)


@pytest.mark.parametrize("ratios", [[], [0.6], [0.005], [0.7, 0.2, 0.3], [0.0, 0.5], [0.6, 0.61]])
def test_sets_mostly_in_a_bin_and_single_masks_up_to_0_6_pass(ratios):
    check_polarity("SRC", ratios, False)


def test_a_size_whose_n_masks_cannot_reach_the_last_bin_is_refused_with_the_smallest_that_can():
    """An N mask keeps a margin-px frame valid: at most ((size - 2 margin) / size)^2 of hole, which
    must exceed 0.5. By hand, for the paper's 50 px: size > 100 / (1 - sqrt(0.5)) = 341.4, so 342."""
    check_size_holds_every_bin(342, 50)  # (242 / 342)^2 = 0.5007
    with pytest.raises(
        UserError,
        match=r"--size 341 with a 50-px border frame leaves N masks at most 50% hole, "
        r"short of the bin 0.5-0.6: give --size 342 or more",
    ):
        check_size_holds_every_bin(341, 50)  # (241 / 341)^2 = 0.4995
    with pytest.raises(UserError, match=r"--size 64 with a 40-px .* at most 0% hole.* give --size 274 or more"):
        check_size_holds_every_bin(64, 40)  # the frame covers it all
    check_size_holds_every_bin(8, 0)
    with pytest.raises(UserError, match="at most 0% hole"):
        check_size_holds_every_bin(2, 2)  # a frame wider than the image: no interior at all
    check_size_holds_every_bin(512)  # the paper's margin by default
    with pytest.raises(UserError, match="give --size 342"):
        check_size_holds_every_bin(300)


def test_the_papers_test_set_constants():
    """Section 4.1: 512 x 512 masks, six bins of 0.1 from 0.01 to 0.6, a 50-px border for N."""
    from pconvkit.maskgen.bins import BIN_EDGES, BORDER_MARGIN, CATEGORIES, MASK_SIZE

    assert (MASK_SIZE, BORDER_MARGIN, CATEGORIES) == (512, 50, ("N", "B"))
    assert BIN_EDGES == (0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
