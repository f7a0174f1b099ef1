"""The ONNX Runtime engine of `pconv inpaint` gives the PyTorch engine's results."""
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import models.inference
from cli import pconv
from models.checkpoint import load_model, save_checkpoint
from models.inference import OnnxInpainter, inpaint
from models.unet import PConvUNet, UNetConfig


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = PConvUNet(UNetConfig(layers=3, width=0.125))
    for stage in list(model.encoder) + list(model.decoder):  # BatchNorm statistics away from identity
        if stage.batchnorm is not None:
            stage.batchnorm.running_mean.uniform_(-0.5, 0.5)
            stage.batchnorm.running_var.uniform_(0.5, 2.0)
    save_checkpoint(tmp_path / "m.pt", model)
    return tmp_path / "m.pt"


def pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(shape + (3,)).astype(np.float32), (rng.random(shape) > 0.3).astype(np.uint8)


@pytest.mark.parametrize("shape", [(37, 50), (64, 64), (5, 90)])
def test_onnx_engine_equals_torch_at_any_size(checkpoint, tmp_path, shape):
    image, valid = pair(shape)
    model, _ = load_model(checkpoint)
    expected = inpaint(model, image, valid)
    result = OnnxInpainter(checkpoint, cache=tmp_path / "cache")(image, valid)
    assert result.shape == image.shape and np.abs(result - expected).max() < 1e-5
    assert np.array_equal(result[valid == 1], image[valid == 1])


def test_onnx_engine_ignores_hole_contents(checkpoint, tmp_path):
    image, valid = pair((32, 48), seed=1)
    run = OnnxInpainter(checkpoint, cache=tmp_path / "cache")
    filled = image.copy()
    filled[valid == 0] = 1.0
    assert np.abs(run(image, valid) - run(filled, valid)).max() < 1e-5


def test_graph_is_exported_once_per_checkpoint(checkpoint, tmp_path, monkeypatch):
    OnnxInpainter(checkpoint, cache=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("*.onnx"))) == 1

    def no_export(*_):
        raise AssertionError("exported again")
    monkeypatch.setattr(models.inference, "export_onnx", no_export)
    OnnxInpainter(checkpoint, cache=tmp_path / "cache")
    with pytest.raises(AssertionError):  # another checkpoint is another graph
        torch.manual_seed(1)
        save_checkpoint(tmp_path / "other.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
        OnnxInpainter(tmp_path / "other.pt", cache=tmp_path / "cache")


def test_inpaint_command_engines_agree(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "cache"))
    image, valid = pair((40, 70), seed=2)
    cv2.imwrite(str(tmp_path / "photo.png"), (image * 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "mask.png"), valid * 255)
    outputs = {}
    for engine in ("onnx", "torch"):
        result = CliRunner().invoke(pconv, ["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "mask.png"),
                                            "-o", str(tmp_path / f"{engine}.png"), "--checkpoint", str(checkpoint),
                                            "--engine", engine])
        assert result.exit_code == 0, result.output
        outputs[engine] = cv2.imread(str(tmp_path / f"{engine}.png")).astype(int)
    assert np.abs(outputs["onnx"] - outputs["torch"]).max() <= 1
    result = CliRunner().invoke(pconv, ["inpaint", str(tmp_path / "photo.png"), str(tmp_path / "mask.png"),
                                        "-o", str(tmp_path / "x.png"), "--engine", "onnx", "--device", "cuda"])
    assert result.exit_code != 0 and "runs on the CPU" in result.output
