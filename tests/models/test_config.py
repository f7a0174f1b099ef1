"""The configurations hold the paper's numbers as defaults (Table 2, Eq. 7, Section 4.2), and reading
them imports no torch."""

import subprocess
import sys

from pconvkit.models.config import LossWeights, TrainConfig, UNetConfig
from pconvkit.models.train import PHASE_LR


def test_the_network_is_the_papers_16_layer_partial_unet():
    unet = UNetConfig()
    assert (unet.layers, unet.width, unet.partial) == (8, 1.0, True)  # 8 encoder + 8 decoder layers


def test_the_loss_weights_are_eq_7s():
    assert LossWeights().as_dict() == dict(valid=1.0, hole=6.0, perceptual=0.05, style=120.0, tv=0.1)


def test_training_defaults_are_section_4_2s():
    config = TrainConfig(images="i", masks="m", out="o")
    assert (config.size, config.batch_size, config.lr) == (512, 6, None)
    assert PHASE_LR == {1: 2e-4, 2: 5e-5}  # lr None: phase 1 at 2e-4, fine-tuning at 5e-5
    assert (config.scale_jitter, config.color_jitter) == (1.0, 0.0)  # off, as in the paper
    assert config.unet == UNetConfig().as_dict() and config.loss_weights == LossWeights().as_dict()


def test_reading_the_configurations_imports_no_torch():
    code = "import sys; import pconvkit.models.config; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
