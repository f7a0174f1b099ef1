"""Partial convolutions (Section 3.1), the Table-2 U-Net, its loss (Section 3.3) and training (4.2)."""

from pathlib import Path

# The bundled models (models/weights/MODEL_CARD.md); named here so that finding them imports no torch.
BUNDLED_WEIGHTS = Path(__file__).parent / "weights" / "pconv.pt"
BUNDLED_CONV_WEIGHTS = BUNDLED_WEIGHTS.with_name("conv.pt")
BUNDLED_SR_WEIGHTS = BUNDLED_WEIGHTS.with_name("sr4.pt")  # super-resolution x4 (Section 5.2)
