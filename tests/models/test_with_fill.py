"""tools/weights/with_fill.py: other fill passes for a checkpoint's weights, nothing else changed."""

import importlib.util
from pathlib import Path

import pytest
import torch

from pconvkit.models.checkpoint import load_model, read_checkpoint, save_checkpoint
from pconvkit.models.unet import PConvUNet, UNetConfig

TOOL = Path(__file__).parents[2] / "tools" / "weights" / "with_fill.py"


def tool():
    spec = importlib.util.spec_from_file_location("with_fill", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_weights_run_with_the_new_fill_and_keep_their_record(tmp_path):
    torch.manual_seed(0)
    model = PConvUNet(UNetConfig(layers=3, width=0.125, skip_fill=2))
    save_checkpoint(tmp_path / "a.pt", model, step=7, metadata={"device": "cpu"})
    tool().with_fill(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), input_fill=4, skip_fill=None)
    before, after = read_checkpoint(tmp_path / "a.pt"), read_checkpoint(tmp_path / "b.pt")
    assert after["unet"] == {**before["unet"], "input_fill": 4} and after["step"] == 7
    assert after["metadata"] == {"device": "cpu", "fills_changed": {"input_fill": 4}}
    assert all(torch.equal(after["model"][k], v) for k, v in before["model"].items())
    assert load_model(tmp_path / "b.pt")[0].config.input_fill == 4


def test_negative_passes_are_refused_and_nothing_is_written(tmp_path):
    save_checkpoint(tmp_path / "a.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
    with pytest.raises(ValueError, match="counts of passes"):
        tool().with_fill(str(tmp_path / "a.pt"), str(tmp_path / "b.pt"), input_fill=-1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]
