import pytest
import torch

from pconvkit.models.loss import (
    InpaintingLoss,
    LossWeights,
    VGG16Features,
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


def test_total_weights_follow_eq7():
    output, target, mask = example()
    torch.manual_seed(0)
    loss = InpaintingLoss(VGG16Features())  # random VGG weights: checks the arithmetic only
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
