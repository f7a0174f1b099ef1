from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from pconvkit.models.loss import (
    InpaintingLoss,
    LossWeights,
    VGGFeatures,
    gram_matrix,
    l1_hole_valid,
    perceptual_loss,
    style_loss,
    total_variation_loss,
)


def example(seed=0):
    generator = torch.Generator().manual_seed(seed)
    output = torch.rand(2, 3, 8, 8, generator=generator)
    target = torch.rand(2, 3, 8, 8, generator=generator)
    mask = torch.ones(2, 1, 8, 8)
    mask[:, :, 2:5, 3:6] = 0
    return output, target, mask


def test_hole_and_valid_l1_are_normalised_by_chw():
    output, target, mask = example()
    hole, valid = l1_hole_valid(output, target, mask.expand_as(target))
    diff = (output - target).abs()
    holes = (mask == 0).expand_as(target)
    assert hole.item() == pytest.approx(diff[holes].sum().item() / target.numel())
    assert valid.item() == pytest.approx(diff[~holes].sum().item() / target.numel())


def test_gram_matrix_is_scaled_by_kp():
    features = torch.arange(12.0).view(1, 2, 2, 3)
    flat = features.view(2, 6)
    assert torch.allclose(gram_matrix(features)[0], flat @ flat.T / 12)


def test_style_and_perceptual_match_their_equations():
    a = [torch.rand(2, 4, 5, 5), torch.rand(2, 6, 3, 3)]
    b = [torch.rand(2, 4, 5, 5), torch.rand(2, 6, 3, 3)]
    c = [torch.rand(2, 4, 5, 5), torch.rand(2, 6, 3, 3)]
    direct_style = 0.0
    for f, g in zip(a, c):
        for n in range(2):
            channels = f.shape[1]
            k = 1 / (channels * f.shape[2] * f.shape[3])
            ff, gg = f[n].reshape(channels, -1), g[n].reshape(channels, -1)
            direct_style += (k * (ff @ ff.T - gg @ gg.T)).abs().sum() / channels**2 / 2
    assert style_loss(a, c).item() == pytest.approx(direct_style.item(), rel=1e-5)
    direct_perceptual = sum(
        (x - z).abs().sum() / z.numel() + (y - z).abs().sum() / z.numel() for x, y, z in zip(a, b, c)
    )
    assert perceptual_loss(a, b, c).item() == pytest.approx(direct_perceptual.item(), rel=1e-5)


def test_tv_touches_only_the_dilated_hole_region():
    _, target, mask = example()
    base = total_variation_loss(target, mask)
    changed = target.clone()
    changed[:, :, 7, 0] += 5.0  # far from the hole (rows 2-4, cols 3-5 dilated to 1-5, 2-6)
    assert total_variation_loss(changed, mask).item() == pytest.approx(base.item())
    changed[:, :, 1, 2] += 5.0  # in the 1-pixel dilation
    assert total_variation_loss(changed, mask).item() > base.item()
    region = torch.zeros(8, 8, dtype=torch.bool)
    region[1:6, 2:7] = True
    direct = sum(
        (target[n, c, i, j + 1] - target[n, c, i, j]).abs()
        for n in range(2)
        for c in range(3)
        for i in range(8)
        for j in range(7)
        if region[i, j] and region[i, j + 1]
    )
    direct += sum(
        (target[n, c, i + 1, j] - target[n, c, i, j]).abs()
        for n in range(2)
        for c in range(3)
        for i in range(7)
        for j in range(8)
        if region[i, j] and region[i + 1, j]
    )
    assert base.item() == pytest.approx(direct.item() / target.numel(), rel=1e-5)


@pytest.mark.slow
def test_total_weights_follow_eq7():
    output, target, mask = example()
    torch.manual_seed(0)
    loss = InpaintingLoss(VGGFeatures())  # random VGG weights: checks the arithmetic only
    terms = loss(output, target, mask)
    expected = (
        terms["valid"]
        + 6 * terms["hole"]
        + 0.05 * terms["perceptual"]
        + 120 * (terms["style_out"] + terms["style_comp"])
        + 0.1 * terms["tv"]
    )
    assert terms["total"].item() == pytest.approx(expected.item(), rel=1e-6)
    without = InpaintingLoss(None, LossWeights())(output, target, mask)
    assert "perceptual" not in without
    assert without["total"].item() == pytest.approx(
        (terms["valid"] + 6 * terms["hole"] + 0.1 * terms["tv"]).item(), rel=1e-6
    )


def torchvision_vgg(arch: str) -> torch.nn.Sequential:
    """torchvision's VGG16 or VGG19 convolutional part, built by torchvision, with the state-dict
    names of the whole network (features.N...): the classifier (120 M parameters) only slows a test."""
    from torchvision.models.vgg import cfgs, make_layers

    return torch.nn.Sequential(OrderedDict(features=make_layers(cfgs[{"vgg16": "D", "vgg19": "E"}[arch]])))


SHARED_VGG19 = Path(__file__).resolve().parents[3] / "shared" / "weights" / "vgg19_features_to_pool3.pth"


@pytest.mark.slow
def test_vgg16_and_vgg19_files_full_or_cut_after_pool3_are_recognised(tmp_path):
    from pconvkit.errors import UserError
    from pconvkit.models.loss import load_vgg

    cut = {
        k: v
        for k, v in torchvision_vgg("vgg19").state_dict().items()
        if k.startswith("features.") and int(k.split(".")[1]) < 19
    }
    torch.save(cut, tmp_path / "vgg19_to_pool3.pth")
    torch.save(
        {k: v for k, v in torchvision_vgg("vgg16").state_dict().items() if k.startswith("features.")},
        tmp_path / "vgg16_features.pth",
    )
    nineteen, sixteen = load_vgg(tmp_path / "vgg19_to_pool3.pth"), load_vgg(tmp_path / "vgg16_features.pth")
    assert (nineteen.arch, sixteen.arch) == ("vgg19", "vgg16")
    image = torch.rand(1, 3, 32, 32)
    assert (
        [f.shape[1:] for f in nineteen(image)]
        == [f.shape[1:] for f in sixteen(image)]
        == [(64, 16, 16), (128, 8, 8), (256, 4, 4)]
    )  # pool1, pool2, pool3 of both
    assert torch.equal(nineteen.slices[2][-3].weight, cut["features.16.weight"])  # conv3_4, the extra layer
    torch.save({k: v for k, v in cut.items() if "features.14" not in k}, tmp_path / "broken.pth")
    with pytest.raises(UserError, match="features.14"):
        load_vgg(tmp_path / "broken.pth")
    torch.save({k: v for k, v in cut.items() if k.split(".")[1] not in ("12", "14")}, tmp_path / "broken.pth")
    with pytest.raises(UserError, match=r"convolution features\.12 \("):  # the first one missing
        load_vgg(tmp_path / "broken.pth")
    torch.save(dict(cut, **{"features.2.weight": torch.zeros(64, 3, 3, 3)}), tmp_path / "misshapen.pth")
    with pytest.raises(UserError) as error:  # PyTorch's message has several lines: the first is quoted
        load_vgg(tmp_path / "misshapen.pth")
    assert "does not hold torchvision VGG weights: Error(s) in loading state_dict" in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_VGG19.exists(), reason="the shared VGG19 file (../shared/weights) is not here")
def test_the_shared_imagenet_vgg19_file_gives_the_perceptual_and_style_terms():
    from pconvkit.models.loss import InpaintingLoss, load_vgg

    vgg = load_vgg(SHARED_VGG19)
    assert vgg.arch == "vgg19"
    target, mask = torch.rand(1, 3, 64, 64), torch.ones(1, 1, 64, 64)
    mask[..., 16:48, 16:48] = 0
    terms = InpaintingLoss(vgg)(torch.zeros_like(target), target, mask)
    assert {"perceptual", "style_out", "style_comp"} <= set(terms) and float(terms["perceptual"]) > 0
    same = InpaintingLoss(vgg)(target, target, mask)
    assert float(same["perceptual"]) == 0 and float(same["style_out"]) == 0


@pytest.mark.slow
def test_pixel_level_vgg_weights_give_torchvision_scale_features():
    """A network converted from Caffe or Keras (input in pixel levels folded into conv1_1) computes the
    same function times the input scale: with every bias and the first weights scaled by it, ReLU
    networks scale exactly. Its features, divided by that factor, equal the original's."""
    from pconvkit.models.loss import PIXEL_LEVEL_SCALE

    torch.manual_seed(0)
    original = VGGFeatures(None, "vgg16")
    state = {f"features.{i}.{name}": v for i, name, v in _numbered(original)}
    pixel_level = {
        k: v * PIXEL_LEVEL_SCALE if k == "features.0.weight" or k.endswith("bias") else v for k, v in state.items()
    }
    converted = VGGFeatures(pixel_level, "vgg16")
    assert original.feature_scale == 1.0 and converted.feature_scale == PIXEL_LEVEL_SCALE
    image = torch.rand(1, 3, 32, 32)
    for a, b in zip(original(image), converted(image)):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def _numbered(features: VGGFeatures):
    """(index in torchvision's `features`, parameter name, tensor) of a VGGFeatures' layers."""
    index = 0
    for block in features.slices:
        for layer in block:
            for name, value in layer.state_dict().items():
                yield index, name, value.clone()
            index += 1


def test_vgg_features_take_torchvisions_imagenet_input_and_pool_where_the_paper_says():
    """The reference: torchvision's own VGG16 `features` on input normalised by its published
    ImageNet transform (Normalize(mean, std)), read after pool1, pool2 and pool3 (indices 4, 9, 16)."""
    from torchvision import transforms

    from pconvkit.models.loss import VGGFeatures

    torch.manual_seed(0)
    reference = torchvision_vgg("vgg16").eval()
    ours = VGGFeatures(reference.state_dict(), "vgg16")
    image = torch.rand(2, 3, 32, 32)
    normalised = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(image)
    expected, x = [], normalised
    for index, layer in enumerate(reference.features[:17]):
        x = layer(x)
        if index in (4, 9, 16):
            expected.append(x)
    for got, want in zip(ours(image), expected, strict=True):
        assert torch.allclose(got, want, atol=1e-5)


def test_weights_converted_from_pixel_level_networks_get_features_in_torchvisions_units():
    """A Caffe-style network (input in 0-255 pixel levels) folded into conv1_1 is torchvision's with
    its first layer scaled by 255 x the mean ImageNet std (57.6): its pool1 activations are that many
    times larger (ReLU and max pooling are positively homogeneous). Divided by the scale, they are
    the torchvision network's."""
    from pconvkit.models.loss import VGGFeatures

    torch.manual_seed(0)
    # the biases zero, as torchvision initialises them: only conv1_1 is scaled, and conv1_2's bias
    # would otherwise not be
    state = {
        k: torch.zeros_like(v) if k.endswith("bias") else v for k, v in torchvision_vgg("vgg16").state_dict().items()
    }
    scale = 255.0 * (0.229 + 0.224 + 0.225) / 3
    pixel_level = dict(state, **{k: state[k] * scale for k in ("features.0.weight", "features.0.bias")})
    plain, converted = VGGFeatures(state, "vgg16"), VGGFeatures(pixel_level, "vgg16")
    assert plain.feature_scale == 1.0 and converted.feature_scale == pytest.approx(scale)
    image = torch.rand(1, 3, 32, 32)
    assert torch.allclose(converted(image)[0], plain(image)[0], rtol=1e-4, atol=1e-6)


def test_the_vgg_features_are_frozen_and_keep_only_torchvisions_weights():
    """Nothing of the loss network trains, and its state dict holds torchvision's layers up to pool3
    and nothing else (no normalisation constants)."""
    features = VGGFeatures(torchvision_vgg("vgg16").state_dict())
    assert not any(p.requires_grad for p in features.parameters())
    expected = {k.removeprefix("features.") for k in torchvision_vgg("vgg16").state_dict() if int(k.split(".")[1]) < 17}
    assert {k.split(".", 2)[2] for k in features.state_dict()} == expected  # slices.BLOCK.LAYER.weight


@pytest.mark.parametrize("state", [[1, 2], "weights", torch.zeros(3)])
def test_a_file_that_holds_no_state_dict_is_named_as_such(tmp_path, state):
    from pconvkit.errors import UserError
    from pconvkit.models.loss import load_vgg

    torch.save(state, tmp_path / "odd.pth")
    with pytest.raises(UserError, match="not a torchvision VGG state dict"):
        load_vgg(tmp_path / "odd.pth")
