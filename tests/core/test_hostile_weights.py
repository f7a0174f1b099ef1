"""Weights files are read once, into tensors: a file swapped for a code-running pickle while it is
being checked and used never runs its code, and what is hashed is what is loaded."""

import os
import threading

import pytest
import torch

from pconvkit.errors import UserError
from pconvkit.files import content_hash, load_torch_file, read_torch_file


class _Marker:
    """Unpickling this creates the marker file: the proof that a file's code ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_file(path, marker):
    torch.save({"weight": _Marker(marker)}, path)


class _Swapper(threading.Thread):
    """Replaces `path` again and again, atomically, by a good file and an evil one in turn."""

    def __init__(self, path, good: bytes, evil: bytes):
        super().__init__(daemon=True)
        self.path, self.contents, self.stop = path, (good, evil), threading.Event()

    def run(self):
        turn = 0
        while not self.stop.is_set():
            spare = self.path.with_name(f".swap{turn % 2}")
            spare.write_bytes(self.contents[turn % 2])
            os.replace(spare, self.path)
            turn += 1


@pytest.fixture
def swapped(tmp_path):
    """(a weights path swapped without pause between good weights and a code-running pickle, the
    marker file that must never appear, the good file's bytes)."""
    marker, good, evil = tmp_path / "code-ran", tmp_path / "good.pt", tmp_path / "evil.pt"
    torch.save({"weight": torch.arange(6.0)}, good)
    _evil_file(evil, marker)
    path = tmp_path / "weights.pt"
    path.write_bytes(good.read_bytes())
    swapper = _Swapper(path, good.read_bytes(), evil.read_bytes())
    swapper.start()
    yield path, marker, good.read_bytes()
    swapper.stop.set()
    swapper.join()


def test_an_evil_weights_file_is_refused_without_running_its_code(tmp_path):
    marker = tmp_path / "code-ran"
    _evil_file(tmp_path / "evil.pt", marker)
    with pytest.raises(UserError, match="cannot read checkpoint"):
        load_torch_file(tmp_path / "evil.pt", "checkpoint")
    assert not marker.exists()


def test_a_file_swapped_while_read_gives_the_good_tensors_or_an_error_never_code(swapped):
    path, marker, good = swapped
    loaded = refused = 0
    for _ in range(2000):  # until both contents have been read several times
        if loaded >= 20 and refused >= 20:
            break
        try:
            state, digest = read_torch_file(path, "weights")
        except UserError:
            refused += 1
            continue
        # what is hashed is what was loaded: the good file's bytes, both
        assert torch.equal(state["weight"], torch.arange(6.0)) and digest == content_hash(good)
        loaded += 1
    assert not marker.exists()
    assert loaded and refused  # the swap really raced the reads


def test_the_fid_network_never_gets_the_users_path(swapped, monkeypatch):
    """torch-fidelity unpickles its weights without weights_only: it must be handed tensors."""
    pytest.importorskip("torch_fidelity")
    import torch_fidelity.feature_extractor_inceptionv3 as fidelity

    from pconvkit.benchmark.perceptual import InceptionFeatures

    path, marker, _ = swapped
    given = []

    def record_only(self, name, features_list, feature_extractor_weights_path=None, **_):
        given.append(feature_extractor_weights_path)
        torch.load(feature_extractor_weights_path, weights_only=False)  # what torch-fidelity does with it
        raise RuntimeError("stop before building the network")  # its layers are not needed here

    monkeypatch.setattr(fidelity.FeatureExtractorInceptionV3, "__init__", record_only)
    for _ in range(1000):  # until the good file has been read a few times (a busy machine may take long)
        with pytest.raises(UserError):
            InceptionFeatures(path)
        if len(given) >= 5:
            break
    assert not marker.exists()
    assert given and not any(isinstance(g, (str, os.PathLike)) for g in given)
