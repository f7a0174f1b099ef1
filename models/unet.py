"""The PConv U-Net of Table 2 (Section 3.2), and the same network with plain convolutions.

Encoder PConv1-8: 7x7/64, 5x5/128, 5x5/256, then 3x3/512 five times, all stride 2, BatchNorm (not
on PConv1) and ReLU. Decoder PConv9-16: nearest up-sampling x2, concatenation of features and masks
with the matching encoder layer (the input image for the last), 3x3 stride 1, BatchNorm and
LeakyReLU(0.2), except PConv16, which gives 3 channels with neither. `layers` and `width` shrink
the network for small compute budgets; `skip_fill` fills the thinnest holes of PConv16's image skip
(UNetConfig); the defaults are the paper's.

Images enter and leave in [0, 1]; the network normalises them with ImageNet statistics inside.
"""

import torch
import torch.nn.functional as F
from torch import nn

from pconvkit.models.config import UNetConfig
from pconvkit.models.partialconv import PartialConv2d

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TABLE2_ENCODER = ((7, 64), (5, 128), (5, 256), (3, 512), (3, 512), (3, 512), (3, 512), (3, 512))


class PConvUNet(nn.Module):
    """The 16-layer U-Net of Table 2 with partial convolutions (or, with ``partial=False``, plain ones).

    ``forward(image, mask)`` maps images (N, 3, H, W) in [0, 1] and masks (N, 1, H, W), 1 = valid,
    to the network's output (N, 3, H, W), before compositing; H and W must be multiples of
    ``stride`` (2^layers).

    Parameters
    ----------
    config : UNetConfig
        Depth, width and kind; the defaults are Table 2's (32.9 M parameters).

    References
    ----------
    Liu et al., ECCV 2018, Section 3.4 (Network Design) and Table 2 of the supplementary material.

    Examples
    --------
    >>> import torch
    >>> net = PConvUNet(UNetConfig(layers=4, width=0.25)).eval()
    >>> net.stride
    16
    >>> with torch.no_grad():
    ...     output = net(torch.rand(2, 3, 64, 64), torch.ones(2, 1, 64, 64))
    >>> tuple(output.shape)
    (2, 3, 64, 64)
    >>> round(sum(p.numel() for p in PConvUNet().parameters()) / 1e6, 1)  # millions, Table 2
    32.9
    """

    def __init__(self, config: UNetConfig = UNetConfig()):
        super().__init__()
        if not 2 <= config.layers <= len(TABLE2_ENCODER):
            raise ValueError(f"layers must be between 2 and {len(TABLE2_ENCODER)}")
        if config.skip_fill < 0 or config.input_fill < 0:
            raise ValueError("skip_fill and input_fill are counts of passes, 0 or more")
        self.config = config
        conv = PartialConv2d if config.partial else nn.Conv2d
        channels = [3] + [max(1, round(c * config.width)) for _, c in TABLE2_ENCODER[: config.layers]]
        self.encoder = nn.ModuleList()
        for level, (kernel, _) in enumerate(TABLE2_ENCODER[: config.layers], start=1):
            self.encoder.append(
                _Stage(
                    conv(channels[level - 1], channels[level], kernel, 2, kernel // 2, bias=level == 1),
                    batchnorm=level > 1,
                    activation=nn.ReLU(),
                )
            )
        self.decoder = nn.ModuleList()
        for level in range(config.layers - 1, -1, -1):
            last = level == 0
            self.decoder.append(
                _Stage(
                    conv(channels[level + 1] + channels[level], channels[level], 3, 1, 1, bias=last),
                    batchnorm=not last,
                    activation=None if last else nn.LeakyReLU(0.2),
                )
            )
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._frozen_encoder_batchnorm = False
        self.reset_parameters()

    @property
    def stride(self) -> int:
        """Inputs must have sides divisible by this."""
        return 2**self.config.layers

    def reset_parameters(self):
        """He (Kaiming) initialisation, as in the paper; BatchNorm at identity, biases 0."""
        for stage in list(self.encoder) + list(self.decoder):
            slope = stage.activation.negative_slope if isinstance(stage.activation, nn.LeakyReLU) else 0.0
            nn.init.kaiming_normal_(stage.conv.weight, a=slope, nonlinearity="leaky_relu")
            if stage.conv.bias is not None:
                nn.init.zeros_(stage.conv.bias)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """image: (N, 3, H, W) in [0, 1]; mask: (N, 1, H, W), 1 = valid. Returns I_out in [0, 1] space.

        Hole pixels of `image` are never read by the partial network (Eq. 1); the Conv baseline
        replaces them with its placeholder value.
        """
        if image.shape[-1] % self.stride or image.shape[-2] % self.stride:
            raise ValueError(f"image sides must be divisible by {self.stride}, got {tuple(image.shape[-2:])}")
        x = (image - self.mean) / self.std
        if self.config.input_fill:
            x, mask = box_fill(x, mask, self.config.input_fill)
        if not self.config.partial:
            return self._forward_plain(x, mask)
        features, masks = [x], [mask]
        for stage in self.encoder:
            x, mask = stage(x, mask)
            features.append(x)
            masks.append(mask)
        if self.config.skip_fill:
            features[0], masks[0] = box_fill(features[0], masks[0], self.config.skip_fill)
        for stage, skip, skip_mask in zip(self.decoder, reversed(features[:-1]), reversed(masks[:-1])):
            # Nearest up-sampling commutes with masking, so mask at the low resolution (4x fewer
            # products); the valid-channel count replaces a multi-channel mask.
            up = F.interpolate(x * mask, scale_factor=2, mode="nearest")
            valid_count = F.interpolate(mask * x.shape[1], scale_factor=2, mode="nearest") + skip_mask * skip.shape[1]
            x, mask = stage(torch.cat([up, skip * skip_mask], dim=1), valid_count, premasked=True)
        return x * self.std + self.mean

    def _forward_plain(self, x, mask):
        placeholder = 0.0 if self.config.hole_value == "imagenet_mean" else (0.5 - self.mean) / self.std
        image, x = x, x * mask + placeholder * (1 - mask)
        features = [x]
        for stage in self.encoder:
            x, _ = stage(x, None)
            features.append(x)
        if self.config.skip_fill:  # the thin holes of the last layer's skip filled, the rest the placeholder
            filled, reached = box_fill(image, mask, self.config.skip_fill)
            features[0] = filled + placeholder * (1 - reached)
        for stage, skip in zip(self.decoder, reversed(features[:-1])):
            x, _ = stage(torch.cat([F.interpolate(x, scale_factor=2, mode="nearest"), skip], dim=1), None)
        return x * self.std + self.mean

    def freeze_encoder_batchnorm(self):
        """Fine-tuning phase (Section 4.2): encoder BatchNorm statistics and affine parameters fixed."""
        self._frozen_encoder_batchnorm = True
        for stage in self.encoder:
            if stage.batchnorm is not None:
                stage.batchnorm.eval()
                for parameter in stage.batchnorm.parameters():
                    parameter.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self._frozen_encoder_batchnorm:
            for stage in self.encoder:
                if stage.batchnorm is not None:
                    stage.batchnorm.eval()
        return self


def box_fill(x: torch.Tensor, mask: torch.Tensor, passes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`passes` 3x3 box partial convolutions (Eq. 1 with W = 1) of x, each filling the hole pixels next
    to a valid one with the mean of their valid neighbours (the mask update marks them valid); valid
    pixels keep their values and hole contents are never read. Returns (x masked, mask)."""
    x = x * mask
    for _ in range(passes):
        # 3x3 means over a zero-padded border (the border counts as hole); their ratio is the mean of
        # the valid neighbours. Arithmetic rather than torch.where: x is 0 in the holes, so adding
        # the mean times (1 - mask) fills them, and the exported graph runs twice as fast (a
        # broadcast Where is ONNX Runtime's slowest kernel here).
        total = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=True)
        count = F.avg_pool2d(mask, 3, stride=1, padding=1, count_include_pad=True)
        x = x + total * ((1 - mask) / count.clamp(min=1e-3))  # count is 0 or at least 1/9
        mask = (count > 0).to(mask.dtype)
    return x, mask


class _Stage(nn.Module):
    """Convolution, then BatchNorm and activation when the layer has them (Table 2's columns)."""

    def __init__(self, conv, batchnorm: bool, activation):
        super().__init__()
        self.conv = conv
        self.batchnorm = nn.BatchNorm2d(conv.out_channels) if batchnorm else None
        self.activation = activation

    def forward(self, x, mask, premasked=False):
        if mask is None:
            x = self.conv(x)
        elif premasked:
            x, mask = self.conv.forward_masked(x, mask)
        else:
            x, mask = self.conv(x, mask)
        if self.batchnorm is not None:
            x = self.batchnorm(x)
        if self.activation is not None:
            x = self.activation(x)
        return x, mask


def composite(output: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """I_comp: known pixels from the input, holes from the network."""
    return mask * image + (1 - mask) * output
