"""Around the network: a pair is checked, padded to the stride without padding being read as
content, and the output cropped back to the input's size."""

import numpy as np
import pytest

from pconvkit.errors import UserError
from pconvkit.models.preprocess import check_fits_in_memory, check_pair, crop_output, pad_to_stride


@pytest.mark.parametrize("stride, side", [(4, 8), (16, 16)])  # 16: pads longer than the sides
def test_padding_marks_the_pad_as_hole_and_the_output_is_cropped_back(stride, side):
    rng = np.random.default_rng(0)
    images, masks = rng.random((2, 5, 6, 3), dtype=np.float32), np.ones((2, 5, 6), np.float32)
    masks[1, 2:4, 1:3] = 0
    padded, padded_masks = pad_to_stride(images, masks, stride=stride)
    assert padded.shape == (2, 3, side, side) and padded_masks.shape == (2, 1, side, side)
    assert (padded_masks[:, 0, 5:, :] == 0).all() and (padded_masks[:, 0, :, 6:] == 0).all()
    assert np.array_equal(padded_masks[:, 0, :5, :6], masks)
    assert np.array_equal(crop_output(padded, 5, 6), images)


def test_the_network_output_does_not_depend_on_the_padding():
    """The pad is hole: whatever values it holds, the networks (PConv, and Conv with its
    placeholder) give the same output on the image's own pixels."""
    import torch

    from pconvkit.models.unet import PConvUNet, UNetConfig

    rng = np.random.default_rng(1)
    images, masks = rng.random((1, 13, 11, 3), dtype=np.float32), np.ones((1, 13, 11), np.float32)
    masks[0, 4:7, 3:9] = 0
    padded, padded_masks = pad_to_stride(images, masks, stride=16)
    other = np.where(padded_masks == 1, padded, rng.random(padded.shape, dtype=np.float32) * 50)
    for partial in (True, False):
        torch.manual_seed(0)
        network = PConvUNet(UNetConfig(layers=4, width=0.1, partial=partial)).eval()
        with torch.no_grad():
            ours, theirs = (
                network(torch.from_numpy(x), torch.from_numpy(padded_masks)).numpy() for x in (padded, other)
            )
        assert np.array_equal(crop_output(ours, 13, 11), crop_output(theirs, 13, 11))


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


@pytest.mark.parametrize("channel_width, gib", [(1.0, "246.0"), (0.5, "131.0")])
def test_the_memory_estimate_is_920_bytes_per_pixel_and_width_plus_64(monkeypatch, channel_width, gib):
    """The measured law (460 bytes per pixel for the half-width network, doubled as a margin, plus
    64 for the arrays around it), by hand: 16384^2 px = 0.25 Gi px, so a byte per pixel is 0.25 GiB."""
    monkeypatch.setattr("pconvkit.memory.available_bytes", lambda: 2**30)
    with pytest.raises(UserError, match=rf"needs about {gib} GiB"):
        check_fits_in_memory(16384, 16384, channel_width)
