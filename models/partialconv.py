"""The partial convolution layer, Section 3.1 of the paper (Eq. 1 and 2).

    x' = W^T (X * M) sum(1) / sum(M) + b   where sum(M) > 0
    x' = 0                                 elsewhere
    m' = 1 where sum(M) > 0, else 0

sum(1) = C_in k_h k_w counts the whole window over all input channels, sum(M) the valid entries in
it. Masks are 1 = valid, 0 = hole, with one channel (the same for every feature channel) or one per
feature channel. The window sum over channels and space equals a single-channel convolution of the
channel-summed mask with a ones kernel, so the mask work costs one cheap convolution whatever the
number of channels, and the ratio is stored once per pixel, not once per output channel. The image
border is treated as a hole (partial-convolution padding, Section 3.2): the ones kernel pads with 0.

The layer is a custom autograd function that keeps, besides the input it shares with the previous
layer, only single-channel maps (mask, ratio, updated mask) for the backward pass, recomputes
X * M there, and applies the ratio and the bias in place on the convolution's output. On the CPU a
large X * M is built and convolved in bands of output rows, so the forward's transient memory is
little more than its output, and deep layers (many channels, few pixels) run PyTorch's im2col
convolution, which uses their weights in place where oneDNN would copy them.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable


class PartialConv2d(nn.Conv2d):
    """A convolution over the valid pixels only, renormalised, with the mask update (Eq. 1-2).

    Takes nn.Conv2d's arguments (groups=1 only). ``forward(x, mask)`` returns the output and the
    updated mask.

    Parameters
    ----------
    x : torch.Tensor
        Features, (N, C_in, H, W), float32, float64 or (under autocast) float16.
    mask : torch.Tensor
        (N, 1, H, W) or (N, C_in, H, W), 1 = valid, 0 = hole (the paper's M).

    Returns
    -------
    output : torch.Tensor
        (N, C_out, H', W'): W^T (X * M) sum(1) / sum(M) + b where the window holds a valid
        entry, 0 elsewhere.
    updated_mask : torch.Tensor
        (N, 1, H', W'), 1 where the window held a valid entry.

    References
    ----------
    Liu et al., Image Inpainting for Irregular Holes Using Partial Convolutions, ECCV 2018,
    Section 3.1, Eq. 1 and 2; Section 3.2 for the border (partial-convolution padding).

    Examples
    --------
    >>> import torch
    >>> layer = PartialConv2d(3, 8, 3, padding=1)
    >>> x, mask = torch.rand(1, 3, 16, 16), torch.ones(1, 1, 16, 16)
    >>> mask[..., 4:12, 4:12] = 0
    >>> output, updated = layer(x, mask)
    >>> tuple(output.shape), tuple(updated.shape), int(updated.sum())  # the hole shrinks by one pixel a side
    ((1, 8, 16, 16), (1, 1, 16, 16), 220)
    >>> filled = torch.where(mask.bool(), x, torch.rand_like(x))  # other hole contents, same output
    >>> torch.equal(layer(filled, mask)[0], output)
    True
    """

    # Largest X * M temporary built at once, per device type; larger ones are built in bands. Off on
    # GPUs, where the extra kernel launches cost more than the memory is worth. An instance can set
    # its own `band_bytes` (None: never banded).
    BAND_BYTES = {"cpu": 4 * 2**20}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError("partial convolution supports groups=1 only")
        self.register_buffer("window_ones", torch.ones(1, 1, *self.kernel_size), persistent=False)
        self.window_size = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        self.band_bytes = dict(self.BAND_BYTES)

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        """x: (N, C_in, H, W) features; mask: (N, 1 or C_in, H, W), 1 = valid."""
        if mask.shape[1] not in (1, self.in_channels) or mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit features {tuple(x.shape)}")
        with torch.no_grad():
            valid_count = mask.sum(dim=1, keepdim=True) if mask.shape[1] > 1 else mask * self.in_channels
        return self._partial_forward(x, mask.to(x.dtype), valid_count)

    def forward_masked(self, masked_x: torch.Tensor, valid_count: torch.Tensor):
        """The layer on features already multiplied by their mask.

        valid_count: (N, 1, H, W), the number of valid channels at each pixel (C_in x the mask for a
        single-channel mask). Lets the U-Net concatenate masked features without building a
        multi-channel mask.
        """
        return self._partial_forward(masked_x, None, valid_count)

    def _partial_forward(self, x, multiplier, valid_count):
        # The mask arithmetic runs in fp32 (fp64 for an fp64 layer), whatever autocast does to the rest.
        count_dtype = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.no_grad(), torch.autocast(x.device.type, enabled=False):
            window_valid = F.conv2d(
                valid_count.to(count_dtype),
                self.window_ones.to(count_dtype),
                None,
                self.stride,
                self.padding,
                self.dilation,
            )
            updated_mask = (window_valid > 0).to(count_dtype)
            # sum(1)/sum(M) where sum(M) > 0, else 0; no epsilon needed at this precision.
            ratio = self.window_size / window_valid.clamp(min=1.0) * updated_mask
        output = _PartialConvolution.apply(
            x,
            multiplier,
            ratio,
            updated_mask,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self.dilation,
            (self.band_bytes or {}).get(x.device.type),
        )
        return output, updated_mask.to(x.dtype)


class _PartialConvolution(torch.autograd.Function):
    """conv(X * M) * ratio + bias * updated, keeping only X (shared) and one-channel maps."""

    @staticmethod
    @torch.amp.custom_fwd(device_type="cuda")
    def forward(ctx, x, multiplier, ratio, updated, weight, bias, stride, padding, dilation, band_bytes):
        output = _masked_convolution(x, multiplier, weight, stride, padding, dilation, band_bytes)
        output.mul_(ratio)
        if bias is not None:
            output.addcmul_(updated, bias.view(1, -1, 1, 1))
        ctx.save_for_backward(x, multiplier, ratio, updated, weight)
        ctx.conv_options = (stride, padding, dilation)
        ctx.has_bias = bias is not None
        return output

    @staticmethod
    def symbolic(g, x, multiplier, ratio, updated, weight, bias, stride, padding, dilation, band_bytes):
        """The same computation in standard ONNX operators, for torch.onnx.export (no bands: the
        runtime plans its own memory)."""
        if isinstance(padding, str):
            raise ValueError("ONNX export needs numeric padding")
        masked = x if multiplier is None else g.op("Mul", x, multiplier)
        output = g.op(
            "Mul",
            g.op("Conv", masked, weight, strides_i=list(stride), pads_i=list(padding) * 2, dilations_i=list(dilation)),
            ratio,
        )
        if bias is None:
            return output
        channel_shape = g.op("Constant", value_t=torch.tensor([1, -1, 1, 1]))
        return g.op("Add", output, g.op("Mul", updated, g.op("Reshape", bias, channel_shape)))

    @staticmethod
    @once_differentiable
    @torch.amp.custom_bwd(device_type="cuda")
    def backward(ctx, grad):
        x, multiplier, ratio, updated, weight = ctx.saved_tensors
        stride, padding, dilation = ctx.conv_options
        need_x, need_weight, need_bias = ctx.needs_input_grad[0], ctx.needs_input_grad[4], ctx.needs_input_grad[5]
        masked = x if multiplier is None else x * multiplier
        scaled = grad * ratio.to(grad.dtype)
        masked, weight = masked.to(grad.dtype), weight.to(grad.dtype)
        if isinstance(padding, str):  # "same" or "valid": convolution_backward takes numbers only
            with torch.enable_grad():
                inputs = [masked.detach().requires_grad_(), weight.detach().requires_grad_()]
                output = F.conv2d(*inputs, None, stride, padding, dilation)
                grad_x, grad_weight = torch.autograd.grad(output, inputs, scaled)
            grad_x, grad_weight = grad_x if need_x else None, grad_weight if need_weight else None
        elif _im2col_suits(masked, weight, stride, padding, dilation):
            grad_x, grad_weight, _ = torch.ops.aten._slow_conv2d_backward(
                scaled, masked, weight, weight.shape[-2:], stride, padding, [need_x, need_weight, False]
            )
        else:
            grad_x, grad_weight, _ = torch.ops.aten.convolution_backward(
                scaled, masked, weight, None, stride, padding, dilation, False, [0, 0], 1, [need_x, need_weight, False]
            )
        if grad_x is not None and multiplier is not None:
            grad_x.mul_(multiplier)
        grad_bias = None
        if need_bias and ctx.has_bias:
            # sum over pixels of grad * updated as a matrix product (no C_out-channel temporary), in
            # fp32: under mixed precision an fp16 sum over every pixel can overflow
            batch, channels = grad.shape[:2]
            grad_bias = torch.bmm(grad.float().reshape(batch, channels, -1), updated.float().reshape(batch, -1, 1)).sum(
                (0, 2)
            )
        return grad_x, None, None, None, grad_weight, grad_bias, None, None, None, None


def _masked_convolution(x, multiplier, weight, stride, padding, dilation, band_bytes=None):
    """conv2d(x * multiplier), built in bands of output rows when x * multiplier (and, on the im2col
    path, its unfolded copy) would take more than band_bytes, so that only one band exists at a time."""
    im2col = _im2col_suits(x, weight, stride, padding, dilation)  # decided for the whole layer, not per band
    if multiplier is None:
        return _convolution(x, weight, stride, padding, dilation, im2col)
    size = x.numel() * x.element_size()
    if im2col:
        size += size * weight.shape[-2] * weight.shape[-1] // (stride[0] * stride[1])
    if band_bytes is None or size <= band_bytes or isinstance(padding, str):
        return _convolution(x * multiplier, weight, stride, padding, dilation, im2col)
    height, kernel_height = x.shape[-2], weight.shape[-2]
    (row_stride, _), (row_padding, column_padding), (row_dilation, _) = stride, padding, dilation
    reach = row_dilation * (kernel_height - 1) + 1  # input rows one output row reads
    out_height = (height + 2 * row_padding - reach) // row_stride + 1
    rows = math.ceil(out_height / math.ceil(size / band_bytes))
    output = None
    for top in range(0, out_height, rows):
        bottom = min(top + rows, out_height)
        first, last = top * row_stride - row_padding, (bottom - 1) * row_stride - row_padding + reach
        low, high = max(first, 0), min(last, height)
        band = x[:, :, low:high] * multiplier[:, :, low:high]
        if low != first or high != last:  # the first and last bands: the full convolution's zero padding
            band = F.pad(band, (0, 0, low - first, last - high))
        result = _convolution(band, weight, stride, (0, column_padding), dilation, im2col)
        if output is None:
            output = result.new_empty(result.shape[:2] + (out_height, result.shape[-1]))
        output[:, :, top:bottom] = result
    return output


_HAS_IM2COL = hasattr(torch.ops.aten, "_slow_conv2d_forward") and hasattr(torch.ops.aten, "_slow_conv2d_backward")


def _convolution(x, weight, stride, padding, dilation, im2col):
    if im2col:
        return torch.ops.aten._slow_conv2d_forward(x, weight, weight.shape[-2:], None, stride, padding)
    return F.conv2d(x, weight, None, stride, padding, dilation)


def _im2col_suits(x, weight, stride, padding, dilation):
    """Whether PyTorch's own im2col convolution should run this layer instead of oneDNN's (CPU).
    oneDNN copies the weights into its own layout on every call; im2col works on them in place but
    unfolds the input into a buffer of k_h k_w / (s_h s_w) times its size. Where that buffer is the
    smaller of the two (deep layers: many channels, few pixels), im2col needs less memory, and it is
    no slower there (benchmarks/bench_partialconv.py)."""
    if x.device.type != "cpu" or x.dtype != torch.float32 or isinstance(padding, str) or tuple(dilation) != (1, 1):
        return False
    if not _HAS_IM2COL:  # internal ATen operators; a torch without them keeps to oneDNN, only slower
        return False
    unfolded = x.numel() * weight.shape[-2] * weight.shape[-1] // (stride[0] * stride[1])
    return unfolded < weight.numel()


def reference_partial_conv(conv: nn.Conv2d, x: torch.Tensor, mask: torch.Tensor):
    """Eq. 1-2 written out as NVIDIA's public layer does it: a full mask convolution with a
    (C_out, C_in, k, k) ones kernel and one ratio per output channel. The slow, obvious reference
    that tests and benchmarks compare PartialConv2d against. mask: (N, C_in, H, W)."""
    ones = torch.ones(conv.out_channels, conv.in_channels, *conv.kernel_size, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        window_valid = F.conv2d(mask, ones, None, conv.stride, conv.padding, conv.dilation)
        ratio = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1] / (window_valid + 1e-8)
        updated = torch.clamp(window_valid, 0, 1)
        ratio = ratio * updated
    raw = F.conv2d(x * mask, conv.weight, None, conv.stride, conv.padding, conv.dilation)
    output = raw * ratio
    if conv.bias is not None:
        output = (output + conv.bias.view(1, -1, 1, 1)) * updated
    return output, updated
