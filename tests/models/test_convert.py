"""Checkpoints of naoto0804/pytorch-inpainting-with-partial-conv convert into the same network, and
malformed or foreign files end in one line."""

import pytest
import torch

from pconvkit.errors import UserError
from pconvkit.models.checkpoint import load_model, save_checkpoint
from pconvkit.models.convert import convert_naoto0804
from pconvkit.models.unet import PConvUNet, UNetConfig


def naoto_state(model: PConvUNet):
    """A checkpoint in naoto0804's key layout and weight convention (division by sum(M))."""
    state = {}
    stages = [(f"enc_{i + 1}", s) for i, s in enumerate(model.encoder)]
    stages += [(f"dec_{len(model.decoder) - i}", s) for i, s in enumerate(model.decoder)]
    for name, stage in stages:
        conv = stage.conv
        state[f"{name}.conv.input_conv.weight"] = conv.weight.detach() * conv.in_channels * conv.kernel_size[0] ** 2
        state[f"{name}.conv.mask_conv.weight"] = torch.ones_like(conv.weight)
        if conv.bias is not None:
            state[f"{name}.conv.input_conv.bias"] = conv.bias.detach().clone()
        if stage.batchnorm is not None:
            for key, value in stage.batchnorm.state_dict().items():
                state[f"{name}.bn.{key}"] = value.clone()
    return state


@pytest.mark.slow
def test_convert_naoto0804_checkpoint_gives_the_same_network(tmp_path):
    torch.manual_seed(3)
    original = PConvUNet(UNetConfig(layers=7)).eval()
    for stage in list(original.encoder) + list(original.decoder):
        if stage.batchnorm is not None:
            stage.batchnorm.running_mean.uniform_(-0.1, 0.1)
    state = naoto_state(original)
    torch.save({"model": state}, tmp_path / "naoto.pth")
    assert convert_naoto0804(tmp_path / "naoto.pth", tmp_path / "ours.pt") == []
    converted, _ = load_model(tmp_path / "ours.pt")
    image, mask = torch.rand(1, 3, 128, 128), (torch.rand(1, 1, 128, 128) > 0.2).float()
    with torch.no_grad():
        assert torch.allclose(converted(image, mask), original(image, mask), atol=1e-4)


@pytest.mark.slow
def test_convert_refuses_a_partial_mapping_unless_allowed(tmp_path):
    original = PConvUNet(UNetConfig(layers=7)).eval()
    state = naoto_state(original)
    extra = dict(state, **{"extra.unknown": torch.zeros(1)})
    torch.save({"model": extra}, tmp_path / "extra.pth")
    with pytest.raises(UserError, match="1 source tensors unused .first extra.unknown"):
        convert_naoto0804(tmp_path / "extra.pth", tmp_path / "o.pt")
    assert convert_naoto0804(tmp_path / "extra.pth", tmp_path / "o.pt", allow_partial=True) == ["extra.unknown"]
    missing = {k: v for k, v in state.items() if not k.startswith("dec_1.")}
    torch.save({"model": missing}, tmp_path / "missing.pth")
    with pytest.raises(UserError, match="parameters left unfilled"):
        convert_naoto0804(tmp_path / "missing.pth", tmp_path / "p.pt")
    assert not (tmp_path / "p.pt").exists()


def test_malformed_checkpoints_end_in_one_line(tmp_path):
    model = PConvUNet(UNetConfig(layers=3, width=0.125))
    save_checkpoint(tmp_path / "good.pt", model)
    good = torch.load(tmp_path / "good.pt", weights_only=True)
    damaged = {
        "missing": dict(good, model={k: v for k, v in good["model"].items() if "decoder.0" not in k}),
        "extra": dict(good, model=dict(good["model"], **{"surplus.weight": torch.zeros(2)})),
        "config": dict(good, unet=dict(good["unet"], width=0.25)),
        "unknown_config": dict(good, unet=dict(good["unet"], colour="blue")),
        "nan": dict(
            good, model={k: v * float("nan") if v.is_floating_point() else v for k, v in good["model"].items()}
        ),
    }
    messages = {
        "missing": "missing",
        "extra": "unexpected",
        "config": "disagrees",
        "unknown_config": "configuration",
        "nan": "NaN",
    }
    for name, payload in damaged.items():
        torch.save(payload, tmp_path / f"{name}.pt")
        with pytest.raises(UserError, match=messages[name]):
            load_model(tmp_path / f"{name}.pt")


def test_convert_rejects_other_files(tmp_path):
    torch.save({"weights": 1}, tmp_path / "x.pth")
    with pytest.raises(UserError, match="naoto0804"):
        convert_naoto0804(tmp_path / "x.pth", tmp_path / "o.pt")


# The ONNX Runtime engine of `pconv inpaint` gives the PyTorch engine's results.
