import pytest
import torch

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


def small(partial=True, skip_fill=0):
    torch.manual_seed(0)
    return PConvUNet(UNetConfig(layers=4, width=0.125, partial=partial, skip_fill=skip_fill)).eval()


@pytest.mark.parametrize("skip_fill", [0, 3])
def test_whole_network_ignores_hole_contents(skip_fill):
    model = small(skip_fill=skip_fill)
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


@pytest.mark.parametrize("skip_fill", [0, 2])
def test_plain_baseline_sees_the_placeholder_not_the_hole_contents(skip_fill):
    model = small(partial=False, skip_fill=skip_fill)
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
