import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pconvkit.models.unet import PConvUNet, UNetConfig, composite

TABLE2 = [  # (kernel, stride, out channels, batchnorm) of PConv1..PConv16
    (7, 2, 64, False),
    (5, 2, 128, True),
    (5, 2, 256, True),
    (3, 2, 512, True),
    (3, 2, 512, True),
    (3, 2, 512, True),
    (3, 2, 512, True),
    (3, 2, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 1, 512, True),
    (3, 1, 256, True),
    (3, 1, 128, True),
    (3, 1, 64, True),
    (3, 1, 3, False),
]
DECODER_INPUTS = [1024, 1024, 1024, 1024, 768, 384, 192, 67]


def test_table2_layers_and_parameter_count():
    model = PConvUNet()
    stages = list(model.encoder) + list(model.decoder)
    assert len(stages) == 16
    for stage, (kernel, stride, channels, batchnorm) in zip(stages, TABLE2):
        assert stage.conv.kernel_size == (kernel, kernel) and stage.conv.stride == (stride, stride)
        assert stage.conv.out_channels == channels and (stage.batchnorm is not None) == batchnorm
    assert [s.conv.in_channels for s in model.decoder] == DECODER_INPUTS
    assert (
        isinstance(model.decoder[0].activation, torch.nn.LeakyReLU)
        and model.decoder[0].activation.negative_slope == 0.2
    )
    assert isinstance(model.encoder[1].activation, torch.nn.ReLU) and model.decoder[-1].activation is None
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(32.9, abs=0.05)


def small(partial=True, skip_fill=0, input_fill=0):
    torch.manual_seed(0)
    config = UNetConfig(layers=4, width=0.125, partial=partial, skip_fill=skip_fill, input_fill=input_fill)
    return PConvUNet(config).eval()


@pytest.mark.parametrize("skip_fill, input_fill", [(0, 0), (3, 0), (3, 3)])
def test_whole_network_ignores_hole_contents(skip_fill, input_fill):
    model = small(skip_fill=skip_fill, input_fill=input_fill)
    image = torch.rand(2, 3, 64, 64)
    mask = torch.ones(2, 1, 64, 64)
    mask[:, :, 10:40, 20:50] = 0
    mask[:, :, 50:52, 5:7] = 0  # a hole the skip fill closes
    with torch.no_grad():
        reference = model(image, mask)
        for fill in (0.0, 127.5, None):
            filler = torch.rand_like(image) * 100 if fill is None else torch.full_like(image, fill)
            assert torch.allclose(model(image * mask + filler * (1 - mask), mask), reference, atol=1e-4)


def test_the_skip_fill_puts_the_mean_of_valid_neighbours_into_holes_no_wider_than_twice_its_passes():
    from pconvkit.models.unet import box_fill

    image = torch.rand(1, 3, 32, 32)
    image[..., 8:16, 8:16] = 0.25  # a flat patch round the small holes
    mask = torch.ones(1, 1, 32, 32)
    mask[..., 11:13, 11:13] = 0  # 2 px: closed by one pass
    mask[..., 20:28, 20:28] = 0  # 8 px: three passes leave its 2-px core
    filled, after = box_fill(image + 50 * (1 - mask), mask, 3)  # hole contents are never read
    assert torch.equal(filled[mask.expand_as(image) == 1], image[mask.expand_as(image) == 1])
    assert torch.allclose(filled[..., 11:13, 11:13], torch.full((1, 3, 2, 2), 0.25))
    assert after[..., 11:13, 11:13].all() and after[..., 21:27, 21:27].sum() == 36 - 4
    assert not after[..., 23:25, 23:25].any() and (filled[..., 23:25, 23:25] == 0).all()
    # one pass: each pixel next to the valid region gets the plain mean of its valid 3x3 neighbours
    once, _ = box_fill(image, mask, 1)
    window = image[0, :, 19:22, 19:22] * mask[0, :, 19:22, 19:22]
    assert torch.allclose(once[0, :, 20, 20], window.sum((1, 2)) / mask[0, 0, 19:22, 19:22].sum())


@pytest.mark.parametrize("skip_fill, input_fill", [(0, 0), (2, 0), (2, 3)])
def test_plain_baseline_sees_the_placeholder_not_the_hole_contents(skip_fill, input_fill):
    model = small(partial=False, skip_fill=skip_fill, input_fill=input_fill)
    image = torch.rand(1, 3, 64, 64)
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 16:32, 16:32] = 0
    mask[..., 40:42, 40:42] = 0
    with torch.no_grad():
        assert torch.allclose(model(image, mask), model(image * mask + 9 * (1 - mask), mask), atol=1e-5)


def test_sizes_must_divide_and_composite_keeps_known_pixels():
    model = small()
    with pytest.raises(ValueError, match="divisible by 16"):
        model(torch.rand(1, 3, 40, 64), torch.ones(1, 1, 40, 64))
    image, mask = torch.rand(1, 3, 32, 32), (torch.rand(1, 1, 32, 32) > 0.5).float()
    with torch.no_grad():
        out = composite(model(image, mask), image, mask)
    assert torch.equal(out * mask, image * mask)


def test_frozen_encoder_batchnorm_stays_frozen_through_train_mode():
    model = small()
    model.freeze_encoder_batchnorm()
    model.train()
    assert all(not s.batchnorm.training for s in model.encoder if s.batchnorm is not None)
    assert all(s.batchnorm.training for s in model.decoder if s.batchnorm is not None)
    assert all(not p.requires_grad for s in model.encoder if s.batchnorm is not None for p in s.batchnorm.parameters())


def test_channels_last_gives_the_same_output():
    """The GPU benchmark runs the network in channels_last; results must not depend on the layout."""
    torch.manual_seed(0)
    model = PConvUNet(UNetConfig(layers=4, width=0.25)).eval()
    image = torch.rand(2, 3, 64, 64)
    mask = (torch.rand(2, 1, 64, 64) > 0.4).float()
    with torch.no_grad():
        expected = model(image, mask)
        model = model.to(memory_format=torch.channels_last)
        output = model(
            image.contiguous(memory_format=torch.channels_last), mask.contiguous(memory_format=torch.channels_last)
        )
    assert torch.allclose(output, expected, atol=1e-5)


@pytest.mark.parametrize("partial", [True, False])
def test_a_hole_the_input_fill_closes_is_seen_as_its_box_filled_photo_without_a_hole(partial):
    """No layer's mask holds it any more: the output is the network's on a photo whose hole pixels
    were given the fill's values (computed here pixel by pixel) and marked known."""
    model = small(partial=partial, input_fill=2)
    image = torch.rand(1, 3, 64, 64)
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 20:24, 30:34] = 0  # 4 px: two passes close it
    mask[..., 50:51, 5:40] = 0
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    filled, reached = reference_box_fill((image - mean) / std, mask, 2)
    assert reached.all()
    with torch.no_grad():
        ours, no_hole = model(image, mask), model(filled * std + mean, torch.ones_like(mask))
    assert torch.allclose(ours, no_hole, atol=1e-5)
    assert not torch.allclose(ours, small(partial=partial)(image, mask), atol=1e-3)  # the fill is what changed it


@pytest.mark.parametrize("partial", [True, False])
def test_the_skip_fill_changes_the_output_only_beside_the_pixels_it_fills(partial):
    plain, filled = small(partial=partial), small(partial=partial, skip_fill=1)
    filled.load_state_dict(plain.state_dict())
    image = torch.rand(1, 3, 64, 64)
    mask = torch.ones(1, 1, 64, 64)
    mask[..., 20:22, 30:32] = 0  # closed by one pass
    with torch.no_grad():
        changed = (plain(image, mask) - filled(image, mask)).abs().amax(dim=1)[0] > 1e-6
    beside = torch.zeros(64, 64, dtype=torch.bool)
    beside[19:23, 29:33] = True  # the last layer's 3x3 window round the filled pixels
    assert changed[20:22, 30:32].all() and not changed[~beside].any()


# torchvision's published ImageNet normalisation (transforms.Normalize), which the network applies inside
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def reference_partial_conv(conv, x, mask):
    """Eq. 1 and Eq. 2 with a mask per input channel (NVIDIA's multi_channel layer): where the window
    holds a valid value, W^T (X . M) sum(1) / sum(M) + b, the sums over the window and every channel;
    elsewhere 0, and the mask's hole goes on."""
    ones = torch.ones(1, *conv.weight.shape[1:])
    total = F.conv2d(mask, ones, None, conv.stride, conv.padding)
    out = F.conv2d(x * mask, conv.weight, None, conv.stride, conv.padding) * ones.numel() / total.clamp(min=1e-8)
    out = out + (0 if conv.bias is None else conv.bias.view(1, -1, 1, 1))
    valid = (total > 0).float()
    return out * valid, valid.expand(-1, conv.out_channels, -1, -1)


def reference_box_fill(x, mask, passes):
    """Pixel by pixel: a hole pixel with a valid 3x3 neighbour takes their mean and becomes valid."""
    x, mask = (x * mask).clone(), mask.clone()
    for _ in range(passes):
        new_x, new_mask = x.clone(), mask.clone()
        for n, row, column in (mask[:, 0] == 0).nonzero().tolist():
            window = (n, slice(max(row - 1, 0), row + 2), slice(max(column - 1, 0), column + 2))
            known = mask[n, 0][window[1:]]
            if known.sum() > 0:
                new_x[n, :, row, column] = (x[n][(slice(None),) + window[1:]] * known).sum((1, 2)) / known.sum()
                new_mask[n, 0, row, column] = 1
        x, mask = new_x, new_mask
    return x, mask


def reference_stage(stage, x):
    if stage.batchnorm is not None:
        bn = stage.batchnorm
        x = (x - bn.running_mean.view(1, -1, 1, 1)) / torch.sqrt(bn.running_var.view(1, -1, 1, 1) + bn.eps)
        x = x * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
    if isinstance(stage.activation, torch.nn.LeakyReLU):
        return torch.where(x > 0, x, 0.2 * x)
    return x.clamp(min=0) if stage.activation is not None else x


def reference_unet(model, image, mask):
    """The U-Net of Table 2 computed the obvious way from the model's parameters: input normalised
    with ImageNet statistics; a mask per channel, up-sampled and concatenated with the features; the
    Conv baseline's holes filled with the placeholder colour (ImageNet's mean or 127.5) before the
    normalisation; output de-normalised."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    config = model.config
    if config.input_fill:  # the photo's holes filled first, and known from then on
        filled, mask = reference_box_fill((image - mean) / std, mask, config.input_fill)
        image = filled * std + mean
    if not config.partial:
        colour = mean if config.hole_value == "imagenet_mean" else torch.full_like(mean, 127.5 / 255)
        x = (image * mask + colour * (1 - mask) - mean) / std
        skips = [x]
        if config.skip_fill:
            filled, reached = reference_box_fill((image - mean) / std, mask, config.skip_fill)
            skips = [torch.where(reached > 0, filled, (colour - mean) / std)]
        for stage in model.encoder:
            x = reference_stage(stage, F.conv2d(x, stage.conv.weight, stage.conv.bias, 2, stage.conv.padding))
            skips.append(x)
        for stage, skip in zip(model.decoder, reversed(skips[:-1])):
            x = torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skip], 1)
            x = reference_stage(stage, F.conv2d(x, stage.conv.weight, stage.conv.bias, 1, 1))
        return x * std + mean
    x, m = (image - mean) / std, mask.expand(-1, 3, -1, -1)
    skips = [(x, m)]
    if config.skip_fill:
        filled, reached = reference_box_fill(x, mask, config.skip_fill)
        skips = [(filled, reached.expand(-1, 3, -1, -1))]
    for stage in model.encoder:
        x, m = reference_partial_conv(stage.conv, x, m)
        x = reference_stage(stage, x)
        skips.append((x, m))
    for stage, (skip, skip_mask) in zip(model.decoder, reversed(skips[:-1])):
        up, up_mask = F.interpolate(x, scale_factor=2, mode="nearest"), F.interpolate(m, scale_factor=2, mode="nearest")
        x, m = reference_partial_conv(stage.conv, torch.cat([up, skip], 1), torch.cat([up_mask, skip_mask], 1))
        x = reference_stage(stage, x)
    return x * std + mean


RUNTIME_MEAN = "".join(["imagenet", "_mean"])  # as a checkpoint's JSON gives it: not the interned literal


@pytest.mark.parametrize(
    "partial, hole_value, skip_fill, input_fill",
    [
        (True, "imagenet_mean", 0, 0),
        (True, "imagenet_mean", 2, 0),
        (True, "imagenet_mean", 2, 1),
        (False, "imagenet_mean", 0, 0),
        (False, RUNTIME_MEAN, 0, 0),
        (False, "127.5", 0, 0),
        (False, "127.5", 2, 0),
        (False, "127.5", 2, 1),
    ],
)
def test_the_network_equals_table2_computed_the_obvious_way(partial, hole_value, skip_fill, input_fill):
    torch.manual_seed(1)
    config = UNetConfig(
        layers=3, width=0.06, partial=partial, hole_value=hole_value, skip_fill=skip_fill, input_fill=input_fill
    )
    model = PConvUNet(config)
    with torch.no_grad():  # BatchNorm statistics, scales and the two biases away from their initial values
        for stage in list(model.encoder) + list(model.decoder):
            if stage.conv.bias is not None:
                stage.conv.bias.normal_(0, 0.3)
            if stage.batchnorm is not None:
                stage.batchnorm.running_mean.normal_(0, 0.3)
                stage.batchnorm.running_var.uniform_(0.5, 2)
                stage.batchnorm.weight.uniform_(0.5, 1.5)
                stage.batchnorm.bias.normal_(0, 0.3)
    model.eval()
    image = torch.rand(2, 3, 32, 32)
    mask = torch.ones(2, 1, 32, 32)
    mask[0, :, 4:20, 6:18] = 0
    mask[1, :, 10:13, 0:30] = 0
    mask[1, :, 25:26, 20:22] = 0  # a one-pixel-high hole, which the skip fill closes
    mask[0, :, 6:, :] = mask[0, :, :, 6:] = 0  # valid only in a corner: holes down to the deepest layer
    with torch.no_grad():
        ours, reference = model(image, mask), reference_unet(model, image, mask)
        # float32 rounding, magnified where a window holds one valid pixel (sum(1) / sum(M) up to 147)
        scale = float(reference.abs().max())
        assert torch.allclose(ours, reference, rtol=0, atol=1e-5 * scale), float((ours - reference).abs().max())


def test_only_the_first_and_last_layers_have_biases_and_the_weights_start_he_initialised():
    model = PConvUNet()
    stages = list(model.encoder) + list(model.decoder)
    assert [s.conv.bias is not None for s in stages] == [True] + [False] * 14 + [True]  # BatchNorm has the rest
    assert all(float(s.conv.bias.detach().abs().max()) == 0 for s in (stages[0], stages[-1]))
    for stage in (stages[3], stages[8]):  # He et al.: std sqrt(2 / ((1 + a^2) fan_in)), a the leak
        slope = 0.2 if isinstance(stage.activation, torch.nn.LeakyReLU) else 0.0
        he = (2 / ((1 + slope**2) * stage.conv.weight[0].numel())) ** 0.5
        assert float(stage.conv.weight.detach().std()) == pytest.approx(he, rel=0.01)


def test_depth_and_skip_fill_bounds_and_an_odd_width_are_refused_by_name():
    assert PConvUNet(UNetConfig(layers=2, width=0.1)).stride == 4
    for bad in (dict(layers=1), dict(layers=9), dict(skip_fill=-1), dict(input_fill=-1)):
        with pytest.raises(ValueError):
            PConvUNet(UNetConfig(width=0.1, **bad))
    with pytest.raises(ValueError, match=r"divisible by 16, got \(64, 40\)"):
        small()(torch.rand(1, 3, 64, 40), torch.ones(1, 1, 64, 40))


def test_composite_takes_known_pixels_from_the_input_and_holes_from_the_output():
    image, output = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 8, 8)
    mask = (torch.rand(2, 1, 8, 8) > 0.5).float()
    assert torch.equal(composite(output, image, mask), torch.where(mask.bool(), image, output))


def test_the_channel_widths_scale_by_the_width_and_never_fall_to_zero():
    half = PConvUNet(UNetConfig(width=0.5))
    assert [s.conv.out_channels for s in half.encoder] == [32, 64, 128, 256, 256, 256, 256, 256]
    thin = PConvUNet(UNetConfig(layers=4, width=0.005))  # 64, 128, 256 x 0.005 round to 0 or 1; 512 to 3
    assert [s.conv.out_channels for s in thin.encoder] == [1, 1, 1, 3]


def test_a_checkpoint_holds_the_learnt_state_and_no_normalisation_constants():
    """The ImageNet statistics are the network's input convention, not state: checkpoints made
    without them (the bundled ones) load, and a fresh network trains its BatchNorm statistics."""
    model = PConvUNet(UNetConfig(layers=3, width=0.1))
    assert not {"mean", "std"} & set(model.state_dict())
    model.train()
    assert all(s.batchnorm.training for s in model.encoder if s.batchnorm is not None)


def test_the_box_fill_is_the_slow_obvious_one_on_random_masks():
    from pconvkit.models.unet import box_fill

    rng = np.random.default_rng(4)
    for passes in (1, 2, 3):
        x = torch.from_numpy(rng.random((2, 3, 12, 14))).float()
        mask = torch.from_numpy((rng.random((2, 1, 12, 14)) > 0.75).astype(np.float32))  # lone valid pixels
        filled, reached = box_fill(x, mask, passes)
        expected, expected_mask = reference_box_fill(x, mask, passes)
        assert torch.allclose(filled, expected, atol=1e-6) and torch.equal(reached, expected_mask), passes
