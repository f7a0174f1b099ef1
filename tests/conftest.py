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
    temporary models stay out of the user's cache. The folder goes when the test ends: ONNX graphs
    of full-size networks would otherwise add up to gigabytes over the suite."""
    if "sample_data" in request.fixturenames:
        yield
        return
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("PCONVKIT_CACHE", str(folder))
    yield
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def nothing_half_written(request):
    """After every test with a tmp_path: no temporary file of an interrupted or refused write is left."""
    folder = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if folder is not None:
        leftovers = list(folder.rglob(".*.part*"))
        assert not leftovers, leftovers


@pytest.fixture(scope="module")
def mask_folder(tmp_path_factory):
    """A plain folder of 64x64 masks, white = valid, one per bin and category where possible."""
    import numpy as np

    from pconvkit.files import write_png_atomic
    from pconvkit.images import mask_to_png

    folder = tmp_path_factory.mktemp("masks")
    for i, side in enumerate([10, 20, 28, 34]):
        valid = np.ones((64, 64), np.uint8)
        valid[2 : 2 + side, 30 - side // 2 : 30 + side - side // 2] = 0  # touches the 16-px frame: B
        write_png_atomic(folder / f"{i}.png", mask_to_png(valid))
    return folder


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    """Three 80x100 noise photos."""
    import numpy as np

    from pconvkit.files import write_png_atomic

    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_png_atomic(folder / f"p{i}.png", (rng.random((80, 100, 3)) * 255).astype(np.uint8))
    return folder
