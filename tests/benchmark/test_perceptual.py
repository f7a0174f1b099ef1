"""FID, KID and LPIPS: the real loading code on files in the real formats (random weights: the real
ones cannot be downloaded here), and agreement with the libraries' own end-to-end functions."""

import numpy as np
import pytest
import torch

from pconvkit.errors import UserError
from pconvkit.files import write_image

pytest.importorskip("torch_fidelity")
pytest.importorskip("lpips")


@pytest.fixture(scope="module")
def fid_weights(tmp_path_factory):
    """A state dict in the layout of both published files (pytorch-fid's network, random weights)."""
    import pytorch_fid.inception as port

    torch.manual_seed(0)
    net = port._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    for name, block in [
        ("Mixed_5b", port.FIDInceptionA(192, 32)),
        ("Mixed_5c", port.FIDInceptionA(256, 64)),
        ("Mixed_5d", port.FIDInceptionA(288, 64)),
        ("Mixed_6b", port.FIDInceptionC(768, 128)),
        ("Mixed_6c", port.FIDInceptionC(768, 160)),
        ("Mixed_6d", port.FIDInceptionC(768, 160)),
        ("Mixed_6e", port.FIDInceptionC(768, 192)),
        ("Mixed_7b", port.FIDInceptionE_1(1280)),
        ("Mixed_7c", port.FIDInceptionE_2(2048)),
    ]:
        setattr(net, name, block)
    path = tmp_path_factory.mktemp("fid") / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(net.state_dict(), path)
    return path


def image_sets(folder, count=12):
    rng = np.random.default_rng(0)
    sets = {}
    for name, shift in (("a", 0.0), ("b", 0.3)):
        images = []
        for i in range(count):
            y, x = np.mgrid[0:64, 0:64] / 63.0
            image = np.dstack([x, y, np.full_like(x, rng.random())]) * 0.7 + shift * rng.random()
            images.append(np.round(image.clip(0, 1) * 255) / 255)
            write_image(folder / name / f"{i}.png", images[-1])
        sets[name] = np.stack(images).astype(np.float32)
    return sets


@pytest.mark.slow
def test_fid_and_kid_agree_with_torch_fidelity_end_to_end(fid_weights, tmp_path):
    import torch_fidelity

    from pconvkit.benchmark.perceptual import InceptionFeatures, fid, inception_score_tf, kid

    sets = image_sets(tmp_path)
    network = InceptionFeatures(fid_weights)
    features = {name: network.features(images) for name, images in sets.items()}
    assert features["a"].shape == (12, 2048)
    assert fid(features["a"], features["a"]) == pytest.approx(0, abs=1e-3)  # a set against itself
    theirs = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "a"),
        input2=str(tmp_path / "b"),
        fid=True,
        kid=True,
        isc=True,
        kid_subset_size=12,
        feature_extractor_weights_path=str(fid_weights),
        cuda=False,
        verbose=False,
        save_cpu_ram=True,
    )
    assert fid(features["a"], features["b"]) == pytest.approx(theirs["frechet_inception_distance"], rel=1e-4)
    assert kid(features["a"], features["b"]) == pytest.approx(
        theirs["kernel_inception_distance_mean"], rel=1e-3, abs=1e-6
    )
    # the published-style Inception score: the same network's logits, torch-fidelity's own splits
    assert network.logits(sets["a"]).shape == (12, 1008)
    assert inception_score_tf(network.logits(sets["a"])) == pytest.approx(theirs["inception_score_mean"], rel=1e-4)


@pytest.mark.slow
def test_a_file_of_another_network_is_a_one_line_error(tmp_path):
    from torchvision.models import alexnet

    from pconvkit.benchmark.perceptual import InceptionFeatures, Lpips

    torch.save(alexnet(weights=None).state_dict(), tmp_path / "alexnet.pth")
    with pytest.raises(UserError, match="does not hold the FID Inception"):
        InceptionFeatures(tmp_path / "alexnet.pth")
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="AlexNet or VGG16"):
        Lpips(tmp_path / "other.pth")


@pytest.mark.slow
def test_lpips_agrees_with_the_lpips_package_on_the_same_backbone(tmp_path, monkeypatch):
    import lpips
    import lpips.pretrained_networks as networks
    from torchvision.models import alexnet

    from pconvkit.benchmark.perceptual import Lpips

    torch.manual_seed(1)
    backbone = alexnet(weights=None)
    torch.save(backbone.state_dict(), tmp_path / "alexnet-owt-7be5be79.pth")
    ours = Lpips(tmp_path / "alexnet-owt-7be5be79.pth")
    assert ours.backbone == "alex"
    monkeypatch.setattr(networks.tv, "alexnet", lambda **_: backbone)  # the package's own loading, our weights
    theirs = lpips.LPIPS(net="alex", verbose=False).eval()
    rng = np.random.default_rng(2)
    a, b = rng.random((3, 64, 64, 3)).astype(np.float32), rng.random((3, 64, 64, 3)).astype(np.float32)
    expected = theirs(torch.from_numpy(a).permute(0, 3, 1, 2) * 2 - 1, torch.from_numpy(b).permute(0, 3, 1, 2) * 2 - 1)
    assert np.allclose(ours.distance(a, b), expected.detach().flatten().numpy(), atol=1e-6)
    assert np.allclose(ours.distance(a, a), 0, atol=1e-7)


@pytest.mark.slow
def test_a_run_with_both_weight_files_reports_lpips_per_cell_and_kid_per_bin(fid_weights, tmp_path):
    from click.testing import CliRunner
    from torchvision.models import alexnet

    from pconvkit.cli import benchmark
    from pconvkit.files import write_png_atomic
    from pconvkit.images import mask_to_png

    torch.save(alexnet(weights=None).state_dict(), tmp_path / "alexnet.pth")
    image_sets(tmp_path, count=3)
    for i in range(4):
        valid = np.ones((64, 64), np.uint8)
        valid[8 : 20 + 2 * i, 10:40] = 0
        write_png_atomic(tmp_path / "masks" / f"m{i}.png", mask_to_png(valid))
    runner = CliRunner()
    result = runner.invoke(
        benchmark,
        [
            "run",
            "--methods",
            "telea,mean",
            "--images",
            str(tmp_path / "a"),
            "--masks",
            str(tmp_path / "masks"),
            "--size",
            "64",
            "--out",
            str(tmp_path / "r"),
            "--fid-weights",
            str(fid_weights),
            "--lpips-weights",
            str(tmp_path / "alexnet.pth"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "r" / "fid" / "gt").glob("*.npy"))) == 4
    table = runner.invoke(benchmark, ["table", str(tmp_path / "r")]).output
    assert "| LPIPS | telea |" in table and "| KID | mean |" in table and "| all N+B |" in table
    fid_row = next(line for line in table.splitlines() if line.startswith("| FID | telea |"))
    assert "(n=4)" in fid_row  # over every bin: all 4 outputs, reported with its count
    assert "biased upward" in table  # fewer than 2,048 images: a warning, not a refusal
    # outputs made elsewhere get the same metrics: here telea's, saved from the exported pairs
    from pconvkit.benchmark.methods import make_method
    from pconvkit.files import write_image
    from pconvkit.images import read_image, read_mask

    images = ["--images", str(tmp_path / "a")]
    assert (
        runner.invoke(benchmark, ["export-pairs", str(tmp_path / "r"), "--out", str(tmp_path / "x")] + images).exit_code
        == 0
    )
    for name in [line.split(",")[0] for line in (tmp_path / "x" / "pairs.csv").read_text().splitlines()[1:]]:
        image, valid = (
            read_image(tmp_path / "x" / "images" / f"{name}.png"),
            read_mask(tmp_path / "x" / "masks" / f"{name}.png"),
        )
        write_image(tmp_path / "outputs" / f"{name}.png", make_method("telea")(image, valid))
    result = runner.invoke(
        benchmark,
        [
            "score",
            str(tmp_path / "r"),
            "--method",
            "elsewhere",
            "--outputs",
            str(tmp_path / "outputs"),
            "--fid-weights",
            str(fid_weights),
            "--lpips-weights",
            str(tmp_path / "alexnet.pth"),
        ]
        + images,
    )
    assert result.exit_code == 0, result.output
    table = runner.invoke(benchmark, ["table", str(tmp_path / "r")]).output
    assert "| LPIPS | elsewhere |" in table and "| KID | elsewhere |" in table
