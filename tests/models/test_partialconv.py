import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from pconvkit.models.partialconv import PartialConv2d, _im2col_suits, reference_partial_conv

torch.manual_seed(0)


def random_mask(shape, p=0.4, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=generator) > p).float()


def layer(c_in=4, c_out=5, k=3, stride=1, bias=True):
    torch.manual_seed(1)
    conv = PartialConv2d(c_in, c_out, k, stride, k // 2, bias=bias)
    with torch.no_grad():
        conv.bias.uniform_(-1, 1) if bias else None
    return conv


def assert_equals_the_reference(conv, x, mask):
    """Outputs, updated masks and the gradients of x, weight and bias equal the reference's."""
    y, m = conv(x, mask)
    y.square().sum().backward()
    grads = x.grad.clone(), conv.weight.grad.clone(), conv.bias.grad.clone()
    x.grad = None
    conv.zero_grad()
    y_ref, m_ref = reference_partial_conv(conv, x, mask.expand(-1, x.shape[1], -1, -1))
    y_ref.square().sum().backward()
    assert torch.allclose(y, y_ref, atol=1e-5) and torch.equal(m.expand_as(m_ref), m_ref)
    for ours, theirs in zip(grads, (x.grad, conv.weight.grad, conv.bias.grad)):
        assert torch.allclose(ours, theirs, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("mask_channels", [1, 4])
def test_output_ignores_hole_contents(mask_channels):
    conv = layer()
    mask = random_mask((2, mask_channels, 12, 12))
    x = torch.rand(2, 4, 12, 12)
    reference, ref_mask = conv(x, mask)
    for fill in (torch.zeros_like(x), torch.full_like(x, 127.5), torch.randn_like(x) * 1000):
        y, m = conv(x * mask + fill * (1 - mask), mask)
        assert torch.allclose(y, reference, atol=1e-4) and torch.equal(m, ref_mask)


def test_all_valid_mask_equals_plain_convolution_away_from_the_border():
    conv = layer()
    x = torch.rand(1, 4, 10, 10)
    y, m = conv(x, torch.ones(1, 1, 10, 10))
    plain = F.conv2d(x, conv.weight, conv.bias, 1, 1)
    assert torch.allclose(y[..., 1:-1, 1:-1], plain[..., 1:-1, 1:-1], atol=1e-5)
    assert m.all()
    # at the border the padding counts as hole: corner windows see 4 of 9 pixels, scaled by 9/4
    corner = F.conv2d(x, conv.weight, None, 1, 1)[..., 0, 0] * 9 / 4 + conv.bias
    assert torch.allclose(y[..., 0, 0], corner, atol=1e-5)


def test_hand_computed_3x3_example_of_eq1_and_eq2():
    conv = PartialConv2d(1, 1, 3, 1, 0, bias=True)
    with torch.no_grad():
        conv.weight.copy_(torch.arange(1.0, 10.0).view(1, 1, 3, 3))
        conv.bias.fill_(0.5)
    x = torch.arange(10.0, 19.0).view(1, 1, 3, 3)
    mask = torch.tensor([[1.0, 0, 1], [0, 1, 0], [1, 1, 0]]).view(1, 1, 3, 3)
    # W^T (X*M) = 1*10 + 3*12 + 5*14 + 7*16 + 8*17 = 364; sum(1)/sum(M) = 9/5; bias unscaled
    y, m = conv(x, mask)
    assert y.item() == pytest.approx(364 * 9 / 5 + 0.5) and m.item() == 1.0
    y, m = conv(x, torch.zeros_like(mask))
    assert y.item() == 0.0 and m.item() == 0.0  # no valid input: 0, not the bias


def test_window_counts_all_input_channels():
    conv = PartialConv2d(2, 1, 1, 1, 0, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x = torch.ones(1, 2, 1, 1)
    mask = torch.tensor([1.0, 0.0]).view(1, 2, 1, 1)  # one of two channels valid
    y, _ = conv(x, mask)
    assert y.item() == pytest.approx(2.0)  # 1 * sum(1)/sum(M) = 1 * 2/1, not 1 / 1


@pytest.mark.parametrize("stride,k,mask_channels", [(1, 3, 4), (2, 5, 1), (2, 7, 4), (2, 3, 1)])
def test_equals_the_reference_in_outputs_and_gradients(stride, k, mask_channels):
    conv = layer(k=k, stride=stride)
    mask = random_mask((2, mask_channels, 16, 16), seed=k)
    x = torch.rand(2, 4, 16, 16, requires_grad=True)
    assert_equals_the_reference(conv, x, mask)


@pytest.mark.parametrize("stride,banded", [(2, False), (1, False), (2, True)])
def test_deep_layers_on_the_im2col_path_equal_the_reference(stride, banded):
    """Layers whose weights outweigh their unfolded input run PyTorch's im2col convolution on the
    CPU (forward and backward, whole or in bands); the results are the reference's all the same."""
    torch.manual_seed(2)
    conv = PartialConv2d(48, 40, 3, stride, 1)
    mask = random_mask((1, 1, 5, 6), seed=3)
    x = torch.rand(1, 48, 5, 6, requires_grad=True)
    assert _im2col_suits(x, conv.weight, conv.stride, conv.padding, conv.dilation)
    if banded:
        conv.band_bytes = {"cpu": x.numel() * 4 // 3}
    assert_equals_the_reference(conv, x, mask)


def test_a_torch_without_the_im2col_operators_keeps_to_onednn(monkeypatch):
    """The im2col path uses internal ATen operators (aten::_slow_conv2d_*); where a torch lacks
    them, the same layers run the public convolution, with the same results."""
    import pconvkit.models.partialconv

    monkeypatch.setattr(pconvkit.models.partialconv, "_HAS_IM2COL", False)
    conv = PartialConv2d(48, 40, 3, 2, 1)
    x = torch.rand(1, 48, 5, 6, requires_grad=True)
    assert not _im2col_suits(x, conv.weight, conv.stride, conv.padding, conv.dilation)
    assert_equals_the_reference(conv, x, random_mask((1, 1, 5, 6), seed=3))


@pytest.mark.parametrize("stride,k,height", [(1, 3, 17), (2, 5, 16), (2, 7, 15), (2, 3, 13)])
def test_banded_forward_equals_the_whole_one(stride, k, height):
    """X * M built in bands of output rows (the CPU default for large layers) changes nothing."""
    conv = layer(k=k, stride=stride)
    mask = random_mask((2, 1, height, 11), seed=k)
    x = torch.rand(2, 4, height, 11, requires_grad=True)
    whole, whole_mask = conv(x, mask)
    whole.square().sum().backward()
    grads = x.grad.clone(), conv.weight.grad.clone()
    x.grad = None
    conv.zero_grad()
    conv.band_bytes = {"cpu": x.numel() * 4 // 5}  # 5 bands or so
    banded, banded_mask = conv(x, mask)
    banded.square().sum().backward()
    assert torch.allclose(banded, whole, atol=1e-6) and torch.equal(banded_mask, whole_mask)
    assert torch.allclose(x.grad, grads[0], atol=1e-6) and torch.allclose(conv.weight.grad, grads[1], atol=1e-5)


@pytest.mark.parametrize(
    "kernel, dilation, padding, height",
    [((3, 5), 1, (1, 2), 14), (4, 1, 2, 13), ((3, 3), (2, 1), (2, 1), 15), (7, 1, 3, 2)],  # last: 2 rows, pad 3
)
def test_banded_forward_of_odd_windows_and_tiny_inputs_equals_the_whole_one(kernel, dilation, padding, height):
    """Bands of non-square, even-sized and dilated windows, and of an input lower than its padding:
    each band reads the rows the whole convolution reads, and the zero padding where it would."""
    torch.manual_seed(4)
    conv = PartialConv2d(4, 5, kernel, 1, padding, dilation)
    mask = random_mask((2, 1, height, 9), seed=5)
    x = torch.rand(2, 4, height, 9)
    whole, whole_mask = conv(x, mask)
    conv.band_bytes = {"cpu": x.numel() * 4 // 7}  # bands of a row or two
    banded, banded_mask = conv(x, mask)
    assert torch.allclose(banded, whole, atol=1e-6) and torch.equal(banded_mask, whole_mask)
    reference, _ = reference_partial_conv(conv, x, mask.expand(-1, 4, -1, -1))
    assert torch.allclose(banded, reference, atol=1e-5)


@pytest.mark.parametrize(
    "kernel, options",
    [
        (3, dict(dilation=2, padding=2)),
        (3, dict(dilation=(1, 2), padding=(1, 2))),
        (3, dict(padding="same")),
        (4, dict(padding="same")),  # PyTorch pads one more row and column at the bottom and right
        (3, dict(padding="valid")),
    ],
)
def test_deep_dilated_or_named_padding_layers_equal_the_reference(kernel, options):
    """Layers shaped for the im2col path (many channels, few pixels) that it cannot run (a dilation,
    or padding by name): oneDNN's convolution, forward and backward, with the reference's results."""
    torch.manual_seed(2)
    conv = PartialConv2d(48, 40, kernel, 1, **options)
    x = torch.rand(1, 48, 6, 6, requires_grad=True)
    assert not _im2col_suits(x, conv.weight, conv.stride, conv.padding, conv.dilation)
    assert_equals_the_reference(conv, x, random_mask((1, 1, 6, 6), seed=3))


def test_only_float32_on_the_cpu_takes_the_im2col_path():
    weight = torch.rand(40, 48, 3, 3)
    for x in (torch.rand(1, 48, 5, 6, dtype=torch.float64), torch.empty(1, 48, 5, 6, device="meta")):
        assert not _im2col_suits(x, weight.to(x.dtype), (1, 1), (1, 1), (1, 1))
    assert _im2col_suits(torch.rand(1, 48, 5, 6), weight, (1, 1), (1, 1), (1, 1))


def test_mask_update_is_eq2():
    conv = layer(k=3)
    mask = torch.zeros(1, 1, 9, 9)
    mask[..., 4, 4] = 1
    _, m = conv(torch.rand(1, 4, 9, 9), mask)
    expected = torch.zeros(1, 1, 9, 9)
    expected[..., 3:6, 3:6] = 1
    assert torch.equal(m, expected)


def test_holes_disappear_after_enough_layers():
    mask = torch.ones(1, 1, 32, 32)
    mask[..., 8:24, 8:24] = 0
    conv = layer(c_in=1, c_out=1, k=3)
    x = torch.rand(1, 1, 32, 32)
    for _ in range(8):
        x, mask = conv(x, mask)
    assert mask.all()


def eq1_by_windows(conv, x, mask):
    """Eq. 1-2 window by window (F.unfold), in x's precision, with no epsilon anywhere."""
    k, (stride, _), (padding, _) = conv.kernel_size[0], conv.stride, conv.padding
    masked_windows = F.unfold(x * mask, k, padding=padding, stride=stride)  # (N, C k k, L)
    mask_windows = F.unfold(mask.expand_as(x), k, padding=padding, stride=stride)
    valid = mask_windows.sum(dim=1, keepdim=True)  # sum(M)
    ratio = torch.where(valid > 0, conv.in_channels * k * k / valid.clamp(min=1), torch.zeros_like(valid))
    output = (conv.weight.reshape(conv.out_channels, -1) @ masked_windows) * ratio
    output = output + conv.bias.view(1, -1, 1) * (valid > 0)
    side = (x.shape[-1] + 2 * padding - k) // stride + 1
    return output.reshape(x.shape[0], conv.out_channels, side, side), (valid > 0).to(x.dtype).reshape(
        x.shape[0], 1, side, side
    )


@pytest.mark.parametrize("stride", [1, 2])
def test_float64_layer_equals_eq1_to_1e12(stride):
    conv = layer(stride=stride).double()
    x = torch.randn(2, 4, 12, 12, dtype=torch.float64)
    mask = random_mask((2, 1, 12, 12), p=0.7).double()
    y, updated = conv(x, mask)
    expected, expected_mask = eq1_by_windows(conv, x, mask)
    assert y.dtype == torch.float64 and updated.dtype == torch.float64
    assert (y - expected).abs().max().item() < 1e-12
    assert torch.equal(updated, expected_mask)


def test_float64_network_runs_and_ignores_hole_contents():
    from pconvkit.models.unet import PConvUNet, UNetConfig

    torch.manual_seed(0)
    net = PConvUNet(UNetConfig(layers=3, width=0.125)).double().eval()
    image = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    mask = random_mask((1, 1, 32, 32)).double()
    with torch.no_grad():
        first = net(image, mask)
        second = net(torch.where(mask.bool(), image, torch.rand_like(image)), mask)
    assert first.dtype == torch.float64 and torch.equal(first, second)


def _eq1_by_hand(weight, bias, x, mask, padding):
    """Eq. 1 and 2 window by window in NumPy: W^T (X * M) sum(1) / sum(M) + b where the window holds
    a valid entry, else 0; the updated mask is 1 there. The border is padded with holes (Section 3.2)."""
    out_channels, in_channels, kh, kw = weight.shape
    x = np.pad(x * mask, ((0, 0), (padding, padding), (padding, padding)))
    mask = np.pad(np.broadcast_to(mask, x.shape[:1] + mask.shape[1:]), ((0, 0), (padding, padding), (padding, padding)))
    height, width = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    output, updated = np.zeros((out_channels, height, width)), np.zeros((height, width))
    for i in range(height):
        for j in range(width):
            window, valid = x[:, i : i + kh, j : j + kw], mask[:, i : i + kh, j : j + kw]
            if valid.sum() > 0:
                scale = valid.size / valid.sum()
                output[:, i, j] = (weight * window).sum(axis=(1, 2, 3)) * scale + bias
                updated[i, j] = 1
    return output, updated


@settings(max_examples=40, deadline=None)
@given(
    st.integers(4, 9),
    st.integers(4, 9),
    st.sampled_from([1, 3, 5]),
    st.integers(0, 2**31 - 1),
    st.floats(0.0, 1.0),
)
def test_the_layer_is_eq_1_window_by_window_and_blind_to_what_its_holes_hold(height, width, kernel, seed, hole_share):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    layer = PartialConv2d(2, 3, kernel, padding=kernel // 2).double()
    x = rng.normal(size=(1, 2, height, width))
    mask = (rng.random((1, 1, height, width)) >= hole_share).astype(np.float64)
    output, updated = layer(torch.from_numpy(x), torch.from_numpy(mask))
    expected, expected_mask = _eq1_by_hand(
        layer.weight.detach().numpy(), layer.bias.detach().numpy(), x[0], mask[0], kernel // 2
    )
    assert np.allclose(output[0].detach().numpy(), expected, atol=1e-10)
    assert np.array_equal(updated[0, 0].numpy(), expected_mask)
    other = np.where(mask == 1, x, rng.normal(size=x.shape) * 1e3)  # other hole contents
    assert torch.equal(layer(torch.from_numpy(other), torch.from_numpy(mask))[0], output)


@pytest.mark.parametrize("kernel", [(1, 3), (3, 1), (3, 5)])
def test_a_non_square_window_counts_its_own_pixels(kernel):
    """sum(1) of Eq. 1 is C_in x k_h x k_w: all-ones features through an all-ones kernel give that
    count at every pixel, border included (there the renormalisation makes up for the padding)."""
    padding = (kernel[0] // 2, kernel[1] // 2)
    conv = PartialConv2d(2, 1, kernel, 1, padding, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    x, mask = torch.ones(1, 2, 9, 11), torch.ones(1, 1, 9, 11)
    output, _ = conv(x, mask)
    assert torch.allclose(output, torch.full_like(output, 2 * kernel[0] * kernel[1]))
    reference, _ = reference_partial_conv(conv, x, mask.expand(-1, 2, -1, -1))
    assert torch.allclose(reference, output, atol=1e-5)


@pytest.mark.parametrize("shape", [(1, 1, 9, 12), (1, 1, 12, 9), (1, 1, 13, 12), (1, 1, 12, 13), (1, 3, 12, 12)])
def test_a_mask_that_does_not_fit_the_features_is_refused(shape):
    conv = layer(c_in=4)
    with pytest.raises(ValueError, match="does not fit"):
        conv(torch.rand(1, 4, 12, 12), torch.ones(shape))


def test_only_groups_of_one_are_accepted_and_the_state_is_the_convolutions():
    with pytest.raises(ValueError, match="groups=1"):
        PartialConv2d(4, 4, 3, groups=2)
    assert set(layer().state_dict()) == {"weight", "bias"}  # checkpoints hold no mask buffer


@pytest.mark.parametrize("trainable", ["weight", "bias", "none"])
def test_gradients_of_frozen_parts_and_of_an_input_without_gradient(trainable):
    """The first layer's input (the image) needs no gradient; a frozen weight or bias gets none;
    what is trained gets the reference's."""
    conv = layer()
    conv.weight.requires_grad_(trainable == "weight")
    conv.bias.requires_grad_(trainable == "bias")
    x, mask = torch.rand(2, 4, 10, 10), random_mask((2, 1, 10, 10), seed=3)
    y, _ = conv(x, mask)
    if trainable == "none":
        assert not y.requires_grad
        return
    y.square().sum().backward()
    reference = layer()
    y_ref, _ = reference_partial_conv(reference, x, mask.expand(-1, 4, -1, -1))
    y_ref.square().sum().backward()
    frozen = "bias" if trainable == "weight" else "weight"
    assert getattr(conv, frozen).grad is None
    assert torch.allclose(getattr(conv, trainable).grad, getattr(reference, trainable).grad, atol=1e-4, rtol=1e-5)
