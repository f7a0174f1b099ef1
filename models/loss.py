"""The loss of Section 3.3 (Eq. 3-7).

    L_total = L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp) + 0.1 L_tv

L1 terms are averaged over C*H*W and the batch; perceptual and style terms use VGG16's pool1,
pool2 and pool3 on both I_out and I_comp; Gram matrices are scaled by K_p = 1 / (C_p H_p W_p) and
their L1 distance divided by C_p^2 (Eq. 4-5); TV is taken on I_comp over pairs of pixels that both
lie in the 1-pixel dilation of the hole region, divided by the number of elements of I_comp (Eq. 6).
"""

import torch
import torch.nn.functional as F
from torch import nn

from pconvkit.errors import UserError
from pconvkit.files import load_torch_file
from pconvkit.models.config import LossWeights
from pconvkit.models.unet import IMAGENET_MEAN, IMAGENET_STD, composite

# torchvision `features` indices just after pool1, pool2 and pool3, and the convolutions before pool3
VGG_LAYOUTS = {
    "vgg16": dict(pool_ends=(5, 10, 17), convolutions=(0, 2, 5, 7, 10, 12, 14)),
    "vgg19": dict(pool_ends=(5, 10, 19), convolutions=(0, 2, 5, 7, 10, 12, 14, 16)),  # conv3_4 before pool3
}


# Weights converted from Caffe or Keras with the input convention folded into conv1_1 (0-255 pixel
# levels, BGR, mean subtracted -> torchvision's normalised RGB) compute the original network, whose
# activations are in pixel levels: about 255 x 0.226 (the mean ImageNet std) times those of a network
# trained on normalised input, as torchvision's own are. Dividing its features by that factor puts
# them in torchvision's units, where the paper's weights (0.05, 120) balance the terms as NVIDIA's
# torchvision VGG16 did (the style term, a Gram matrix, would otherwise be 3,300 times too strong).
# Such a first layer is recognised by its size: mean |weight| above 1 (torchvision's: about 0.2).
PIXEL_LEVEL_SCALE = 255.0 * sum(IMAGENET_STD) / 3
PIXEL_LEVEL_FIRST_LAYER = 1.0


class VGGFeatures(nn.Module):
    """pool1, pool2 and pool3 activations of torchvision's VGG16 (the paper's) or VGG19, frozen.
    Input in [0, 1]; normalised inside with ImageNet statistics. Features of weights converted from
    pixel-level (Caffe, Keras) networks are divided by PIXEL_LEVEL_SCALE (`feature_scale`)."""

    def __init__(self, state_dict=None, arch: str = "vgg16"):
        super().__init__()
        from torchvision import models

        network = getattr(models, arch)(weights=None)
        ends = VGG_LAYOUTS[arch]["pool_ends"]
        features = network.features[: ends[-1]]
        if state_dict is not None:
            features.load_state_dict(
                {
                    k.removeprefix("features."): v
                    for k, v in state_dict.items()
                    if k.startswith("features.") and int(k.split(".")[1]) < ends[-1]
                }
            )
        self.arch = arch
        first = float(features[0].weight.detach().abs().mean())
        self.feature_scale = PIXEL_LEVEL_SCALE if first > PIXEL_LEVEL_FIRST_LAYER else 1.0
        self.slices = nn.ModuleList(features[a:b] for a, b in zip((0,) + ends, ends))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def forward(self, image):
        x = (image - self.mean) / self.std
        features = []
        for block in self.slices:
            x = block(x)
            # no division for torchvision's own weights: a copy of every feature map per training step saved
            features.append(x / self.feature_scale if self.feature_scale != 1.0 else x)
        return features


def vgg_arch(state: dict) -> str:
    """'vgg16' or 'vgg19' from a torchvision state dict's keys and shapes (full, or cut after pool3):
    in VGG19 features.16 is conv3_4, in VGG16 it is pool3, which has no weights."""
    if not isinstance(state, dict) or "features.0.weight" not in state:
        raise UserError("not a torchvision VGG state dict (no features.0.weight)")
    arch = "vgg19" if "features.16.weight" in state else "vgg16"
    missing = [i for i in VGG_LAYOUTS[arch]["convolutions"] if f"features.{i}.weight" not in state]
    if missing:
        raise UserError(f"a {arch} state dict without the convolution features.{missing[0]} (needed up to pool3)")
    return arch


def load_vgg(path) -> VGGFeatures:
    """VGG16 or VGG19 from a torchvision state-dict file, full or cut after pool3 (vgg16-397923af.pth,
    vgg19-dcbb9e9d.pth, ...); the network is recognised by its keys and shapes."""
    state = load_torch_file(path, "VGG weights")
    try:
        return VGGFeatures(state, vgg_arch(state))
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    except Exception as err:
        raise UserError(f"{path} does not hold torchvision VGG weights: {str(err).splitlines()[0][:200]}") from None


def l1_hole_valid(output, target, mask):
    """(L_hole, L_valid): L1 over holes and over valid pixels, each divided by C*H*W (and batch)."""
    count = target.numel()
    return ((1 - mask) * (output - target)).abs().sum() / count, (mask * (output - target)).abs().sum() / count


def gram_matrix(features):
    """K_p psi^T psi for features (N, C, H, W): (N, C, C), K_p = 1 / (C H W)."""
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def perceptual_loss(out_features, comp_features, gt_features):
    """Eq. 3: per layer, mean absolute difference for I_out and for I_comp, summed."""
    return sum(F.l1_loss(o, g) + F.l1_loss(c, g) for o, c, g in zip(out_features, comp_features, gt_features))


def style_loss(features, gt_features):
    """Eq. 4/5: per layer, ||K_p (Gram - Gram_gt)||_1 / C_p^2, averaged over the batch."""
    return sum(F.l1_loss(gram_matrix(f), gram_matrix(g)) for f, g in zip(features, gt_features))


def total_variation_loss(composited, mask):
    """Eq. 6: L1 of horizontal and vertical neighbour differences of I_comp, only where both pixels
    lie in R, the 1-pixel dilation of the hole region; divided by the number of elements of I_comp."""
    holes = 1 - mask
    region = (F.max_pool2d(holes, 3, stride=1, padding=1) > 0).to(composited.dtype)
    horizontal = region[..., :, 1:] * region[..., :, :-1] * (composited[..., :, 1:] - composited[..., :, :-1]).abs()
    vertical = region[..., 1:, :] * region[..., :-1, :] * (composited[..., 1:, :] - composited[..., :-1, :]).abs()
    return (horizontal.sum() + vertical.sum()) / composited.numel()


class InpaintingLoss(nn.Module):
    """L_total of Eq. 7: L_valid + 6 L_hole + 0.05 L_perceptual + 120 (L_style_out + L_style_comp) + 0.1 L_tv.

    Parameters
    ----------
    vgg : VGGFeatures, optional
        ImageNet VGG16 (the paper's) or VGG19 up to pool3 for the perceptual and style terms; without it
        they are left out.
    weights : LossWeights
        The weights of Eq. 7 (the defaults are the paper's).

    Returns
    -------
    dict
        ``forward(output, target, mask)`` returns every term and 'total' as tensors. output and
        target are (N, 3, H, W) in [0, 1], mask (N, 1, H, W) with 1 = valid.

    References
    ----------
    Liu et al., ECCV 2018, Section 3.3, Eq. 3-7.

    Examples
    --------
    >>> import torch
    >>> loss = InpaintingLoss()
    >>> target, mask = torch.rand(1, 3, 32, 32), torch.ones(1, 1, 32, 32)
    >>> mask[..., 8:24, 8:24] = 0
    >>> terms = loss(target, target, mask)  # a perfect output: no l1 error, only the texture's TV
    >>> sorted(terms), float(terms["hole"]), float(terms["valid"])
    (['hole', 'total', 'tv', 'valid'], 0.0, 0.0)
    >>> float(loss(torch.zeros_like(target), target, mask)["hole"]) > 0
    True
    """

    def __init__(self, vgg: VGGFeatures | None = None, weights: LossWeights = LossWeights()):
        super().__init__()
        self.vgg = vgg
        self.weights = weights

    def forward(self, output, target, mask) -> dict:
        """All terms and 'total', as tensors. output, target: (N, 3, H, W) in [0, 1]; mask (N, 1, H, W)."""
        mask = mask.expand_as(target)
        composited = composite(output, target, mask)
        hole, valid = l1_hole_valid(output, target, mask)
        terms = {"valid": valid, "hole": hole, "tv": total_variation_loss(composited, mask[:, :1])}
        if self.vgg is not None:
            out_f, comp_f = self.vgg(output), self.vgg(composited)
            with torch.no_grad():
                gt_f = self.vgg(target)
            terms["perceptual"] = perceptual_loss(out_f, comp_f, gt_f)
            terms["style_out"] = style_loss(out_f, gt_f)
            terms["style_comp"] = style_loss(comp_f, gt_f)
        w = self.weights
        total = w.valid * valid + w.hole * hole + w.tv * terms["tv"]
        if self.vgg is not None:
            total = total + w.perceptual * terms["perceptual"] + w.style * (terms["style_out"] + terms["style_comp"])
        terms["total"] = total
        return terms
