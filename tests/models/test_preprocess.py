"""Around the network: a pair is checked, padded to the stride without padding being read as
content, and the output cropped back to the input's size."""

import numpy as np
import pytest

from pconvkit.errors import UserError
from pconvkit.models.preprocess import check_fits_in_memory, check_pair, crop_output, pad_to_stride


def test_padding_marks_the_pad_as_hole_and_reflects_the_image():
    rng = np.random.default_rng(0)
    images, masks = rng.random((2, 5, 6, 3), dtype=np.float32), np.ones((2, 5, 6), np.float32)
    padded, padded_masks = pad_to_stride(images, masks, stride=4)
    assert padded.shape == (2, 3, 8, 8) and padded_masks.shape == (2, 1, 8, 8)
    assert (padded_masks[:, 0, 5:, :] == 0).all() and (padded_masks[:, 0, :, 6:] == 0).all()
    assert (padded_masks[:, 0, :5, :6] == 1).all()
    assert np.array_equal(padded[:, :, 5, :6], images[:, 3, :, :].transpose(0, 2, 1))  # reflected, not copied edge
    assert np.array_equal(crop_output(padded, 5, 6), images)


def test_a_pad_longer_than_the_side_replicates_the_edge():
    images, masks = np.full((1, 1, 3, 3), 0.5, np.float32), np.ones((1, 1, 3), np.float32)
    padded, _ = pad_to_stride(images, masks, stride=8)
    assert padded.shape == (1, 3, 8, 8) and (padded == 0.5).all()


def test_a_pair_of_other_sizes_or_a_grey_mask_is_refused():
    image = np.zeros((4, 6, 3))
    with pytest.raises(UserError, match="mask is 4x6 but image is 6x4"):
        check_pair(image, np.ones((6, 4)))
    with pytest.raises(UserError, match="not binary"):
        check_pair(image, np.full((4, 6), 0.5))
    check_pair(image, np.ones((4, 6)))


def test_an_image_too_large_for_the_memory_is_refused_before_the_forward_pass(monkeypatch):
    monkeypatch.setattr("pconvkit.memory.available_bytes", lambda: 8 * 2**30)
    check_fits_in_memory(2048, 2048, 0.5)
    with pytest.raises(UserError, match=r"inpainting a 8192x8192 image .* GiB of memory"):
        check_fits_in_memory(8192, 8192, 0.5)
