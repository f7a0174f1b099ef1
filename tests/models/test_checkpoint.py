"""Checkpoint files: anything torch did not write, damaged files and partial conversions end in one line."""

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import inpaint_errors, inpaint_in, one_error_line, one_line_error, valid_mask

from pconvkit.cli import pconv
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png

runner = CliRunner()


@pytest.mark.slow
def test_damaged_checkpoints_and_partial_conversions_end_in_one_line(tmp_path):
    import torch

    from pconvkit.models.checkpoint import save_checkpoint
    from pconvkit.models.unet import PConvUNet, UNetConfig

    save_checkpoint(tmp_path / "good.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
    payload = torch.load(tmp_path / "good.pt", weights_only=True)
    payload["model"] = {
        k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in payload["model"].items()
    }
    torch.save(payload, tmp_path / "nan.pt")
    write_image(tmp_path / "photo.png", np.random.default_rng(0).random((64, 64, 3)))
    write_png_atomic(tmp_path / "m.png", mask_to_png(valid_mask()))
    nan = ("--checkpoint", str(tmp_path / "nan.pt"))
    for line, out in inpaint_errors(tmp_path / "photo.png", tmp_path / "m.png", tmp_path, *nan).values():
        assert "NaN" in line and not out.exists()
    torch.save({"model": {"enc_1.conv.input_conv.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "naoto.pth")
    line = one_error_line(runner.invoke(pconv, ["convert", str(tmp_path / "naoto.pth"), str(tmp_path / "c.pt")]))
    assert "--allow-partial" in line and not (tmp_path / "c.pt").exists()
    result = runner.invoke(pconv, ["convert", str(tmp_path / "naoto.pth"), str(tmp_path / "c.pt"), "--allow-partial"])
    assert result.exit_code == 0 and (tmp_path / "c.pt").exists()


def test_a_checkpoint_that_torch_did_not_write_gets_a_readable_error(tmp_path):
    (tmp_path / "notes.pt").write_text("hello")
    write_png_atomic(tmp_path / "image.png", np.zeros((32, 32, 3), np.uint8))
    write_png_atomic(tmp_path / "mask.png", np.full((32, 32), 255, np.uint8))
    one_line_error(
        runner.invoke(
            pconv,
            inpaint_in(tmp_path, "--checkpoint", str(tmp_path / "notes.pt")),
        ),
        "notes.pt: not a file written by torch.save",
    )
