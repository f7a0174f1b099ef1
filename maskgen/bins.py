"""Hole-to-image area ratio bins and border categories of the test benchmark (Section 4.1).

Six bins (0.01, 0.1], (0.1, 0.2], ..., (0.5, 0.6] times two categories: N (no hole pixel within
`margin` px of the image border) and B (at least one is). Masks are 1 = valid, 0 = hole.
"""

import numpy as np

from pconvkit.errors import UserError

BIN_EDGES = (0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
BINS = tuple(zip(BIN_EDGES[:-1], BIN_EDGES[1:]))
CATEGORIES = ("N", "B")
BORDER_MARGIN = 50
MASK_SIZE = 512  # the masks' side: the paper's images and masks are 512 x 512


def bin_label(index: int) -> str:
    low, high = BINS[index]
    return f"{low:g}-{high:g}"


BIN_LABELS = tuple(bin_label(i) for i in range(len(BINS)))
# The 12 cells (category, bin label) in NVIDIA's order: bin by bin, N before B. The one list of them.
CELLS = tuple((category, label) for label in BIN_LABELS for category in CATEGORIES)


def hole_ratio(valid_mask: np.ndarray) -> float:
    """Share of hole pixels, in [0, 1]."""
    return float(np.count_nonzero(np.asarray(valid_mask) == 0)) / valid_mask.size


def within(ratios, low: float, high: float):
    """low < ratio <= high, for a ratio or elementwise for an array: the bins' rule (a ratio on an
    edge belongs to the lower bin)."""
    ratios = np.asarray(ratios)
    return (ratios > low) & (ratios <= high)


def bin_index(ratio: float) -> int | None:
    """Index of the bin with low < ratio <= high, or None outside (0.01, 0.6]."""
    for index, (low, high) in enumerate(BINS):
        if within(ratio, low, high):
            return index
    return None


def border_distance(valid_mask: np.ndarray) -> int | None:
    """Smallest distance in pixels from a hole pixel to the image border (0 = on the border row).

    None when there is no hole.
    """
    rows, cols = np.nonzero(np.asarray(valid_mask) == 0)
    if rows.size == 0:
        return None
    height, width = valid_mask.shape
    return int(min(rows.min(), cols.min(), height - 1 - rows.max(), width - 1 - cols.max()))


def border_category(valid_mask: np.ndarray, margin: int = BORDER_MARGIN) -> str:
    """'N' when no hole pixel lies within `margin` px of the border, else 'B'."""
    distance = border_distance(valid_mask)
    return "N" if distance is None or distance >= margin else "B"


def border_frame(shape, margin: int = BORDER_MARGIN) -> np.ndarray:
    """bool (H, W), True on the `margin`-px frame along the image border."""
    frame = np.ones(shape, bool)
    frame[margin : shape[0] - margin, margin : shape[1] - margin] = False
    return frame


def classify(valid_mask: np.ndarray, margin: int = BORDER_MARGIN) -> tuple[str, int | None, float]:
    """(category, bin index or None, hole ratio) of one mask."""
    ratio = hole_ratio(valid_mask)
    return border_category(valid_mask, margin), bin_index(ratio), ratio


def check_polarity(source, hole_ratios, hole_white: bool):
    """Stop where masks look inverted or unusable: most of a set outside every bin, or a single mask
    more than 0.6 hole. An inverted mask of bin (0.4, 0.5] lands in (0.5, 0.6], so a ratio
    alone cannot tell; a set where most masks miss every bin can."""
    ratios = np.asarray(hole_ratios, float)
    outside = np.array([bin_index(r) is None for r in ratios])
    if ratios.size == 0 or outside.mean() <= 0.5 or (ratios.size == 1 and ratios[0] <= BIN_EDGES[-1]):
        return  # most masks in a bin; a single mask may have a small hole, not one of over 0.6
    inverted_fit = np.mean([bin_index(1 - r) is not None for r in ratios])
    flag = "without --hole-white" if hole_white else "with --hole-white"
    what = f"{source}: {int(outside.sum())} of {ratios.size} masks" if ratios.size > 1 else f"mask {source}"
    hint = (
        f"they look inverted: read {flag} ({inverted_fit:.0%} of them would then fall in a bin)"
        if inverted_fit > 0.5
        else "check the polarity (--hole-white)"
    )
    raise UserError(
        f"{what} fall outside every hole-ratio bin (0.01, 0.6] (mean hole ratio {ratios.mean():.2f}); "
        f"{hint}, or give --mostly-hole if they really are so"
    )


def check_size_holds_every_bin(size: int, margin: int = BORDER_MARGIN):
    """Refuse, before any mask is drawn, a size whose N masks cannot reach the largest bin: an N
    mask keeps a `margin`-px frame valid, so its hole is at most the interior's share of the image,
    which must exceed the last bin's lower edge."""
    interior = max(size - 2 * margin, 0) ** 2 / size**2
    if interior <= BIN_EDGES[-2]:
        smallest = int(2 * margin / (1 - BIN_EDGES[-2] ** 0.5)) + 1
        raise UserError(
            f"--size {size} with a {margin}-px border frame leaves N masks at most {interior:.0%} hole, "
            f"short of the bin {bin_label(len(BINS) - 1)}: give --size {smallest} or more, or a smaller --border-margin"
        )
