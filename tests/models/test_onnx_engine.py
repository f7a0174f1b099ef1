"""The ONNX Runtime engine (`onnx_export`, `onnx_cache`, `onnx_engine`, one concept): the exported graph
equals the torch network, is cached once per checkpoint and never served for other weights."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner

import pconvkit.models.onnx_cache
from pconvkit.cli import pconv
from pconvkit.models.checkpoint import load_model, save_checkpoint
from pconvkit.models.inference import inpaint
from pconvkit.models.onnx_cache import cached_onnx_graph
from pconvkit.models.onnx_engine import OnnxInpainter
from pconvkit.models.unet import PConvUNet, UNetConfig

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'pconvkit[onnx]')")


@pytest.fixture
def trained_looking_checkpoint(tmp_path):
    return trained_looking(tmp_path)


def trained_looking(tmp_path, skip_fill=0, input_fill=0):
    torch.manual_seed(0)
    model = PConvUNet(UNetConfig(layers=3, width=0.125, skip_fill=skip_fill, input_fill=input_fill))
    for stage in list(model.encoder) + list(model.decoder):  # BatchNorm statistics away from identity
        if stage.batchnorm is not None:
            stage.batchnorm.running_mean.uniform_(-0.5, 0.5)
            stage.batchnorm.running_var.uniform_(0.5, 2.0)
    save_checkpoint(tmp_path / "m.pt", model)
    return tmp_path / "m.pt"


def pair(shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random(shape + (3,)).astype(np.float32), (rng.random(shape) > 0.3).astype(np.uint8)


@pytest.mark.parametrize("shape", [(37, 50), (64, 64), (5, 90)])
def test_onnx_engine_equals_torch_at_any_size(trained_looking_checkpoint, tmp_path, shape):
    image, valid = pair(shape)
    model, _ = load_model(trained_looking_checkpoint)
    expected = inpaint(model, image, valid)
    result = OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")(image, valid)
    assert result.shape == image.shape and np.abs(result - expected).max() < 1e-5
    assert np.array_equal(result[valid == 1], image[valid == 1])


@pytest.mark.parametrize("input_fill", [0, 4])
def test_onnx_engine_equals_torch_with_the_fills(tmp_path, input_fill):
    checkpoint = trained_looking(tmp_path, skip_fill=3, input_fill=input_fill)
    image, valid = pair((64, 64))
    valid[10:12, 20:22] = 0  # a hole the fill closes
    valid[30:50, 30:50] = 0  # and one it does not
    model, _ = load_model(checkpoint)
    assert (model.config.skip_fill, model.config.input_fill) == (3, input_fill)
    result = OnnxInpainter(checkpoint, cache=tmp_path / "cache")(image, valid)
    assert np.abs(result - inpaint(model, image, valid)).max() < 1e-5


@pytest.mark.parametrize("plain", [False, True])
def test_decoder_convolutions_read_no_concatenation_and_still_equal_torch(tmp_path, plain):
    import onnx

    from pconvkit.models.onnx_export import export_onnx

    torch.manual_seed(1)
    model = PConvUNet(UNetConfig(layers=3, width=0.125, partial=not plain, skip_fill=2))
    for stage in model.decoder:  # biases away from zero: the plain network's must be added once
        if stage.conv.bias is not None:
            stage.conv.bias.data.uniform_(-1, 1)
    save_checkpoint(tmp_path / "m.pt", model)
    graph = onnx.load(str(export_onnx(tmp_path / "m.pt", tmp_path / "m.onnx")))
    produced_by = {output: node.op_type for node in graph.graph.node for output in node.output}
    convolutions = [node for node in graph.graph.node if node.op_type == "Conv"]
    assert all(produced_by.get(node.input[0]) != "Concat" for node in convolutions)
    assert len(convolutions) == (6 if plain else 12) + 3  # each of the 3 decoder layers' split in two
    image, valid = pair((48, 40), seed=3)
    result = OnnxInpainter(tmp_path / "m.pt", cache=tmp_path / "cache")(image, valid)
    assert np.abs(result - inpaint(load_model(tmp_path / "m.pt")[0], image, valid)).max() < 1e-5


def test_later_sessions_start_from_the_graph_optimised_for_this_cpu(trained_looking_checkpoint, tmp_path, monkeypatch):
    import onnxruntime

    from pconvkit.models.onnx_cache import optimized_graph_path

    image, valid = pair((40, 56), seed=4)
    first = OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")
    graph = cached_onnx_graph(trained_looking_checkpoint, tmp_path / "cache")
    optimized = optimized_graph_path(graph)
    assert optimized.is_file() and onnxruntime.__version__ in optimized.name
    assert not list((tmp_path / "cache").glob(".*"))  # no temporary file left
    started_from = []
    real_session = onnxruntime.InferenceSession
    monkeypatch.setattr(
        onnxruntime, "InferenceSession", lambda path, *a, **k: started_from.append(path) or real_session(path, *a, **k)
    )
    second = OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")
    assert started_from == [str(optimized)]
    assert np.array_equal(first(image, valid), second(image, valid))
    optimized.write_bytes(optimized.read_bytes()[:1000])  # damaged: started from the graph, saved again
    third = OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")
    assert np.array_equal(first(image, valid), third(image, valid)) and optimized.stat().st_size > 1000


def test_onnx_engine_ignores_hole_contents(trained_looking_checkpoint, tmp_path):
    image, valid = pair((32, 48), seed=1)
    run = OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")
    filled = image.copy()
    filled[valid == 0] = 1.0
    assert np.abs(run(image, valid) - run(filled, valid)).max() < 1e-5


def test_graph_is_exported_once_per_checkpoint(trained_looking_checkpoint, tmp_path, monkeypatch):
    OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")
    assert len([g for g in (tmp_path / "cache").glob("*.onnx") if ".ort" not in g.name]) == 1

    def no_export(*_):
        raise AssertionError("exported again")

    monkeypatch.setattr(pconvkit.models.onnx_cache, "export_onnx", no_export)
    OnnxInpainter(trained_looking_checkpoint, cache=tmp_path / "cache")
    with pytest.raises(AssertionError):  # another checkpoint is another graph
        torch.manual_seed(1)
        save_checkpoint(tmp_path / "other.pt", PConvUNet(UNetConfig(layers=3, width=0.125)))
        OnnxInpainter(tmp_path / "other.pt", cache=tmp_path / "cache")


def test_cached_graph_is_found_without_reading_the_checkpoint_again(trained_looking_checkpoint, tmp_path, monkeypatch):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(trained_looking_checkpoint.read_bytes())
    first = cached_onnx_graph(checkpoint, tmp_path / "cache")
    read_bytes = Path.read_bytes

    def no_reading_of_the_checkpoint(path):
        assert path != checkpoint, "the checkpoint was read again"
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", no_reading_of_the_checkpoint)
    assert cached_onnx_graph(checkpoint, tmp_path / "cache") == first
    monkeypatch.undo()
    torch.manual_seed(1)  # the same file rewritten with other weights: a new modification time, a new graph
    save_checkpoint(checkpoint, PConvUNet(UNetConfig(layers=3, width=0.125)))
    os.utime(checkpoint, ns=(checkpoint.stat().st_atime_ns, checkpoint.stat().st_mtime_ns + 10**9))
    assert cached_onnx_graph(checkpoint, tmp_path / "cache") != first


def test_a_graph_is_never_served_for_other_weights_of_the_same_size_and_time(trained_looking_checkpoint, tmp_path):
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(trained_looking_checkpoint.read_bytes())
    before = checkpoint.stat()
    first = cached_onnx_graph(checkpoint, tmp_path / "cache")
    data = bytearray(checkpoint.read_bytes())
    torch.manual_seed(2)
    other = tmp_path / "other.pt"
    save_checkpoint(other, PConvUNet(UNetConfig(layers=3, width=0.125)))
    assert other.stat().st_size == before.st_size  # same architecture: same size
    checkpoint.write_bytes(other.read_bytes())  # other weights, in place (same inode) ...
    os.utime(checkpoint, ns=(before.st_atime_ns, before.st_mtime_ns))  # ... with the old modification time
    assert bytes(data) != checkpoint.read_bytes()
    assert cached_onnx_graph(checkpoint, tmp_path / "cache") != first
    assert len(list((tmp_path / "cache").glob("*.sha256"))) == 1  # the path's memo was replaced, not added to


@pytest.mark.slow
def test_cache_drops_graphs_of_checkpoints_removed_or_rewritten(trained_looking_checkpoint, tmp_path):
    cache = tmp_path / "cache"

    def other_checkpoint(path, seed):
        torch.manual_seed(seed)
        save_checkpoint(path, PConvUNet(UNetConfig(layers=3, width=0.125)))
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + seed * 10**9))
        return path

    kept = cached_onnx_graph(trained_looking_checkpoint, cache)
    temporary = cached_onnx_graph(other_checkpoint(tmp_path / "temporary.pt", 1), cache)
    (tmp_path / "temporary.pt").unlink()
    before_retraining = cached_onnx_graph(other_checkpoint(tmp_path / "retrained.pt", 2), cache)
    being_written = cache / ".0123456789abcdef0123-v1.onnx.tmp.part.onnx"  # by another process
    being_written.write_bytes(b"")
    after_retraining = cached_onnx_graph(other_checkpoint(tmp_path / "retrained.pt", 3), cache)
    assert len({kept, temporary, before_retraining, after_retraining}) == 4
    assert sorted(cache.glob("[!.]*.onnx")) == sorted([kept, after_retraining]) and being_written.exists()
    assert len(list(cache.glob("*.sha256"))) == 2
    assert cached_onnx_graph(trained_looking_checkpoint, cache) == kept
    being_written.unlink()  # the other process's file: not ours to leave behind


def inpaint_args(tmp_path, out, checkpoint, *extra):
    """`pconv inpaint` of TMP/photo.png with TMP/mask.png."""
    return [
        "inpaint",
        str(tmp_path / "photo.png"),
        str(tmp_path / "mask.png"),
        "-o",
        str(out),
        "--checkpoint",
        str(checkpoint),
        *extra,
    ]


def test_inpaint_command_engines_agree(trained_looking_checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "cache"))
    image, valid = pair((40, 70), seed=2)
    cv2.imwrite(str(tmp_path / "photo.png"), (image * 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "mask.png"), valid * 255)
    outputs = {}
    for engine in ("onnx", "torch"):
        result = CliRunner().invoke(
            pconv,
            inpaint_args(tmp_path, str(tmp_path / f"{engine}.png"), trained_looking_checkpoint, "--engine", engine),
        )
        assert result.exit_code == 0, result.output
        outputs[engine] = cv2.imread(str(tmp_path / f"{engine}.png")).astype(int)
    assert np.abs(outputs["onnx"] - outputs["torch"]).max() <= 1
    result = CliRunner().invoke(
        pconv,
        [
            "inpaint",
            str(tmp_path / "photo.png"),
            str(tmp_path / "mask.png"),
            "-o",
            str(tmp_path / "x.png"),
            "--engine",
            "onnx",
            "--device",
            "cuda",
        ],
    )
    assert result.exit_code != 0 and "runs on the CPU" in result.output


def test_export_onnx_command_writes_a_graph_or_fills_the_cache(trained_looking_checkpoint, tmp_path, monkeypatch):
    import onnxruntime

    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(
        pconv, ["export-onnx", "--checkpoint", str(trained_looking_checkpoint), "-o", str(tmp_path / "net.onnx")]
    )
    assert result.exit_code == 0, result.output
    session = onnxruntime.InferenceSession(str(tmp_path / "net.onnx"), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["stride"] == "8"  # 3 layers
    assert [i.name for i in session.get_inputs()] == ["image", "mask"]
    assert not (tmp_path / "cache").exists()
    result = CliRunner().invoke(pconv, ["export-onnx", "--checkpoint", str(trained_looking_checkpoint)])
    assert result.exit_code == 0 and len(list((tmp_path / "cache" / "onnx").glob("*.onnx"))) == 1


def test_unwritable_onnx_cache_is_a_one_line_error(trained_looking_checkpoint, tmp_path, monkeypatch):
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("PCONVKIT_CACHE", str(tmp_path / "a_file" / "cache"))
    image, valid = pair((16, 16))
    cv2.imwrite(str(tmp_path / "photo.png"), (image * 255).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "mask.png"), valid * 255)
    result = CliRunner().invoke(
        pconv,
        inpaint_args(tmp_path, str(tmp_path / "out.png"), trained_looking_checkpoint, "--engine", "onnx"),
    )
    assert result.exit_code == 1 and "cannot write the ONNX graph" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out.png").exists()
