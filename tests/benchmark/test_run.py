"""The harness (`benchmark.run`): a method never sees the truth in its holes. Every method, built-in,
plug-in or network, receives the image with its holes blanked (`images.HOLE_FILL`) and the mask;
the known pixels are composited back before scoring."""

import json
import os
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, run_arguments

from pconvkit.benchmark.data import load_images, load_masks, read_pair
from pconvkit.benchmark.methods import fill, make_method
from pconvkit.benchmark.results import read_pairing, read_results, read_run_settings, shard_record_path
from pconvkit.benchmark.run import run_benchmark
from pconvkit.cli import benchmark
from pconvkit.errors import UserError
from pconvkit.images import HOLE_FILL, read_image, read_mask

PLUGINS = (
    '''
import numpy as np

received = []


def identity(image, mask, **_):
    """Returns its input: a perfect score if the harness handed it the truth."""
    return image


def hole_mean(image, mask, **_):
    """Fills every hole with the mean colour of its input's hole pixels (the truth's, if it had it)."""
    holes = image[mask == 0]
    return np.broadcast_to(holes.mean(axis=0) if holes.size else 0.5, image.shape).astype(np.float32)


def blank(image, mask, **_):
    """Fills the holes with the documented fill value, and nothing else."""
    return np.where(mask[..., None] == 1, image, np.float32('''
    + repr(HOLE_FILL)
    + """)).astype(np.float32)


def spoiler(image, mask, **_):
    '''blank's holes, and noise over every known pixel: scored as blank if the known pixels are
    composited back from the input, as the paper's I_comp is.'''
    from pconvkit.images import HOLE_FILL

    noise = np.random.default_rng(0).random(image.shape, dtype=np.float32)
    return np.where(mask[..., None] == 1, noise, np.float32(HOLE_FILL)).astype(np.float32)


def recorder(image, mask, **_):
    received.append((image.copy(), mask.copy()))
    return np.full_like(image, 0.5)


def boolean(image, mask, **_):
    return np.ones(image.shape, bool)


def below(image, mask, **_):  # -1.5 in the holes: beyond what clipping to [0, 1] should mend
    return np.where(mask[..., None] == 1, image, np.float32(-1.5)).astype(np.float32)


def above(image, mask, **_):  # 2.5 in the holes
    return np.where(mask[..., None] == 1, image, np.float32(2.5)).astype(np.float32)


def edges(image, mask, **_):  # the bounds themselves, -1 and 2, in the holes: clipped, not refused
    fill = np.where(np.arange(image.shape[1]) % 2 == 0, -1.0, 2.0)[None, :, None]
    return np.where(mask[..., None] == 1, image, fill).astype(np.float32)


def garbage_outside(image, mask, **_):  # -5 on the known pixels, which compositing replaces
    return np.where(mask[..., None] == 1, np.float32(-5), np.full_like(image, 0.5)).astype(np.float32)


def smaller(image, mask, **_):
    return image[1:]


def larger(image, mask, **_):
    return np.pad(image, ((0, 1), (0, 0), (0, 0)))


def process(image, mask, **_):  # writes the id of the process it ran in into $PEEK_FOLDER
    import os
    from pathlib import Path

    (Path(os.environ["PEEK_FOLDER"]) / f"ran-in-{os.getpid()}").touch()
    return np.full_like(image, 0.5)
"""
)


@pytest.fixture
def inputs(tmp_path, monkeypatch):
    (tmp_path / "peek.py").write_text(textwrap.dedent(PLUGINS))
    monkeypatch.syspath_prepend(str(tmp_path))
    gradient_photos(tmp_path / "images", count=3)
    box_masks(tmp_path / "masks", [(10, 20, 10, 30), (30, 50, 5, 40), (0, 12, 0, 64), (40, 60, 40, 60)])
    yield tmp_path
    sys.modules.pop("peek", None)  # the next test imports its own copy, from its own tmp_path


def scores(rows, method):
    return [(r["mask"], r["l1"], r["psnr"], r["ssim"], r["l1_hole"]) for r in rows if r["method"] == method]


def test_a_plugin_that_returns_its_input_scores_as_the_hole_fill_value(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    methods = ["peek:identity", "peek:hole_mean", "peek:blank", "peek:spoiler", "mean"]
    path = run_benchmark(methods, images, masks, inputs / "out", log=lambda *_: None)
    rows = read_results(path)
    blank = scores(rows, "peek:blank")
    assert scores(rows, "peek:identity") == blank
    assert scores(rows, "peek:hole_mean") == blank  # the hole pixels it averaged were all the fill value
    assert scores(rows, "peek:spoiler") == blank  # what it did to the known pixels is not scored
    assert all(float(psnr) < 40 for _, _, psnr, _, _ in blank)  # far from perfect: the truth is not there
    assert scores(rows, "mean") != blank


def test_what_a_plugin_receives_holds_no_hole_pixel_of_the_truth(inputs):
    import peek

    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    run_benchmark(["peek:recorder"], images, masks, inputs / "out", log=lambda *_: None)
    pairing = {mask.mask_id: image for mask, image in read_pairing(inputs / "out")}
    assert len(peek.received) == len(masks) == len(pairing)
    truths = {tuple(read_pair(m, images[i]).ravel()): images[i] for m, i in read_pairing(inputs / "out")}
    for image, mask in peek.received:
        truth = truths[tuple(mask.ravel())]
        holes = mask == 0
        assert holes.any() and (image[holes] == HOLE_FILL).all()
        assert not (image[holes] == truth[holes])[truth[holes] != HOLE_FILL].any()
        assert np.array_equal(image[~holes], truth[~holes])  # the known pixels are the truth's


@pytest.mark.parametrize("name", ["telea", "ns", "biharmonic", "mean", "patchmatch", "pconv", "conv"])
def test_no_builtin_method_depends_on_what_lies_in_its_holes(name):
    """Each method's output, composited, is the same whatever the holes hold (the truth, zeros,
    noise), holes on the border included: none can profit from the truth. (Before 0.3.0 biharmonic
    did, through its downscaling, and telea and ns, through OpenCV's frame handling.)"""
    if name == "patchmatch":
        pytest.importorskip("patchmatch", reason="the patchmatch extra is not installed")
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:128, 0:128] / 127
    image = np.dstack([x, y, (x + y) / 2]).astype(np.float32)
    valid = np.ones((128, 128), np.uint8)
    valid[30:70, 41:90] = 0
    valid[100:111, 5:19] = 0
    valid[0:20, 100:128] = 0  # a hole in the corner: OpenCV read the frame's hole pixels as known
    valid[60:80, 0:9] = 0
    method = make_method(name)
    outputs = [
        np.where(
            valid[..., None] == 1, image, np.clip(method(np.where(valid[..., None] == 1, image, hole), valid), 0, 1)
        )
        for hole in (image, np.zeros_like(image), rng.random(image.shape).astype(np.float32))
    ]
    assert np.array_equal(outputs[0], outputs[1]) and np.array_equal(outputs[1], outputs[2])


def test_pictures_and_studies_run_methods_through_the_same_blanking():
    seen = []

    def recorder(image, mask):
        seen.append(image.copy())
        return np.ones_like(image)

    image = np.full((16, 16, 3), 0.7, np.float32)
    valid = np.ones((16, 16), np.uint8)
    valid[4:9, 4:9] = 0
    composited = fill(recorder, image, valid)
    assert (seen[0][valid == 0] == HOLE_FILL).all() and np.array_equal(seen[0][valid == 1], image[valid == 1])
    assert (composited[valid == 0] == 1).all() and (composited[valid == 1] == 0.7).all()


@pytest.mark.parametrize("layout", ["lama", "mmagic", "plain"])
def test_exported_inputs_hold_no_hole_pixel_of_the_truth(inputs, layout):
    result = CliRunner().invoke(benchmark, run_arguments(inputs, "mean"))
    assert result.exit_code == 0, result.output
    export = inputs / f"export_{layout}"
    images = ["--images", str(inputs / "images")]
    result = CliRunner().invoke(
        benchmark, ["export-pairs", str(inputs / "out"), "--layout", layout, "--out", str(export), *images]
    )
    assert result.exit_code == 0, result.output
    truths = load_images(inputs / "images", 64)
    for index, (_, image_name) in enumerate(read_pairing(inputs / "out")):
        name = f"p{index + 1:05d}"  # pairs.csv's names
        if layout == "lama":
            picture, hole_mask = read_image(export / f"{name}.png"), read_mask(export / f"{name}_mask001.png", True)
        else:
            picture = read_image(export / "images" / f"{name}.png")
            hole_mask = read_mask(export / "masks" / f"{name}.png", layout == "mmagic")
        holes, truth = hole_mask == 0, truths[image_name]
        assert holes.any() and (picture[holes] == HOLE_FILL).all()
        assert np.abs(picture[~holes] - truth[~holes]).max() <= 0.5 / 255 + 1e-6  # known pixels: the truth, in 8 bits


def test_a_super_resolution_method_receives_only_the_low_resolution_image(tmp_path):
    from pconvkit.benchmark.superres import run_sr_benchmark

    seen = []

    def upscaler(low, factor):
        seen.append(low.shape)
        return np.kron(low, np.ones((factor, factor, 1), np.float32))

    import sys
    import types

    module = types.ModuleType("sr_peek")
    module.upscale = upscaler
    sys.modules["sr_peek"] = module
    try:
        y, x = np.mgrid[0:64, 0:64] / 63
        images = {"a": np.dstack([x, y, x * y]).astype(np.float32)}
        run_sr_benchmark(["sr_peek:upscale"], images, 4, tmp_path, log=lambda *_: None)
    finally:
        del sys.modules["sr_peek"]
    assert seen and all(shape == (16, 16, 3) for shape in seen)


def test_the_metric_networks_run_on_the_runs_device(inputs, monkeypatch):
    import pconvkit.benchmark.run as run_module

    devices = []

    class Recorder:
        def __init__(self, weights_path, device="cpu"):
            devices.append(device)

        def probabilities(self, images):
            return np.full((len(images), 10), 0.1)

    monkeypatch.setattr(run_module, "InceptionClassifier", Recorder)
    (inputs / "inception.pth").write_bytes(b"stand-in")
    arguments = [*run_arguments(inputs, "mean"), "--inception-weights", str(inputs / "inception.pth")]
    result = CliRunner().invoke(benchmark, [*arguments, "--device", "cpu:0"])  # not the default "cpu"
    assert result.exit_code == 0, result.output
    assert devices == ["cpu:0"]  # the run's --device, resolved (auto: the GPU where there is one)


def test_lpips_over_the_hole_box_sees_the_box_of_the_holes_and_nothing_else(tmp_path):
    """The LPIPS network's two calls per pair: the whole image, then the holes' bounding box (grown
    to 64 px) of output and truth; a stand-in network records what it is given."""
    from pconvkit.benchmark.run import MetricWeights, Scorers

    class Recorder:
        def __init__(self):
            self.seen = []

        def distance(self, output, truth):
            self.seen.append((output.copy(), truth.copy()))
            return np.abs(output - truth).mean(axis=(1, 2, 3))

    scorers = Scorers(MetricWeights(), tmp_path)
    scorers.lpips = Recorder()
    rng = np.random.default_rng(0)
    truth, output = rng.random((128, 160, 3)).astype(np.float32), rng.random((128, 160, 3)).astype(np.float32)
    valid = np.ones((128, 160), np.uint8)
    valid[100:110, 150:158] = 0  # near the corner: the 64-px box is shifted inside the image
    composited = np.where(valid[..., None] == 1, truth, output)
    metrics = scorers.score("m", None, composited, truth, valid)
    (whole, whole_truth), (box, box_truth) = scorers.lpips.seen
    assert whole.shape == (1, 128, 160, 3) and np.array_equal(whole_truth[0], truth)
    assert np.array_equal(box[0], composited[64:128, 96:160]) and np.array_equal(box_truth[0], truth[64:128, 96:160])
    assert metrics["lpips_box"] == pytest.approx(np.abs(composited - truth)[64:128, 96:160].mean())
    assert metrics["lpips_box"] > metrics["lpips"]  # the same difference, over a smaller area around it


def test_a_network_scores_every_pair_once_whatever_its_batch_size(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    runs = {
        batch: read_results(run_benchmark(["pconv"], images, masks, inputs / str(batch), batch_size=batch, log=print))
        for batch in (1, 3)
    }
    assert len(runs[1]) == len(masks) and scores(runs[3], "pconv") == scores(runs[1], "pconv")


def test_each_image_is_timed_and_a_batchs_time_is_shared_among_its_images(inputs, monkeypatch):
    ticks = iter(range(1000, 10_000, 7))  # a clock that advances 7 s at every reading
    monkeypatch.setattr("pconvkit.benchmark.run.time.perf_counter", lambda: float(next(ticks)))
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    rows = read_results(run_benchmark(["pconv", "mean"], images, masks, inputs / "out", batch_size=3, log=print))
    batched = sorted(float(r["seconds"]) for r in rows if r["method"] == "pconv")
    assert batched == pytest.approx([7 / 3] * 3 + [7.0], abs=1e-3)  # a batch of 3, then of 1
    assert [float(r["seconds"]) for r in rows if r["method"] == "mean"] == [7.0] * 4


def test_a_resumed_run_shows_the_pairs_already_done(inputs, capsys):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    path = run_benchmark(["mean"], images, masks, inputs / "out", log=print)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:4]))  # the header and three rows: an interrupted run
    capsys.readouterr()
    run_benchmark(["mean"], images, masks, inputs / "out", log=print)
    bar = capsys.readouterr().err.split("\r")
    assert any(" 3/4 " in state for state in bar) and " 4/4 " in bar[-1]


@pytest.mark.parametrize(
    "plugin, message",
    [
        ("peek:boolean", "returned an array of shape"),
        ("peek:smaller", "returned an array of shape"),
        ("peek:larger", "returned an array of shape"),
        ("peek:below", "not 0-255"),
        ("peek:above", "not 0-255"),
    ],
)
def test_a_method_that_returns_no_image_in_0_1_is_refused(inputs, plugin, message):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    with pytest.raises(UserError, match=message):
        run_benchmark([plugin], images, masks, inputs / "out", log=print)


def test_what_clipping_mends_and_what_compositing_replaces_is_accepted(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    rows = read_results(
        run_benchmark(["peek:edges", "peek:garbage_outside"], images, masks, inputs / "a" / "b", log=print)
    )
    assert len(rows) == 2 * len(masks)  # into a folder whose parent did not exist either


def test_a_methods_options_reach_it_in_the_workers_too(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    l1 = {}
    for radius in (1, 15):
        options = {"telea": {"radius": radius}}
        rows = read_results(
            run_benchmark(["telea"], images, masks, inputs / str(radius), method_options=options, log=print)
        )
        l1[radius] = [r["l1"] for r in rows]
    assert l1[1] != l1[15]


def test_shard_i_of_n_takes_every_nth_pair_from_the_ith(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    for index in (1, 2, 3):
        path = run_benchmark(["mean"], images, masks, inputs / "out", shard=(index, 3), log=print)
        pairing = [entry.mask_id for entry, _ in read_pairing(inputs / "out")]
        assert [r["mask"] for r in read_results(path)] == pairing[index - 1 :: 3]


def test_a_resumed_run_goes_on_to_the_methods_after_one_that_is_done(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    run_benchmark(["mean"], images, masks, inputs / "out", log=print)
    rows = read_results(run_benchmark(["mean", "telea"], images, masks, inputs / "out", workers=0, log=print))
    assert sorted(r["method"] for r in rows) == ["mean"] * 4 + ["telea"] * 4  # no workers: in this process


def test_an_unknown_method_is_refused_before_anything_runs(inputs, monkeypatch):
    monkeypatch.setenv("PEEK_FOLDER", str(inputs))
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    with pytest.raises(UserError, match="nosuch"):
        run_benchmark(["peek:process", "nosuch"], images, masks, inputs / "out", log=print)
    assert not list(inputs.glob("ran-in-*")) and not (inputs / "out" / "results.csv").exists()


def test_workers_run_a_cpu_method_in_other_processes(inputs, monkeypatch):
    monkeypatch.setenv("PEEK_FOLDER", str(inputs))
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    run_benchmark(["peek:process"], images, masks, inputs / "out", workers=2, log=print)
    ran_in = {int(p.name.split("-")[-1]) for p in inputs.glob("ran-in-*")}
    assert ran_in and os.getpid() not in ran_in


def test_only_a_sharded_run_writes_a_shard_record_naming_its_methods(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    plain = run_benchmark(["mean"], images, masks, inputs / "plain", log=print)
    assert not shard_record_path(plain).exists()
    sharded = run_benchmark(["mean", "telea"], images, masks, inputs / "sharded", shard=(1, 2), log=print)
    assert set(json.loads(shard_record_path(sharded).read_text())["methods"]) == {"mean", "telea"}


def test_the_run_records_how_many_masks_lay_outside_every_bin(inputs):
    images, masks = load_images(inputs / "images", 64), load_masks(inputs / "masks")
    run_benchmark(["mean"], images, masks, inputs / "out", log=print)
    settings = read_run_settings(inputs / "out")
    assert settings["outside_masks"] == 0 and settings["size"] == 64


def test_the_scorers_save_every_networks_vectors_of_the_truths_and_of_each_output(tmp_path):
    """With the networks' weight files, a run keeps their vectors, OUT/KIND/METHOD/MASK.npy, of the
    truths (under gt) and of each composited output: here two stand-in networks."""
    from pconvkit.benchmark.data import MaskEntry
    from pconvkit.benchmark.results import INCEPTION_VECTORS, TF_LOGITS, TRUTH, vector_folder
    from pconvkit.benchmark.run import MetricWeights, Scorers

    scorers = Scorers(MetricWeights(), tmp_path)
    networks = {INCEPTION_VECTORS: lambda x: x.mean(axis=(1, 2)), TF_LOGITS: lambda x: x.max(axis=(1, 2))}
    scorers.vectors = dict(networks)
    rng = np.random.default_rng(0)
    image, output = rng.random((2, 16, 16, 3), dtype=np.float32)
    valid = np.ones((16, 16), np.uint8)
    valid[4:9, 3:12] = 0
    mask = MaskEntry("m07", tmp_path / "m07.png", "N", "0.1-0.2")
    scorers.save_truths([(mask, image)])
    scorers.score("telea", mask, output, image, valid)
    for kind, network in networks.items():
        for method, picture in ((TRUTH, image), ("telea", output)):
            saved = np.load(vector_folder(tmp_path, kind, method) / "m07.npy")
            assert np.array_equal(saved, network(picture[None])[0].astype(np.float32)), (kind, method)
