"""The device data pipeline draws the same masks as maskgen's augmentation and the same colours as
OpenCV's HSV conversion."""

import cv2
import numpy as np
import pytest
import torch

from pconvkit.maskgen.augment import AugmentedMasks, AugmentParams, augment
from pconvkit.maskgen.survey import mask_statistics
from pconvkit.models.device_data import DeviceBatches, hsv_to_rgb, rgb_to_hsv


def raw_pool():
    rng = np.random.default_rng(0)
    masks = []
    for shape in ((240, 320), (576, 768), (300, 300)):
        valid = np.ones(shape, np.uint8)
        for _ in range(6):  # outlines of moving objects: rings and strokes
            centre = (int(rng.integers(shape[1])), int(rng.integers(shape[0])))
            cv2.ellipse(valid, centre, (int(rng.integers(10, 60)), int(rng.integers(10, 60))), 0, 0, 300, 0, 2)
        masks.append(valid)
    return masks


def batches(masks, **options):
    images = [np.random.default_rng(1).random((300, 400, 3)).astype(np.float32)]
    return DeviceBatches(images, masks, 256, "cpu", **options)


def test_masks_equal_maskgen_augment_for_the_same_parameters():
    masks = raw_pool()
    data = batches(masks)
    cases = [(0, 0.0, 10, 5, 5), (2, 250.0, 20, 30, 47), (1, 10.0, 300, 200, 9), (2, 45.0, 40, 40, 21)]
    cases += [(0, 0.0, 10, 5, 1), (2, 45.0, 40, 40, 3)]  # training's smallest kernels: no or 1-px dilation
    device = data.render_masks(cases)[:, 0].numpy()
    for (source, angle, x, y, kernel), rendered in zip(cases, device):
        expected = augment(masks[source], AugmentParams(kernel, angle, x, y), 256)
        holes, expected_holes = rendered == 0, expected == 0
        assert expected_holes.any()
        assert abs(int(holes.sum()) - int(expected_holes.sum())) <= 0.01 * expected_holes.sum() + 2
        assert (holes & expected_holes).sum() / (holes | expected_holes).sum() > 0.98


@pytest.mark.slow
def test_masks_have_the_statistics_of_maskgen_augment_for_one_seed():
    masks = raw_pool()
    data = batches(masks)
    device = np.concatenate([data.batch(7, step, 16)[1][:, 0].numpy() for step in range(10)])
    reference = AugmentedMasks(masks, 256, seed=7)
    cpu = np.stack([reference[i] for i in range(len(device))])
    for name in ("hole_ratio", "components"):
        ours = np.mean([mask_statistics(m)[name] for m in device.astype(np.uint8)])
        theirs = np.mean([mask_statistics(m)[name] for m in cpu])
        assert abs(ours / theirs - 1) < 0.15, (name, ours, theirs)


def test_the_kernel_range_reaches_the_device_masks():
    masks = raw_pool()
    thin, thick = batches(masks, kernel_range=(1, 1)), batches(masks, kernel_range=(47, 47))
    thin_holes = (thin.batch(0, 0, 8)[1] == 0).sum()
    assert 0 < thin_holes < (thick.batch(0, 0, 8)[1] == 0).sum() / 4


def test_batches_are_a_function_of_seed_and_step():
    data = batches(raw_pool(), scale_jitter=2.0, color_jitter=0.5)
    first, again, other = data.batch(3, 5, 4), data.batch(3, 5, 4), data.batch(3, 6, 4)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], other[1])
    assert first[0].shape == (4, 3, 256, 256) and first[1].shape == (4, 1, 256, 256)
    assert 0 <= first[0].min() and first[0].max() <= 1


def test_hsv_conversion_matches_opencv_and_inverts():
    rgb = np.random.default_rng(2).random((32, 32, 3)).astype(np.float32)
    rgb[0, :4] = [0.5, 0.5, 0.5]  # grey: hue and saturation 0
    ours = rgb_to_hsv(torch.from_numpy(rgb).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    theirs = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
    hue_difference = np.abs((ours[..., 0] - theirs[..., 0] + 180) % 360 - 180)
    assert hue_difference.max() < 0.05 and np.abs(ours[..., 1:] - theirs[..., 1:]).max() < 1e-5
    back = hsv_to_rgb(torch.from_numpy(ours).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    assert np.abs(back - rgb).max() < 1e-5
