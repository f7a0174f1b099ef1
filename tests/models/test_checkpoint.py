"""Checkpoint files: anything torch did not write, damaged files and partial conversions end in one line."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from helpers import inpaint_errors, inpaint_in, one_error_line, one_line_error, valid_mask

from pconvkit.cli import pconv
from pconvkit.files import write_image, write_png_atomic
from pconvkit.images import mask_to_png
from pconvkit.models.checkpoint import load_model, read_checkpoint, save_checkpoint
from pconvkit.models.unet import PConvUNet, UNetConfig

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


# tools/weights/with_fill.py: other fill passes for a checkpoint's weights, through write_payload
TOOL = Path(__file__).parents[2] / "tools" / "weights" / "with_fill.py"


def with_fill_tool():
    spec = importlib.util.spec_from_file_location("with_fill", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_weights_run_with_the_new_fill_and_keep_their_record(tmp_path):
    torch.manual_seed(0)
    model = PConvUNet(UNetConfig(layers=3, width=0.125, skip_fill=2))
    save_checkpoint(tmp_path / "a.pt", model, step=7, metadata={"device": "cpu"})
    with_fill_tool().with_fill(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), input_fill=4, skip_fill=None)
    before, after = read_checkpoint(tmp_path / "a.pt"), read_checkpoint(tmp_path / "b.pt")
    assert after["unet"] == {**before["unet"], "input_fill": 4} and after["step"] == 7
    assert after["metadata"] == {"device": "cpu", "fills_changed": {"input_fill": 4}}
    assert all(torch.equal(after["model"][k], v) for k, v in before["model"].items())
    assert load_model(tmp_path / "b.pt")[0].config.input_fill == 4


def test_negative_passes_are_refused_and_nothing_is_written(tmp_path):
    save_checkpoint(tmp_path / "a.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
    with pytest.raises(ValueError, match="counts of passes"):
        with_fill_tool().with_fill(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), input_fill=-1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]
