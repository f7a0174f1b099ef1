import shutil

import numpy as np
import pytest


@pytest.fixture(scope="session")
def sample_data():
    """The opencv-doc sample data in the user's cache (fetched once; skipped where apt is missing)."""
    from pconvkit import sampledata
    if not sampledata.is_fetched() and shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available to fetch Debian's opencv-doc sample data")
    sampledata.fetch(log=lambda *_: None)
    return sampledata


def textured(shape, seed=0):
    """A smooth random texture in [0, 1] (flow can track it)."""
    import cv2
    rng = np.random.default_rng(seed)
    noise = rng.random(shape).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0)
