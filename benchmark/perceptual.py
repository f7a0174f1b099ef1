"""FID, KID and LPIPS, from weight files the user names (none can be downloaded here).

- FID and KID (the optional extra `pconvkit[perceptual]`): torch-fidelity's TF-Inception port
  (`FeatureExtractorInceptionV3`, pool3, 2048 features, with its TensorFlow-exact resize to 299 px),
  so that the numbers are comparable with published ones, which come from the TensorFlow original or
  from its faithful ports. It reads torch-fidelity's `weights-inception-2015-12-05-6726825d.pth` and
  pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`: two files of one network, with the same keys.
  FID is torch-fidelity's `fid_statistics_to_metric` over the features of a set of outputs and of
  their ground truths; KID is its unbiased `kid_features_to_metric` (100 subsets of min(1000, N)).
  FID over few images is dominated by its bias: below `FID_MIN_IMAGES` (the feature dimension; below
  it the covariance matrices are singular) it is reported with a warning, to compare only at equal
  image counts; KID, unbiased, needs no such warning. Both from 2 images up.
- LPIPS (Zhang et al. 2018) with the `lpips` package's linear heads (version 0.1, shipped in the
  package) on an AlexNet or VGG16 ImageNet backbone from the user's torchvision state-dict file
  (`alexnet-owt-7be5be79.pth`, `vgg16-397923af.pth`, full or `features.*` only), per image, on
  inputs scaled to [-1, 1] as the package expects.
"""

import io

import numpy as np

from pconvkit.errors import UserError, require_extra
from pconvkit.files import content_hash, load_torch_file
from pconvkit.images import to_uint8

FID_MIN_IMAGES = 2048
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
KID_SEED = 2020  # torch-fidelity's default


class InceptionFeatures:
    """Pool3 features (N, 2048) of the TF-Inception port, from a weights file of either port."""

    def __init__(self, weights_path, device: str = "cpu"):
        require_extra("FID and KID", "perceptual", "torch_fidelity")
        import torch
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

        state = load_torch_file(weights_path, "FID Inception weights")
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise UserError(f"{weights_path} is not a state dict of tensors (the FID Inception network's weights)")
        # torch-fidelity unpickles what it is given without weights_only: it gets the checked tensors,
        # saved again by this process into memory, never the user's path
        saved = io.BytesIO()
        torch.save(state, saved)
        saved.seek(0)
        try:
            self.network = FeatureExtractorInceptionV3(
                "inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=saved
            )
        except Exception as err:
            raise UserError(
                f"{weights_path} does not hold the FID Inception network's weights: {str(err).splitlines()[0][:200]}"
            ) from None
        self.network = self.network.eval().to(device)
        self.device = device

    def features(self, images) -> np.ndarray:
        """images (N, H, W, 3) float in [0, 1] -> (N, 2048) float32 pool3 features (FID, KID)."""
        return self._outputs(images)[0]

    def logits(self, images) -> np.ndarray:
        """images (N, H, W, 3) float in [0, 1] -> (N, 1008) float32 unbiased logits (the published
        Inception score's, torch-fidelity's 'logits_unbiased')."""
        return self._outputs(images)[1]

    def _outputs(self, images):
        """Both outputs of one forward pass, read as 8-bit as image files are; the last batch's are
        kept, so that asking for features and then logits of the same images runs the network once."""
        import torch

        pixels = to_uint8(np.asarray(images))
        key = content_hash(pixels, pixels.shape)
        if getattr(self, "_last", (None,))[0] != key:
            batch = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous().to(self.device)
            with torch.no_grad():
                features, logits = self.network(batch)
            self._last = key, (features.float().cpu().numpy(), logits.float().cpu().numpy())
        return self._last[1]


def inception_score_tf(logits, splits: int = 10) -> float:
    """The Inception score as published (torch-fidelity's own `isc_features_to_metric`: the logits
    shuffled with its seed, 10 splits), from the TF-Inception port's unbiased logits."""
    import torch
    from torch_fidelity.metric_isc import KEY_METRIC_ISC_MEAN, isc_features_to_metric

    return float(isc_features_to_metric(torch.from_numpy(np.asarray(logits, np.float64)), splits)[KEY_METRIC_ISC_MEAN])


def fid(features_a, features_b) -> float:
    """Frechet distance between two sets of Inception features (torch-fidelity's own function)."""
    import torch
    from torch_fidelity.metric_fid import KEY_METRIC_FID, fid_features_to_statistics, fid_statistics_to_metric

    stats = [fid_features_to_statistics(torch.from_numpy(np.asarray(f, np.float64))) for f in (features_a, features_b)]
    return float(fid_statistics_to_metric(*stats, verbose=False)[KEY_METRIC_FID])


def kid(features_a, features_b) -> float:
    """Kernel Inception distance (unbiased MMD, polynomial kernel; torch-fidelity's own function)."""
    import torch
    from torch_fidelity.metric_kid import KEY_METRIC_KID_MEAN, kid_features_to_metric

    size = min(KID_SUBSET_SIZE, len(features_a), len(features_b))
    result = kid_features_to_metric(
        torch.from_numpy(np.asarray(features_a)),
        torch.from_numpy(np.asarray(features_b)),
        kid_subsets=KID_SUBSETS,
        kid_subset_size=size,
        rng_seed=KID_SEED,
        verbose=False,
    )
    return float(result[KEY_METRIC_KID_MEAN])


class Lpips:
    """LPIPS distance of image pairs, the package's linear heads on the user's backbone file."""

    def __init__(self, backbone_path, device: str = "cpu"):
        require_extra("LPIPS", "perceptual", "lpips")
        import lpips

        state = load_torch_file(backbone_path, "LPIPS backbone weights")
        if not isinstance(state, dict) or "features.0.weight" not in state:
            raise UserError(f"{backbone_path} is not a torchvision AlexNet or VGG16 state dict (no features.0.weight)")
        kernel = tuple(state["features.0.weight"].shape[-2:])
        net = {(11, 11): "alex", (3, 3): "vgg"}.get(kernel)
        if net is None:
            raise UserError(f"{backbone_path}: a first convolution of {kernel} is neither AlexNet's nor VGG16's")
        self.network = lpips.LPIPS(net=net, pnet_rand=True, verbose=False)  # heads from the package; no download
        slices = {name.split(".")[1]: name for name in self.network.net.state_dict()}  # layer index -> slice key
        backbone = {}
        for key, value in state.items():
            prefix, _, rest = key.partition(".")
            index = rest.split(".")[0]
            if prefix == "features" and index in slices:
                backbone[slices[index].rsplit(".", 1)[0] + "." + rest.split(".", 1)[1]] = value
        try:
            self.network.net.load_state_dict(backbone)
        except RuntimeError as err:
            raise UserError(
                f"{backbone_path} does not fit LPIPS's {net} backbone: {str(err).splitlines()[0][:200]}"
            ) from None
        self.network = self.network.eval().to(device)
        self.device, self.backbone = device, net

    def distance(self, a, b) -> np.ndarray:
        """LPIPS of each pair: a, b (N, H, W, 3) float in [0, 1] -> (N,)."""
        import torch

        def tensor(images):
            return torch.from_numpy(np.asarray(images, np.float32)).permute(0, 3, 1, 2).to(self.device) * 2 - 1

        with torch.no_grad():
            return self.network(tensor(a), tensor(b)).flatten().cpu().numpy()
