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
"""
import torch
import torch.nn.functional as F
from torch import nn


class PartialConv2d(nn.Conv2d):
    """nn.Conv2d with Eq. 1-2. forward(x, mask) -> (output, updated mask (N, 1, H', W'))."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.groups != 1:
            raise ValueError("partial convolution supports groups=1 only")
        self.register_buffer("window_ones", torch.ones(1, 1, *self.kernel_size), persistent=False)
        self.window_size = self.in_channels * self.kernel_size[0] * self.kernel_size[1]

    def forward(self, x: torch.Tensor, mask: torch.Tensor):
        """x: (N, C_in, H, W) features; mask: (N, 1 or C_in, H, W), 1 = valid."""
        if mask.shape[1] not in (1, self.in_channels) or mask.shape[-2:] != x.shape[-2:]:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not fit features {tuple(x.shape)}")
        with torch.no_grad():
            valid_count = mask.sum(dim=1, keepdim=True) if mask.shape[1] > 1 else mask * self.in_channels
        return self.forward_masked(x * mask, valid_count.to(x.dtype))

    def forward_masked(self, masked_x: torch.Tensor, valid_count: torch.Tensor):
        """The layer on features already multiplied by their mask.

        valid_count: (N, 1, H, W), the number of valid channels at each pixel (C_in x the mask for a
        single-channel mask). Lets the U-Net concatenate masked features without building a
        multi-channel mask.
        """
        with torch.no_grad(), torch.autocast(masked_x.device.type, enabled=False):
            window_valid = F.conv2d(valid_count.float(), self.window_ones, None, self.stride, self.padding,
                                    self.dilation)
            updated_mask = (window_valid > 0).to(masked_x.dtype)
            # sum(1)/sum(M) where sum(M) > 0, else 0; computed in fp32 so no epsilon is needed.
            ratio = (self.window_size / window_valid.clamp(min=1.0) * (window_valid > 0)).to(masked_x.dtype)
        output = F.conv2d(masked_x, self.weight, None, self.stride, self.padding, self.dilation)
        output = output * ratio
        if self.bias is not None:
            output = output + self.bias.view(1, -1, 1, 1) * updated_mask
        return output, updated_mask


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
