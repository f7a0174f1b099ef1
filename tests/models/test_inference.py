"""Inference on images of any size keeps the known pixels; bad pairs are refused."""

import numpy as np
import pytest
import torch

from pconvkit.errors import UserError
from pconvkit.models.checkpoint import load_model, save_checkpoint
from pconvkit.models.inference import inpaint
from pconvkit.models.unet import PConvUNet, UNetConfig


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = PConvUNet(UNetConfig(layers=3, width=0.125))
    save_checkpoint(tmp_path / "m.pt", model, half=True)
    return tmp_path / "m.pt"


@pytest.mark.parametrize("shape", [(37, 50), (64, 64), (5, 90)])
def test_any_size_keeps_known_pixels(checkpoint, shape):
    model, _ = load_model(checkpoint)
    rng = np.random.default_rng(0)
    image = rng.random(shape + (3,)).astype(np.float32)
    valid = (rng.random(shape) > 0.3).astype(np.uint8)
    out = inpaint(model, image, valid)
    assert out.shape == image.shape
    assert np.array_equal(out[valid == 1], image[valid == 1])
    assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_bad_pairs_are_rejected(checkpoint):
    model, _ = load_model(checkpoint)
    with pytest.raises(UserError, match="mask is 8x8 but image is 9x8"):
        inpaint(model, np.zeros((8, 9, 3), np.float32), np.ones((8, 8), np.uint8))
    with pytest.raises(UserError, match="not binary"):
        inpaint(model, np.zeros((8, 8, 3), np.float32), np.full((8, 8), 2, np.uint8))
