"""The metrics of Table 1, on composited outputs (known pixels from the input).

Images are float (H, W, 3) in [0, 1].

- l1 error (%): mean absolute difference over all pixels and channels, times 100.
- PSNR (dB): 10 log10(1 / MSE), data range 1.
- SSIM: Wang et al. 2004 with an 11-tap Gaussian window of sigma 1.5, K1 = 0.01, K2 = 0.03,
  population (not sample) covariances, computed per channel and averaged over R, G, B, over the
  pixels whose window lies inside the image (5 px cropped at each side). This equals
  skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=2); toolkits that use a uniform 7x7
  window or sample covariances give other numbers. 'ssim_full' is the same map averaged over every
  pixel, the windows at the border zero-padded: LaMa's evaluator (saicinpainting/evaluation/losses/
  ssim.py) and torchmetrics since its PR 2721 count the border so.
- Hole-restricted measures, not the paper's: PSNR over the hole pixels only, and LPIPS over the
  hole's bounding box (grown to LPIPS_BOX_MIN px a side, so that the network sees a patch).
- Inception score: exp(E_x KL(p(y|x) || p(y))) over 10 splits, mean and std (Salimans et al. 2016),
  torchvision's Inception-v3 on 299x299 inputs, weights from a file the user names.
"""

from dataclasses import dataclass

import cv2
import numpy as np

from pconvkit.errors import UserError
from pconvkit.files import load_torch_file


@dataclass(frozen=True)
class Metric:
    """A column of the results and a row block of Table 1: the one place a metric is named."""

    name: str  # the key in results.csv and summaries
    label: str  # as Table 1 prints it
    better: str  # 'min' or 'max'
    decimals: int
    over: str = ""  # what it is computed over, as the report's protocol card says
    in_paper: bool = False  # a row of the paper's Table 1 (and of the dilation sweep)
    row: bool = True  # a row of Table 1 when computed


# Computed per image and stored per results row (image_metrics returns these keys).
L1 = Metric("l1", "l1 (%)", "min", 2, "mean |output - truth| over all pixels and channels, x 100 (range [0, 1])", True)
PSNR = Metric("psnr", "PSNR", "max", 2, "10 log10(1 / MSE) over the whole image, data range 1", True)
SSIM = Metric("ssim", "SSIM", "max", 3, "the whole image (see SSIM_* for its window and constants)", True)
SSIM_FULL = Metric(
    "ssim_full",
    "SSIM (border in)",
    "max",
    3,
    "every pixel, the border's windows zero-padded (LaMa's and torchmetrics' convention: --ssim-border include)",
    row=False,  # shown in the SSIM row by `benchmark table --ssim-border include`, never as a row of its own
)
L1_HOLE = Metric("l1_hole", "l1 holes (%)", "min", 2, "the same as l1 over the hole pixels only (mmagic's MAE)")
PSNR_HOLE = Metric("psnr_hole", "PSNR holes", "max", 2, "10 log10(1 / MSE) over the hole pixels only (not the paper's)")
LPIPS = Metric("lpips", "LPIPS", "min", 3, "the whole image, with --lpips-weights (NaN without)")
LPIPS_BOX = Metric(
    "lpips_box",
    "LPIPS hole box",
    "min",
    3,
    "the hole's bounding box, grown to 64 px a side at least, with --lpips-weights (not the paper's)",
)
PER_IMAGE = (L1, PSNR, SSIM, SSIM_FULL, L1_HOLE, PSNR_HOLE, LPIPS, LPIPS_BOX)
# Computed over the images of a cell, from the saved Inception-v3 probabilities.
IS = Metric("is", "IS", "max", 3, "the outputs of a cell, 299 px, 10 splits")
IS_DROP = Metric("is_drop", "IS drop", "min", 3, "the ground truth's IS minus the outputs' (the paper's IScore row)")
IS_TF = Metric(
    "is_tf",
    "IS (TF-Inception)",
    "max",
    3,
    "the outputs of a cell, from the FID network's logits (--fid-weights), 10 splits: as published IS are",
)
PER_SET = (IS, IS_DROP, IS_TF)
METRICS = PER_IMAGE + PER_SET
# Computed per bin (N and B together) from the saved TF-Inception pool features.
FID = Metric("fid", "FID", "min", 2, "the outputs of a bin against its ground truths, from 2,048 images")
KID = Metric("kid", "KID", "min", 4, "the same, unbiased, from 2 images")
PER_BIN = (FID, KID)
# Super-resolution's measures (benchmark sr), on the luma (ITU-R BT.601) and on RGB, border excluded.
SUPER_RESOLUTION = (
    Metric("psnr_y", "PSNR Y", "max", 2, "luma, the factor's border excluded"),
    Metric("ssim_y", "SSIM Y", "max", 4, "luma, the factor's border excluded"),
    Metric("psnr_rgb", "PSNR RGB", "max", 2, "R, G, B, the factor's border excluded"),
    Metric("ssim_rgb", "SSIM RGB", "max", 4, "R, G, B, the factor's border excluded"),
)
PAPER_METRICS = tuple(m for m in PER_IMAGE if m.in_paper)

SSIM_SIGMA = 1.5
SSIM_TAPS = 11
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_BORDERS = ("crop", "include")  # the pixels SSIM is averaged over: windows inside the image, or all
LPIPS_BOX_MIN = 64


def l1_error_percent(result, target) -> float:
    """Mean absolute error over all pixels and channels, in percent of the range [0, 1].

    Parameters
    ----------
    result, target : array_like
        Images (H, W, 3) float in [0, 1]; the result composited (known pixels from the input).

    Returns
    -------
    float
        The l1 error of Table 1, in %.

    References
    ----------
    Liu et al., ECCV 2018, Section 4.3 and Table 1.

    Examples
    --------
    >>> import numpy as np
    >>> l1_error_percent(np.full((2, 2, 3), 0.5), np.full((2, 2, 3), 0.25))
    25.0
    """
    return float(np.mean(np.abs(np.asarray(result, np.float64) - np.asarray(target, np.float64))) * 100.0)


def psnr(result, target) -> float:
    """Peak signal-to-noise ratio in dB, data range 1: 10 log10(1 / MSE).

    Parameters
    ----------
    result, target : array_like
        Images (H, W, 3) float in [0, 1].

    Returns
    -------
    float
        PSNR in dB (inf for identical images).

    References
    ----------
    Liu et al., ECCV 2018, Section 4.3 and Table 1.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.full((4, 4, 3), 0.1), np.zeros((4, 4, 3))), 6)  # MSE 0.01
    20.0
    """
    return psnr_of_mse(float(np.mean((np.asarray(result, np.float64) - np.asarray(target, np.float64)) ** 2)))


def psnr_of_mse(mse: float) -> float:
    return float("inf") if mse == 0 else float(10.0 * np.log10(1.0 / mse))


def ssim(result, target, border: str = "crop") -> float:
    """Mean SSIM over channels (see the module docstring for the exact settings).

    Computed in float32 with OpenCV's separable Gaussian filter (within 1e-5 of float64).

    Parameters
    ----------
    result, target : array_like
        Images (H, W, 3) or (H, W) float in [0, 1].
    border : {'crop', 'include'}
        'crop' (the paper's table, scikit-image): the mean over the pixels whose window lies inside
        the image; 'include' (LaMa, torchmetrics): over every pixel, the windows zero-padded.

    Returns
    -------
    float
        The mean SSIM of Table 1 (Liu et al., ECCV 2018, Section 4.3).

    References
    ----------
    Wang et al., Image quality assessment: from error visibility to structural similarity, IEEE TIP 2004.

    Examples
    --------
    >>> import numpy as np
    >>> from skimage.metrics import structural_similarity
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.random((32, 32, 3)), rng.random((32, 32, 3))
    >>> reference = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    ...                                   data_range=1, channel_axis=2)
    >>> bool(abs(ssim(a, b) - reference) < 1e-5)
    True
    """
    if border not in SSIM_BORDERS:
        raise UserError(f"--ssim-border {border!r}: {' or '.join(SSIM_BORDERS)}")
    cropped, full = _ssim_means(_float32(result), _float32(target))
    return cropped if border == "crop" else full


def _ssim_means(x, y) -> tuple[float, float]:
    """(mean SSIM over the pixels whose window lies inside the image, mean over every pixel with the
    windows zero-padded): one map serves both, since the cropped pixels' windows never reach the padding."""
    blur = lambda a: cv2.GaussianBlur(a, (SSIM_TAPS, SSIM_TAPS), SSIM_SIGMA, borderType=cv2.BORDER_CONSTANT)
    mu_x, mu_y = blur(x), blur(y)
    squares = blur(cv2.add(cv2.multiply(x, x), cv2.multiply(y, y)))
    products = blur(cv2.multiply(x, y))
    # In place, one temporary at a time: the arithmetic, not the blurs, dominated this function.
    mu_xy = mu_x * mu_y
    mu_sq = np.square(mu_x, out=mu_x)
    mu_sq += np.square(mu_y, out=mu_y)
    products -= mu_xy  # covariance
    products *= 2
    products += SSIM_K2**2
    squares -= mu_sq  # var_x + var_y: only the sum is needed
    squares += SSIM_K2**2
    mu_xy *= 2
    mu_xy += SSIM_K1**2
    mu_sq += SSIM_K1**2
    mu_xy *= products
    mu_sq *= squares
    mu_xy /= mu_sq
    channels = mu_xy.shape[2] if mu_xy.ndim == 3 else 1
    inside = mu_xy[SSIM_TAPS // 2 : -(SSIM_TAPS // 2), SSIM_TAPS // 2 : -(SSIM_TAPS // 2)]
    mean = lambda a: float(np.mean(cv2.mean(np.ascontiguousarray(a))[:channels]))
    return mean(inside), mean(mu_xy)


def _float32(image) -> np.ndarray:
    return np.ascontiguousarray(image, np.float32)


def image_metrics(result, target, valid_mask=None) -> dict:
    """l1 (%), PSNR and SSIM (both borders) of one output against its ground truth, and, given the
    mask (1 = valid), the l1 and PSNR over the hole pixels only: the keys of `PER_IMAGE` but LPIPS's.

    Parameters
    ----------
    result, target : array_like
        The composited output and the ground truth, (H, W, 3) float in [0, 1].
    valid_mask : array_like, optional
        (H, W), 1 = valid, 0 = hole; gives the hole measures.

    Returns
    -------
    dict
        {'l1', 'psnr', 'ssim', 'ssim_full'} and, with the mask, 'l1_hole' and 'psnr_hole'.

    References
    ----------
    Liu et al., ECCV 2018, Section 4.3 and Table 1.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((16, 16, 3))
    >>> {k: round(v, 3) for k, v in image_metrics(truth + 0.1, truth).items()}
    {'l1': 10.0, 'psnr': 20.0, 'ssim': 0.01, 'ssim_full': 0.008}
    """
    x, y = _float32(result), _float32(target)
    # OpenCV's norms accumulate in double precision, in one pass and without temporaries
    l1 = cv2.norm(x, y, cv2.NORM_L1) / x.size * 100.0
    mse = cv2.norm(x, y, cv2.NORM_L2SQR) / x.size
    cropped, full = _ssim_means(x, y)
    metrics = {L1.name: l1, PSNR.name: psnr_of_mse(mse), SSIM.name: cropped, SSIM_FULL.name: full}
    if valid_mask is not None:
        holes = (np.asarray(valid_mask) == 0).astype(np.uint8)
        count = int(cv2.countNonZero(holes)) * (x.shape[2] if x.ndim == 3 else 1)
        metrics[L1_HOLE.name] = cv2.norm(x, y, cv2.NORM_L1, mask=holes) / count * 100.0 if count else 0.0
        hole_mse = cv2.norm(x, y, cv2.NORM_L2SQR, mask=holes) / count if count else 0.0
        metrics[PSNR_HOLE.name] = psnr_of_mse(hole_mse)
    return metrics


def hole_box(valid_mask, minimum: int = LPIPS_BOX_MIN) -> tuple[slice, slice] | None:
    """The rows and columns of the holes' bounding box, grown about its centre to `minimum` px a side
    (or the image's side) and shifted inside the image; None without a hole."""
    rows, cols = np.nonzero(np.asarray(valid_mask) == 0)
    if rows.size == 0:
        return None

    def span(low, high, size):
        length = min(max(high - low + 1, minimum), size)
        start = min(max((low + high + 1 - length) // 2, 0), size - length)
        return slice(start, start + length)

    height, width = np.shape(valid_mask)
    return span(rows.min(), rows.max(), height), span(cols.min(), cols.max(), width)


def inception_score(probabilities, splits: int = 10) -> tuple[float, float]:
    """(mean, std) of exp(E KL(p(y|x) || p(y))) over `splits` equal parts. probabilities: (N, classes)."""
    p = np.asarray(probabilities, np.float64)
    if len(p) < splits:
        raise UserError(f"the Inception score needs at least {splits} images, got {len(p)}")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(axis=0, keepdims=True)
        kl = np.sum(part * (np.log(np.clip(part, 1e-12, None)) - np.log(np.clip(marginal, 1e-12, None))), axis=1)
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


class InceptionClassifier:
    """torchvision Inception-v3 with ImageNet weights from a state-dict file (inception_v3_google-*.pth)."""

    def __init__(self, weights_path, device="cpu"):
        from torchvision.models import inception_v3

        state = load_torch_file(weights_path, "Inception-v3 weights")
        network = inception_v3(weights=None, aux_logits=True, init_weights=False)
        try:
            network.load_state_dict(state)
        except Exception as err:
            raise UserError(
                f"{weights_path} does not hold torchvision's inception_v3 weights: {str(err).splitlines()[0][:200]}"
            ) from None
        self.network = network.eval().to(device)
        self.device = device

    def probabilities(self, images) -> np.ndarray:
        """images: (N, H, W, 3) in [0, 1] -> softmax over the 1000 classes, (N, 1000)."""
        import torch

        x = torch.from_numpy(np.asarray(images, np.float32)).permute(0, 3, 1, 2).to(self.device)
        x = torch.nn.functional.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        mean = torch.tensor([0.485, 0.456, 0.406], device=self.device).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], device=self.device).view(1, 3, 1, 1)
        with torch.no_grad():
            return torch.softmax(self.network((x - mean) / std), dim=1).cpu().numpy()
