import shutil

import pytest


@pytest.fixture(scope="session")
def sample_data():
    """The opencv-doc sample data in the user's cache (fetched once; skipped where apt is missing)."""
    from pconvkit import sampledata

    if not sampledata.is_fetched() and shutil.which("apt-get") is None:
        pytest.skip("apt-get is not available to fetch Debian's opencv-doc sample data")
    sampledata.fetch(log=lambda *_: None)
    return sampledata


@pytest.fixture(autouse=True)
def own_cache_folder(request, tmp_path_factory, monkeypatch):
    """Tests that do not use the sample data get a cache folder of their own (outside their
    tmp_path, which some tests list), so that the ONNX graphs and checkpoint memos of their
    temporary models stay out of the user's cache."""
    if "sample_data" not in request.fixturenames:
        monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path_factory.mktemp("cache")))
