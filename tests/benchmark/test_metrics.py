import numpy as np
import pytest
from skimage.metrics import structural_similarity

from pconvkit.benchmark.metrics import inception_score, l1_error_percent, psnr, ssim
from pconvkit.errors import UserError


def test_l1_and_psnr_by_hand():
    a = np.zeros((2, 2, 3))
    b = a.copy()
    b[0, 0] = 0.6  # 3 of 12 values differ by 0.6
    assert l1_error_percent(b, a) == pytest.approx(0.6 * 3 / 12 * 100)
    assert psnr(b, a) == pytest.approx(10 * np.log10(1 / (0.36 * 3 / 12)))
    assert psnr(a, a) == float("inf")


def test_ssim_equals_scikit_image_with_the_stated_settings():
    rng = np.random.default_rng(0)
    x = rng.random((64, 80, 3))
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    expected = structural_similarity(
        x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0, channel_axis=2
    )
    assert ssim(x, y) == pytest.approx(expected, abs=1e-6)
    assert ssim(x, x) == pytest.approx(1.0)


def test_inception_score_of_stub_classifiers():
    uniform = np.full((100, 10), 0.1)
    assert inception_score(uniform)[0] == pytest.approx(1.0)
    one_hot = np.eye(5)[np.arange(100) % 5]  # 5 classes used equally, confident predictions
    mean, std = inception_score(one_hot)
    assert mean == pytest.approx(5.0) and std == pytest.approx(0.0)


def test_image_metrics_agree_with_the_single_metrics():
    from pconvkit.benchmark.metrics import image_metrics

    rng = np.random.default_rng(1)
    x, y = rng.random((32, 40, 3)), rng.random((32, 40, 3))
    values = image_metrics(x, y)
    assert values["l1"] == pytest.approx(l1_error_percent(x, y), rel=1e-5)
    assert values["psnr"] == pytest.approx(psnr(x, y), rel=1e-5)
    assert values["ssim"] == pytest.approx(ssim(x, y))


@pytest.mark.slow
def test_inception_classifier_reads_a_torchvision_state_dict_file(tmp_path):
    """ImageNet weights cannot be downloaded here; randomly initialised weights in the same file
    format exercise the loading, the 299-px resize and the normalisation all the same."""
    import torch
    from torchvision.models import inception_v3

    from pconvkit.benchmark.metrics import InceptionClassifier
    from pconvkit.errors import UserError

    torch.manual_seed(0)
    torch.save(inception_v3(weights=None, aux_logits=True, init_weights=True).state_dict(), tmp_path / "inception.pth")
    classifier = InceptionClassifier(tmp_path / "inception.pth")
    images = np.random.default_rng(0).random((3, 64, 80, 3)).astype(np.float32)
    probabilities = classifier.probabilities(images)
    assert probabilities.shape == (3, 1000) and np.allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    # eval mode: an image's probabilities do not depend on the batch it comes in
    assert np.allclose(classifier.probabilities(images[1:2])[0], probabilities[1], atol=1e-5)
    torch.save({"conv.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(UserError, match="does not hold torchvision's inception_v3 weights") as error:
        InceptionClassifier(tmp_path / "other.pth")
    # PyTorch's message has several lines: the first, naming what failed, is quoted on one line
    assert "weights: Error(s) in loading state_dict for Inception3" in str(error.value)
    assert "\n" not in str(error.value)

    # The network sees what torchvision publishes for these weights: 299 px, ImageNet mean and std.
    from torchvision.models import Inception_V3_Weights
    from torchvision.transforms.functional import normalize, resize

    published = Inception_V3_Weights.IMAGENET1K_V1.transforms()
    seen = []
    classifier.network.register_forward_pre_hook(lambda _, inputs: seen.append(inputs[0].clone()))
    classifier.probabilities(images)
    batch = torch.from_numpy(images).permute(0, 3, 1, 2)
    expected = normalize(resize(batch, [299, 299], antialias=False), published.mean, published.std)
    assert published.crop_size == [299] and torch.allclose(seen[0], expected, atol=1e-5)


def test_hole_l1_is_the_mean_error_over_the_hole_pixels_only():
    from pconvkit.benchmark.metrics import image_metrics

    truth = np.zeros((20, 30, 3))
    valid = np.ones((20, 30), np.uint8)
    valid[5:10, 5:15] = 0  # 50 hole pixels of 600
    result = truth.copy()
    result[valid == 0] = 0.2
    values = image_metrics(result, truth, valid)
    assert values["l1_hole"] == pytest.approx(20.0)  # every hole value is off by 0.2
    assert values["l1"] == pytest.approx(20.0 * 50 / 600)  # the paper's l1: over the whole image
    assert image_metrics(truth, truth, np.ones((20, 30), np.uint8))["l1_hole"] == 0.0  # no hole at all


def _telea_on_photos():
    """(output, truth) pairs: scikit-image's photos, 8-bit, with Telea's fill in scattered small holes."""
    import cv2
    from skimage import data

    from pconvkit.images import to_uint8

    pairs = []
    for index, name in enumerate(["astronaut", "chelsea", "coffee", "rocket"]):
        truth = to_uint8(getattr(data, name)()[:200, :240] / 255.0).astype(np.float32) / 255
        rng = np.random.default_rng(index)
        valid = cv2.erode((rng.random(truth.shape[:2]) > 0.02).astype(np.uint8), np.ones((7, 7), np.uint8))
        output = cv2.inpaint(to_uint8(truth), 1 - valid, 3, cv2.INPAINT_TELEA).astype(np.float32) / 255
        pairs.append((output, truth, valid))
    return pairs


def test_ssim_with_the_border_included_is_lamas_ssim():
    """LaMa's formula (zero-padded windows, every pixel) to 1e-6; LaMa's own float32 code lies within
    its rounding (about 1e-5 on photos) of it."""
    from helpers import lama_ssim

    for output, truth, _ in _telea_on_photos():
        included = ssim(output, truth, border="include")
        assert included == pytest.approx(lama_ssim(output, truth, "float64"), abs=1e-6)
        assert included == pytest.approx(lama_ssim(output, truth), abs=2e-5)
        assert included != pytest.approx(ssim(output, truth), abs=1e-3)  # the border does count
    with pytest.raises(UserError, match="--ssim-border"):
        ssim(truth, truth, border="reflect")


def test_psnr_over_the_holes_by_hand():
    from pconvkit.benchmark.metrics import image_metrics

    truth, valid = np.zeros((20, 20, 3)), np.ones((20, 20), np.uint8)
    valid[5:9, 5:10] = 0  # 20 hole pixels
    output = truth.copy()
    output[5:9, 5:10] = 0.1  # MSE 0.01 over the hole: 20 dB
    output[0, 0] = 0.5  # outside the hole: counts for PSNR, not for PSNR holes
    values = image_metrics(output, truth, valid)
    assert values["psnr_hole"] == pytest.approx(20.0, abs=1e-5)
    whole = (20 * 3 * 0.01 + 3 * 0.25) / (400 * 3)
    assert values["psnr"] == pytest.approx(10 * np.log10(1 / whole), abs=1e-5)


def test_the_hole_box_holds_every_hole_pixel_at_least_64_px_a_side_inside_the_image():
    from pconvkit.benchmark.metrics import hole_box

    rng = np.random.default_rng(3)
    for _ in range(50):
        height, width = rng.integers(40, 300, 2)
        valid = np.ones((height, width), np.uint8)
        top, left = rng.integers(0, height), rng.integers(0, width)
        valid[top : top + rng.integers(1, 120), left : left + rng.integers(1, 120)] = 0
        rows, cols = hole_box(valid)
        assert (valid[rows, cols] == 0).sum() == (valid == 0).sum()
        assert rows.stop - rows.start == max(min(64, height), np.ptp(np.nonzero(valid == 0)[0]) + 1)
        assert 0 <= rows.start and rows.stop <= height and 0 <= cols.start and cols.stop <= width
        assert cols.stop - cols.start >= min(64, width)
    assert hole_box(np.ones((10, 10))) is None


def test_the_inception_score_takes_as_many_images_as_splits_and_refuses_fewer():
    probabilities = np.eye(10)  # ten images, each sure of its own class
    assert inception_score(probabilities)[0] == pytest.approx(1.0)  # one image per split: no spread
    assert inception_score(np.tile(probabilities, (2, 1)), splits=2)[0] == pytest.approx(10.0)
    for count in (9, 5, 1):
        with pytest.raises(UserError, match=f"at least 10 images, got {count}"):
            inception_score(probabilities[:count])


def test_a_mask_without_holes_gives_zero_hole_error_and_an_infinite_hole_psnr():
    from pconvkit.benchmark.metrics import image_metrics

    truth = np.zeros((16, 16, 3))
    values = image_metrics(truth + 0.2, truth, np.ones((16, 16), np.uint8))
    assert values["l1_hole"] == 0.0 and values["psnr_hole"] == float("inf")


def test_the_hole_box_is_centred_on_the_holes_the_odd_pixel_before_and_meets_the_edges():
    from pconvkit.benchmark.metrics import hole_box

    valid = np.ones((256, 200), np.uint8)
    valid[100, 150:152] = 0  # one row (63 px to share, 32 before), two columns (62: 31 and 31)
    assert hole_box(valid) == (slice(68, 132), slice(119, 183))
    valid = np.ones((256, 200), np.uint8)
    valid[0, 0] = valid[255, 199] = 0  # the whole image
    assert hole_box(valid) == (slice(0, 256), slice(0, 200))
    valid = np.ones((256, 200), np.uint8)
    valid[0, 199] = 0  # a corner: the box meets both edges
    assert hole_box(valid) == (slice(0, 64), slice(136, 200))


def test_table_cells_print_as_many_decimals_as_the_paper_prints():
    import csv
    from pathlib import Path

    import pconvkit.benchmark.tables as tables
    from pconvkit.benchmark.metrics import L1, PSNR, SSIM

    with open(Path(tables.__file__).with_name("paper_table1.csv"), newline="") as handle:
        printed = {(row["metric"], len(row["0.01-0.1 N"].split(".")[1])) for row in csv.DictReader(handle)}
    assert printed == {(m.name, m.decimals) for m in (L1, PSNR, SSIM)}


def test_the_paper_rows_are_the_metrics_the_paper_prints_and_border_words_are_read_by_value():
    import csv
    from pathlib import Path

    import pconvkit.benchmark.tables as tables
    from pconvkit.benchmark.metrics import METRICS, PAPER_METRICS

    with open(Path(tables.__file__).with_name("paper_table1.csv"), newline="") as handle:
        printed = {row["metric"] for row in csv.DictReader(handle)}
    assert {m.name for m in PAPER_METRICS} == {m.name for m in METRICS if m.in_paper} == printed
    rng = np.random.default_rng(0)
    a, b = rng.random((40, 40, 3)), rng.random((40, 40, 3))
    crop, include = "".join(["cr", "op"]), "".join(["inc", "lude"])  # as a command line gives them
    assert ssim(a, b, crop) == ssim(a, b) != ssim(a, b, include)


def test_grey_images_are_measured_as_one_channel():
    """(H, W) images, the luma of `benchmark sr`: SSIM as scikit-image's on one channel, the same as
    the image repeated in three channels; the hole error over the hole pixels, counted once each."""
    from pconvkit.benchmark.metrics import image_metrics

    rng = np.random.default_rng(1)
    a, b = rng.random((40, 48)), rng.random((40, 48))
    reference = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1)
    assert ssim(a, b) == pytest.approx(reference, abs=1e-5)
    three = lambda grey: np.repeat(grey[..., None], 3, axis=2)
    for border in ("crop", "include"):
        assert ssim(a, b, border) == pytest.approx(ssim(three(a), three(b), border), abs=1e-6)
    valid = np.ones((40, 48), np.uint8)
    valid[5:15, 10:30] = 0
    values = image_metrics(a, b, valid)
    assert values["l1_hole"] == pytest.approx(np.abs(a - b)[valid == 0].mean() * 100, rel=1e-5)
    assert values["psnr_hole"] == pytest.approx(10 * np.log10(1 / np.square(a - b)[valid == 0].mean()), rel=1e-5)


def test_the_inception_score_drop_prints_as_the_papers_iscore_rows():
    from pconvkit.benchmark.metrics import IS_DROP

    papers_pm_row = "0.090 0.058 0.307 0.204 0.766 0.465 1.551 0.921 2.724 1.422 4.075 2.226"  # IScore(PM)
    assert {len(value.split(".")[1]) for value in papers_pm_row.split()} == {IS_DROP.decimals}


def test_every_metric_is_named_directed_and_printed_as_the_readme_states():
    """The README's table of results columns is what a user reads the tables by: each metric's label,
    which way is better and its decimals there are the code's, and no metric is left out."""
    from pathlib import Path

    from pconvkit.benchmark import metrics

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    stated = {}
    for line in readme.split("| column | label | better | decimals |", 1)[1].splitlines()[2:]:
        if not line.startswith("| `"):
            break
        column, label, better, decimals = (cell.strip() for cell in line.strip("|").split("|"))
        stated[column.strip("`")] = (label.split(" (`")[0], {"lower": "min", "higher": "max"}[better], int(decimals))
    code = {
        m.name: (m.label, m.better, m.decimals) for m in (*metrics.METRICS, *metrics.PER_BIN, *metrics.SUPER_RESOLUTION)
    }
    assert stated == code
