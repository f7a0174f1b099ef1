"""The cluster bootstrap (`benchmark.confidence`) against a slow, obvious implementation and a case
computed by hand; the Bonferroni level of the best-in-column marks."""

import numpy as np
import pytest

from pconvkit.benchmark.confidence import COLUMNS_PER_METRIC, cluster_bootstrap, corrected_level


def slow_bootstrap(values, clusters, level=0.95, resamples=2000):
    """Resample photos with replacement, gather all their pairs, take the mean; percentiles of the means.
    The protocol's numbers are the documented ones (2,000 resamples, seed 0), not the module's constants."""
    names = sorted(set(clusters))
    by_photo = {name: [v for v, c in zip(values, clusters) if c == name] for name in names}
    rng = np.random.default_rng(0)
    means = []
    for _ in range(resamples):
        drawn = [names[i] for i in rng.integers(0, len(names), size=len(names))]
        pairs = [v for name in drawn for v in by_photo[name]]
        means.append(sum(pairs) / len(pairs))
    tail = (1 - level) / 2
    return float(np.mean(values)), *map(float, np.quantile(means, [tail, 1 - tail]))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_bootstrap_equals_the_obvious_implementation_on_random_data(seed):
    rng = np.random.default_rng(seed)
    photos = [f"p{i}" for i in rng.integers(0, 7, size=40)]  # unequal numbers of pairs per photo
    values = list(rng.normal(size=40) + np.array([int(p[1:]) for p in photos]))
    assert cluster_bootstrap(values, photos) == pytest.approx(slow_bootstrap(values, photos), abs=1e-12)


def test_a_hand_computed_case():
    # Two photos with means 1 and 3 and one pair each: a resample holds each photo 0, 1 or 2 times,
    # so its mean is 1 (a quarter of the draws), 2 (a half) or 3 (a quarter); the 95 % interval is [1, 3].
    assert cluster_bootstrap([1.0, 3.0], ["a", "b"]) == (2.0, 1.0, 3.0)
    # The interval of a photo's pairs repeated is the photo's, not narrower (pairs are not independent).
    assert cluster_bootstrap([1.0, 1.0, 3.0, 3.0], ["a", "a", "b", "b"]) == (2.0, 1.0, 3.0)


def test_the_marks_are_corrected_for_the_twelve_columns_of_a_metric():
    assert COLUMNS_PER_METRIC == 12
    assert corrected_level() == pytest.approx(1 - 0.05 / 12)
    assert corrected_level(0.9, 2) == pytest.approx(0.95)
