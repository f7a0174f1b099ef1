"""Confidence intervals for Table 1's cells and for paired differences between methods.

Pairs that share a photo are not independent (in the demo each photo carries about 25 masks), so
the intervals come from a cluster bootstrap: the photos of a cell are resampled with replacement,
each bringing all its pairs, and the cell's mean is recomputed; the 95 % interval is the 2.5th and
97.5th percentile of 2,000 such means (percentile bootstrap; Davison & Hinkley 1997, Section 3.8).
A difference between two methods is paired: it is taken pair by pair, over the pairs both ran.
The generator is seeded, so a table is the same every time it is made.

"Best in column" is marked where the best method is better than the runner-up with a paired
interval that excludes 0 at the 95 % level, Bonferroni-corrected for the 12 columns of a metric
(each test at 1 - 0.05 / 12); otherwise the best and every method whose paired difference to it
is not significant at that level are marked together, as tied.
"""

import numpy as np

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0
COLUMNS_PER_METRIC = 12  # the comparisons the marking of a metric's best cells corrects for


def cluster_bootstrap(values, clusters, level: float = LEVEL, resamples: int = RESAMPLES) -> tuple[float, float, float]:
    """(mean, low, high): the mean of `values` and its `level` interval, resampling whole clusters.

    Parameters
    ----------
    values : array_like
        One number per pair.
    clusters : array_like
        The cluster (photo) of each pair.

    Returns
    -------
    tuple of float
        The mean over all pairs, and the interval's ends (NaN with fewer than two clusters: the spread
        between photos cannot be estimated from one).

    Examples
    --------
    >>> mean, low, high = cluster_bootstrap([1.0, 1.2, 2.0, 2.2, 3.0, 3.2], ["a", "a", "b", "b", "c", "c"])
    >>> round(mean, 2), low < mean < high
    (2.1, True)
    """
    values = np.asarray(values, np.float64)
    _, index = np.unique(np.asarray(clusters), return_inverse=True)
    mean = float(values.mean()) if values.size else float("nan")
    count = index.max() + 1 if values.size else 0
    if count < 2:
        return mean, float("nan"), float("nan")
    sums = np.bincount(index, weights=values, minlength=count)
    sizes = np.bincount(index, minlength=count).astype(np.float64)
    draws = np.random.default_rng(SEED).integers(0, count, size=(resamples, count))
    means = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return mean, float(low), float(high)


def corrected_level(level: float = LEVEL, comparisons: int = COLUMNS_PER_METRIC) -> float:
    """Bonferroni: each of `comparisons` tests at 1 - (1 - level) / comparisons."""
    return 1 - (1 - level) / comparisons
