"""Mask families other than video occlusions, binned into the same 12 cells, so that one benchmark
can compare a method across families (`maskgen build --family NAME`).

- rect: axis-aligned rectangles, as the paper's supplementary comparisons on regular holes.
- strokes-thin, strokes-medium, strokes-thick: free-form brush strokes as LaMa's
  `make_random_irregular_mask` draws them (saicinpainting/training/data/masks.py: a stroke is a
  chain of segments whose direction turns by up to max_angle = 4 rad, of length up to max_len = 60 px
  and width up to max_width = 20 px, at 256 px), which follows DeepFill v2's free-form generator.
  At 512 px the widths are 5-15 px (thin), 15-35 px (medium) and 35-70 px (thick), and segment
  lengths up to 120 px.

Shapes are added one at a time until the hole ratio enters the cell's bin; a shape that overshoots
the bin is undone and another drawn. N masks draw inside the 50-px frame, B masks start their first
shape across the border. Mask i of a cell uses the generator np.random.default_rng([seed, family,
category, bin, i]): the same seed gives the same bytes for any number of workers.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from pconvkit.errors import UserError
from pconvkit.files import check_settings_file
from pconvkit.maskgen.bins import (
    BINS,
    BORDER_MARGIN,
    CATEGORIES,
    MASK_SIZE,
    bin_label,
    check_size_holds_every_bin,
    classify,
)
from pconvkit.maskgen.manifest import write_cell_mask, write_manifest

STROKE_WIDTHS = {"strokes-thin": (5, 15), "strokes-medium": (15, 35), "strokes-thick": (35, 70)}
FAMILIES = ("rect", *STROKE_WIDTHS)
MAX_ANGLE = 4.0  # radians a stroke may turn between segments (LaMa)
MAX_LENGTH = 120  # px per segment at 512 px (LaMa's 60 at 256)
MAX_SHAPES = 400  # per attempt, before starting the mask again


@dataclass(frozen=True)
class FamilySettings:
    family: str = "rect"
    per_bin: int = 1000
    size: int = MASK_SIZE
    margin: int = BORDER_MARGIN
    seed: int = 0
    hole_white: bool = False


def _draw_shape(holes: np.ndarray, family: str, rng, region: tuple[int, int, int, int], first_across_border: bool):
    """Draw one shape into `holes` (uint8, 1 = hole) inside region (top, left, bottom, right)."""
    top, left, bottom, right = region
    if first_across_border:  # B: the first shape starts on the image's edge
        side = rng.integers(4)
        size = holes.shape[0]
        y, x = [
            (0, rng.integers(size)),
            (size - 1, rng.integers(size)),
            (rng.integers(size), 0),
            (rng.integers(size), size - 1),
        ][side]
    else:
        y, x = rng.integers(top, bottom), rng.integers(left, right)
    if family == "rect":
        height, width = rng.integers(8, max(9, (bottom - top) // 3), 2)
        y0, x0 = int(np.clip(y - height // 2, top, bottom - 1)), int(np.clip(x - width // 2, left, right - 1))
        holes[y0 : min(y0 + height, bottom), x0 : min(x0 + width, right)] = 1
        return
    low, high = STROKE_WIDTHS[family]
    angle = rng.uniform(0, 2 * np.pi)
    for _ in range(rng.integers(1, 6)):
        angle += rng.uniform(-MAX_ANGLE, MAX_ANGLE) / 2
        length = rng.integers(10, MAX_LENGTH)
        width = int(rng.integers(low, high + 1))
        y2 = int(np.clip(y + length * np.sin(angle), top, bottom - 1))
        x2 = int(np.clip(x + length * np.cos(angle), left, right - 1))
        cv2.line(holes, (int(x), int(y)), (x2, y2), 1, width)
        y, x = y2, x2


def family_mask(family: str, category: str, bin_index: int, rng, settings: FamilySettings) -> np.ndarray:
    """One mask (uint8, 1 = valid) of `family` in cell (category, bin)."""
    size, margin = settings.size, settings.margin
    low, high = BINS[bin_index]
    region = (margin, margin, size - margin, size - margin) if category == "N" else (0, 0, size, size)
    for _ in range(200):
        holes = np.zeros((size, size), np.uint8)
        for count in range(MAX_SHAPES):
            before = holes.copy()
            _draw_shape(holes, family, rng, region, category == "B" and count == 0)
            if category == "N":
                holes[:margin], holes[-margin:], holes[:, :margin], holes[:, -margin:] = 0, 0, 0, 0
            ratio = holes.mean()
            if ratio > high:
                holes = before  # overshot: undo and draw another
                continue
            if ratio > low:
                valid = (1 - holes).astype(np.uint8)
                if classify(valid, margin)[:2] == (category, bin_index):
                    return valid
                break
    raise UserError(f"cannot draw a {family} mask for {category} {bin_label(bin_index)} at {size} px")


def build_family_set(out_dir, settings: FamilySettings) -> Path:
    """The 12 x per_bin test masks of a family, with their manifest; resumable (masks already written
    with the same settings are kept)."""
    check_size_holds_every_bin(settings.size, settings.margin)
    if settings.family not in FAMILIES:
        raise UserError(f"unknown mask family {settings.family!r}: {', '.join(FAMILIES)}")
    test_dir = Path(out_dir) / "test"
    check_settings_file(test_dir / "settings.json", asdict(settings), "a test set")
    rows = []
    family_index = FAMILIES.index(settings.family)
    with tqdm(total=len(CATEGORIES) * len(BINS) * settings.per_bin, desc=settings.family, unit="mask") as bar:
        for bin_index in range(len(BINS)):
            for category_index, category in enumerate(CATEGORIES):
                for index in range(settings.per_bin):
                    seed = [settings.seed, family_index, category_index, bin_index, index]
                    valid = family_mask(settings.family, category, bin_index, np.random.default_rng(seed), settings)
                    row = write_cell_mask(test_dir, valid, category_index, bin_index, index, settings, seed)
                    rows.append(dict(row, source_video=settings.family))
                    bar.update()
    return write_manifest(test_dir, rows)
