"""The configurations of the network, its loss and its training, with the paper's values as
defaults: the one place where they are stated (the command line reads its defaults here). No torch
is imported, so that reading them costs nothing.
"""

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class UNetConfig:
    layers: int = 8  # encoder depth; the decoder mirrors it (Table 2: 8 + 8)
    width: float = 1.0  # multiplier on every channel count except the 3 image channels
    partial: bool = True  # False: the paper's "Conv" baseline, plain convolutions
    hole_value: str = "imagenet_mean"  # Conv baseline's hole placeholder: 'imagenet_mean' or '127.5'
    # Passes of a fixed 3x3 box partial convolution (Eq. 1 with W = 1, and the mask update) over the
    # image skip of the last layer, filling holes up to 2 x this px wide with the mean of their valid
    # neighbours (the Conv baseline: the placeholder stays in the rest). 0 is Table 2's network. Holes
    # that thin vanish from every deeper layer's mask, so only the last layer knows of them, and its
    # renormalisation over 3 image and many feature channels cannot make up the missing image taps:
    # a blotch (docs/results.md, "Small holes").
    skip_fill: int = 0
    # Passes of the same box fill over the network's input, before the first layer: holes up to
    # 2 x this px wide then vanish from every layer's mask, and the network sees them as it sees
    # a photo without holes (its reconstruction of known pixels is within 1-2/255 on a plain sky,
    # where its fill of holes no deeper layer knew of was 4-7/255 off). 0 is Table 2's network.
    input_fill: int = 0

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class LossWeights:
    valid: float = 1.0
    hole: float = 6.0
    perceptual: float = 0.05
    style: float = 120.0  # applied to L_style_out + L_style_comp
    tv: float = 0.1

    def as_dict(self):
        return asdict(self)


@dataclass
class TrainConfig:
    images: str
    masks: str  # a maskgen output folder (raw/train/pool.csv) or a folder of mask PNGs
    out: str
    size: int = 512
    batch_size: int = 6
    steps: int = 100_000  # total step count to reach (across phases)
    finetune: bool = False
    lr: float | None = None  # default: 2e-4 in phase 1, 5e-5 when fine-tuning
    seed: int = 0
    device: str = "auto"
    amp: bool = True  # mixed precision, on CUDA only
    vgg_weights: str | None = None
    checkpoint_every: int = 500
    sample_every: int = 500
    hole_white: bool = False  # polarity of a plain mask folder
    mostly_hole: bool = False  # a plain mask folder whose masks really are mostly hole (see check_polarity)
    # Crops come from the image resized so its short side is a random length in
    # [size, scale_jitter * size]; 1.0 (the paper's) takes crops at the native resolution and only
    # scales up images smaller than the crop. >1 teaches the network upscaled, smoother content too.
    scale_jitter: float = 1.0
    # Random hue rotation (up to +-180 x this degrees) and saturation scaling (1 +- this) per crop;
    # 0 (the paper's) is off. With few training photos it stops the network from learning their
    # colours as a prior instead of copying colours from around the hole.
    color_jitter: float = 0.0
    # The training masks' dilation kernels (maskgen.augment): 1-47 px, the undilated raw masks
    # included, so that holes of one pixel upward occur. The test masks' 5-47 (the bundled models'
    # first runs) leaves few holes under 5 px, and those are filled with a blotch (docs/results.md).
    kernel_range: tuple[int, int] = (1, 47)
    workers: int = 0  # processes preparing batches ahead (batches stay a function of the step)
    # 'device': batches made on the training device (models/device_data.py); 'workers': on the CPU,
    # in `workers` processes; 'auto': on the device where it is a GPU
    data_pipeline: str = "auto"
    max_seconds: float | None = None  # stop after this much wall time, with a checkpoint
    # 'inpaint' (masks from the pool) or 'sr': super-resolution by `factor` (Section 5.2), the mask
    # being the fixed lattice of the low-resolution pixels
    task: str = "inpaint"
    factor: int = 4
    unet: dict = field(default_factory=lambda: UNetConfig().as_dict())
    loss_weights: dict = field(default_factory=lambda: LossWeights().as_dict())
