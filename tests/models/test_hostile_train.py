"""`pconv train` and `maskgen compare` refuse what nothing can be learnt from or compared with:
masks read the wrong way round (NVIDIA's white = hole files without --hole-white), masks all hole or
all valid, and a --resume whose step is already at --steps (it reported a checkpoint it never wrote)."""

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import one_error_line

from pconvkit.cli import maskgen, pconv
from pconvkit.files import write_png_atomic
from pconvkit.images import mask_to_png
from pconvkit.models.checkpoint import save_checkpoint
from pconvkit.models.unet import PConvUNet, UNetConfig


def _photos(folder):
    rng = np.random.default_rng(0)
    for i in range(2):
        write_png_atomic(folder / f"{i}.png", (rng.random((40, 48, 3)) * 255).astype(np.uint8))


def _masks(folder, holes):
    """Masks (white = valid) whose hole is the top `rows` rows of 40, one per entry."""
    for i, rows in enumerate(holes):
        valid = np.ones((40, 48), np.uint8)
        valid[:rows] = 0
        write_png_atomic(folder / f"m{i}.png", mask_to_png(valid))


def train(tmp_path, *extra):
    arguments = ["train", "--images", str(tmp_path / "photos"), "--masks", str(tmp_path / "masks")]
    arguments += ["--out", str(tmp_path / "out"), "--size", "32", "--layers", "3", "--width", "0.125"]
    return CliRunner().invoke(pconv, [*arguments, "--batch-size", "2", *extra])


@pytest.fixture
def inputs(tmp_path):
    _photos(tmp_path / "photos")
    return tmp_path


def test_masks_read_inverted_are_refused_as_benchmark_run_refuses_them(inputs):
    # NVIDIA-like masks, white = hole, read without --hole-white: 70 to 80 % hole
    _masks(inputs / "masks", [8, 10, 12])  # holes of 20-30 %: white = valid ...
    for path in (inputs / "masks").iterdir():  # ... inverted, as NVIDIA stores them
        write_png_atomic(path, 255 - cv2.imread(str(path), cv2.IMREAD_GRAYSCALE))
    line = one_error_line(train(inputs, "--steps", "1"))
    assert "look inverted" in line and "--hole-white" in line
    assert not (inputs / "out" / "last.pt").exists()
    assert train(inputs, "--steps", "1", "--hole-white", "--checkpoint-every", "1").exit_code == 0


@pytest.mark.parametrize("rows, word", [(0, "valid"), (40, "hole")])
def test_a_mask_all_valid_or_all_hole_is_named(inputs, rows, word):
    _masks(inputs / "masks", [8, rows, 10])
    line = one_error_line(train(inputs, "--steps", "1", "--mostly-hole"))
    assert f"is all {word}" in line and "m1.png" in line


def test_a_resume_at_or_past_its_steps_is_refused(inputs):
    _masks(inputs / "masks", [8, 10, 12])
    torch.manual_seed(0)
    checkpoint = inputs / "at5.pt"
    save_checkpoint(checkpoint, PConvUNet(UNetConfig(layers=3, width=0.125)), step=5)
    for steps in ("3", "5"):
        line = one_error_line(train(inputs, "--steps", steps, "--resume", str(checkpoint)))
        assert "at step 5 already" in line and not (inputs / "out" / "last.pt").exists()


def test_compare_refuses_an_inverted_set(inputs):
    _masks(inputs / "a", [8, 10, 12])
    _masks(inputs / "b", [8, 10, 12])
    result = CliRunner().invoke(maskgen, ["compare", str(inputs / "a"), str(inputs / "b"), "--second-hole-white"])
    assert "look inverted" in one_error_line(result)
    assert CliRunner().invoke(maskgen, ["compare", str(inputs / "a"), str(inputs / "b")]).exit_code == 0
