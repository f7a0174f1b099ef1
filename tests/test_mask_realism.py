"""benchmarks/mask_realism.py: the blend of two test videos that would match NVIDIA's figures."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "mask_realism.py"


@pytest.fixture(scope="module")
def realism():
    spec = importlib.util.spec_from_file_location("mask_realism", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def means(first, second):
    return pd.DataFrame([first, second], index=["a", "b"], columns=["components", "boundary_per_sqrt_area"])


def test_matching_shares_of_two_videos_by_hand(realism):
    # a blend p a + (1 - p) b: components 4 + 16 p within 25 % of 10 for p in [0.21875, 0.53125],
    # compactness 10 + 20 p within 25 % of 20 for p in [0.25, 0.75]: both for p in [0.25, 0.53]
    assert realism._matching_shares(means((20, 30), (4, 10)), ["a", "b"], (10.0, 20.0)) == "0.25-0.53"
    # components need p >= 0.3125, compactness (10 + 2 p within 25 % of 20) can never pass
    assert realism._matching_shares(means((20, 12), (4, 10)), ["a", "b"], (12.0, 20.0)) == "none"
    # one video in the cell: no blend to choose
    one = means((20, 30), (4, 10)).iloc[:1]
    assert realism._matching_shares(one, ["a", "b"], (12.0, 20.0)) == "-"
