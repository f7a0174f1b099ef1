"""Images and masks (`pconvkit.images`): the file rule for masks and images, compositing, the blank
a method receives in its holes, and the hole tile."""

import cv2
import numpy as np
import pytest
from helpers import valid_mask
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pconvkit.errors import UserError
from pconvkit.images import (
    HOLE_FILL,
    blank_holes,
    composite,
    mask_to_png,
    read_image,
    read_mask,
    show_holes,
)


def square_mask():
    valid = np.ones((20, 30), np.uint8)
    valid[5:12, 8:20] = 0
    return valid


@pytest.mark.parametrize("hole_white", [False, True])
def test_a_mask_round_trips_through_its_png_in_either_polarity(tmp_path, hole_white):
    valid = square_mask()
    cv2.imwrite(str(tmp_path / "m.png"), mask_to_png(valid, hole_white))
    assert np.array_equal(read_mask(tmp_path / "m.png", hole_white), valid)
    assert np.array_equal(read_mask(tmp_path / "m.png", not hole_white), 1 - valid)  # the other polarity inverts


@pytest.mark.parametrize(
    "dtype, top", [(np.uint8, 1), (np.uint8, 255), (np.uint16, 65535), (np.uint16, 255), (np.uint16, 1)]
)
def test_a_binary_mask_is_read_in_its_own_range(tmp_path, dtype, top):
    valid = square_mask()
    cv2.imwrite(str(tmp_path / "m.png"), valid.astype(dtype) * dtype(top))
    assert np.array_equal(read_mask(tmp_path / "m.png"), valid)


def test_a_grey_mask_is_refused_unless_a_threshold_binarises_it(tmp_path):
    ramp = np.tile(np.linspace(0, 255, 30).astype(np.uint8), (20, 1))
    cv2.imwrite(str(tmp_path / "m.png"), ramp)
    with pytest.raises(UserError, match="not binary.*--mask-threshold"):
        read_mask(tmp_path / "m.png")
    binarised = read_mask(tmp_path / "m.png", threshold=0.5)
    assert np.array_equal(binarised, (ramp >= 127.5).astype(np.uint8))


def test_images_of_every_depth_read_as_rgb_in_zero_to_one(tmp_path):
    grey16 = np.full((20, 20), 32768, np.uint16)
    cv2.imwrite(str(tmp_path / "g.png"), grey16)
    image = read_image(tmp_path / "g.png")
    assert image.shape == (20, 20, 3) and image.dtype == np.float32
    assert np.allclose(image, 32768 / 65535)
    bgra = np.zeros((20, 20, 4), np.uint8)
    bgra[..., 2], bgra[..., 3] = 255, 0  # pure red, fully transparent: the colour is used as stored
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    assert np.array_equal(read_image(tmp_path / "a.png")[0, 0], [1.0, 0.0, 0.0])


def test_compositing_keeps_every_known_pixel_and_clips_the_holes():
    valid = square_mask()
    image = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    output = np.full_like(image, 1.7)
    result = composite(output, image, valid)
    assert np.array_equal(result[valid == 1], image[valid == 1])
    assert (result[valid == 0] == 1.0).all()  # 1.7 clipped to the image range


def test_the_blank_and_the_tile_change_only_the_holes():
    valid = np.stack([square_mask(), np.ones((20, 30), np.uint8)])  # a batch: one mask without a hole
    images = np.random.default_rng(1).random((2, 20, 30, 3)).astype(np.float32)
    blanked = blank_holes(images, valid)
    assert (blanked[valid == 0] == HOLE_FILL).all() and np.array_equal(blanked[valid == 1], images[valid == 1])
    assert np.array_equal(blanked[1], images[1])
    tile = show_holes(images[0], valid[0])
    assert (tile[valid[0] == 0] == 1.0).all() and np.array_equal(tile[valid[0] == 1], images[0][valid[0] == 1])


@pytest.mark.parametrize(
    "values,dtype",
    [((0, 1), np.uint8), ((0, 255), np.uint8), ((0, 1), np.uint16), ((0, 255), np.uint16), ((0, 65535), np.uint16)],
)
def test_binary_masks_in_their_own_range_are_read_as_they_mean(tmp_path, values, dtype):
    valid = valid_mask()
    cv2.imwrite(str(tmp_path / "m.png"), np.where(valid == 1, values[1], values[0]).astype(dtype))
    assert np.array_equal(read_mask(tmp_path / "m.png"), valid)
    assert np.array_equal(read_mask(tmp_path / "m.png", hole_white=True), 1 - valid)


def test_float_mask_and_single_value_masks(tmp_path):
    valid = valid_mask()
    cv2.imwrite(str(tmp_path / "m.tiff"), valid.astype(np.float32))
    assert np.array_equal(read_mask(tmp_path / "m.tiff"), valid)
    for value, expected in ((0, 0), (1, 1), (255, 1)):
        cv2.imwrite(str(tmp_path / "flat.png"), np.full((8, 8), value, np.uint8))
        assert (read_mask(tmp_path / "flat.png") == expected).all()


@pytest.mark.parametrize("kind", ["gradient", "two_greys", "jpeg_noise", "colour", "alpha_holes"])
def test_masks_that_are_not_binary_are_refused_with_what_was_found(tmp_path, kind):
    valid = valid_mask()
    path = tmp_path / "m.png"
    if kind == "gradient":
        cv2.imwrite(str(path), np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)))
    elif kind == "two_greys":
        cv2.imwrite(str(path), np.where(valid == 1, 200, 100).astype(np.uint8))
    elif kind == "jpeg_noise":
        path = tmp_path / "m.jpg"
        disc = cv2.circle(np.full((64, 64), 255, np.uint8), (30, 30), 13, 0, -1)  # curved edges ring in JPEG
        cv2.imwrite(str(path), disc, [cv2.IMWRITE_JPEG_QUALITY, 60])
    elif kind == "colour":
        colour = np.dstack([mask_to_png(valid)] * 3)
        colour[..., 0] = 0
        cv2.imwrite(str(path), colour)
    else:  # white everywhere, the holes only in the alpha channel
        cv2.imwrite(str(path), np.dstack([np.full((64, 64), 255, np.uint8)] * 3 + [mask_to_png(valid)]))
    with pytest.raises(UserError, match="not binary|colour|alpha"):
        read_mask(path)


def test_an_explicit_threshold_binarises(tmp_path):
    cv2.imwrite(str(tmp_path / "m.png"), np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1)))
    white = read_mask(tmp_path / "m.png", threshold=0.5)
    assert white[0, 31] == 0 and white[0, 32] == 1  # 128 / 255 >= 0.5


def test_float_16_bit_and_grey_images_are_read_in_zero_one(tmp_path):
    rgb = np.random.default_rng(0).random((20, 30, 3)).astype(np.float32)
    cv2.imwrite(str(tmp_path / "f.tiff"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    assert np.allclose(read_image(tmp_path / "f.tiff"), rgb)
    cv2.imwrite(str(tmp_path / "w.png"), (cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) * 65535).astype(np.uint16))
    assert np.allclose(read_image(tmp_path / "w.png"), rgb, atol=1e-4)
    cv2.imwrite(str(tmp_path / "big.tiff"), rgb * 255)
    with pytest.raises(UserError, match=r"must lie in \[0, 1\]"):
        read_image(tmp_path / "big.tiff")


@settings(max_examples=80, deadline=None)
@given(
    arrays(np.uint8, st.tuples(st.integers(2, 24), st.integers(2, 24)), elements=st.integers(0, 1)).filter(
        lambda valid: 0 < valid.sum() < valid.size  # both values present: a single-value file is its own case
    ),
    st.sampled_from([(np.uint8, 1), (np.uint8, 255), (np.uint16, 1), (np.uint16, 255), (np.uint16, 65535)]),
    st.booleans(),
    st.sampled_from([".png", ".tif"]),
)
def test_a_binary_mask_reads_back_as_it_was_written_in_any_range_and_polarity(
    tmp_path_factory, valid, encoding, hole_white, suffix
):
    dtype, white = encoding
    path = tmp_path_factory.mktemp("mask") / f"m{suffix}"
    cv2.imwrite(str(path), np.where((valid == 1) != hole_white, white, 0).astype(dtype))
    assert np.array_equal(read_mask(path, hole_white=hole_white), valid)
    assert np.array_equal(read_mask(path, hole_white=not hole_white), 1 - valid)
