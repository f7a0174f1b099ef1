import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pconvkit.maskgen.bins import BINS, bin_index, border_category, border_distance, classify, hole_ratio


def mask_with_hole(top, left, height, width, size=512):
    valid = np.ones((size, size), np.uint8)
    valid[top : top + height, left : left + width] = 0
    return valid


def test_hole_ratio_and_bin_edges_are_half_open():
    assert hole_ratio(mask_with_hole(0, 0, 256, 512)) == 0.5
    assert bin_index(0.5) == 4 and bin_index(0.5 + 1e-9) == 5
    assert bin_index(0.01) is None and bin_index(0.6) == 5 and bin_index(0.61) is None
    assert len(BINS) == 6


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

_masks = st.integers(8, 40).flatmap(lambda side: arrays(np.uint8, (side, side + 3), elements=st.integers(0, 1)))


@settings(max_examples=200, deadline=None)
@given(_masks, st.integers(0, 12))
def test_a_mask_lands_in_the_bin_its_hole_area_says_and_n_means_no_hole_near_the_border(valid, margin):
    category, index, ratio = classify(valid, margin)
    holes = np.argwhere(valid == 0)
    assert ratio == len(holes) / valid.size
    inside = [i for i, (low, high) in enumerate(BINS) if low < ratio <= high]
    assert (index is None and not inside) or inside == [index]
    height, width = valid.shape
    near = any(min(r, c, height - 1 - r, width - 1 - c) < margin for r, c in holes)
    assert category == ("B" if near else "N")
