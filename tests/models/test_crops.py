"""Training crops (`models.crops`): a draw lies inside its photo, is a function of the generator's
state alone, and its colour jitter is the identity when it draws no change."""

import numpy as np
import pytest

from pconvkit.models.crops import CropDraw, draw_crop, jitter_colours


@pytest.mark.parametrize("shape, scale_jitter", [((300, 400), 1.0), ((300, 400), 2.0), ((100, 120), 1.0)])
def test_a_crop_lies_inside_its_photo(shape, scale_jitter):
    rng = np.random.default_rng(0)
    for _ in range(200):
        draw = draw_crop(rng, shape, 128, scale_jitter, 0.0)
        assert 1 <= draw.side <= min(shape)
        assert 0 <= draw.y <= shape[0] - draw.side and 0 <= draw.x <= shape[1] - draw.side
        assert draw.hue == 0.0 and draw.saturation == 1.0  # no colour jitter asked for


def test_native_resolution_crops_the_crop_size_where_the_photo_is_larger():
    draw = draw_crop(np.random.default_rng(3), (600, 800), 256, 1.0, 0.0)
    assert draw.side == 256  # scale jitter 1: the paper's crops at the photo's own resolution


def test_the_same_generator_state_gives_the_same_draw():
    first = [draw_crop(np.random.default_rng(7), (300, 400), 128, 1.5, 0.3) for _ in range(2)]
    assert first[0] == first[1]
    assert abs(first[0].hue) <= 180 * 0.3 and 0.7 <= first[0].saturation <= 1.3


def test_colour_jitter_without_change_is_the_identity():
    crop = np.random.default_rng(2).random((16, 16, 3)).astype(np.float32)
    same = jitter_colours(crop, CropDraw(0, 0, 16, False, 0.0, 1.0))
    assert np.abs(same - crop).max() < 1e-5
    grey = np.full((4, 4, 3), 0.4, np.float32)  # no saturation: hue and saturation changes leave it grey
    assert np.abs(jitter_colours(grey, CropDraw(0, 0, 4, False, 90.0, 1.3)) - grey).max() < 1e-5
