"""The report page, loaded in a real browser (Debian's headless Chromium driven by selenium): the
table and every picture are there, and the page is not blank. Under CI a missing browser fails."""

import numpy as np
import pytest
from click.testing import CliRunner
from helpers import box_masks, browser, gradient_photos, run_arguments

from pconvkit.cli import benchmark

pytest.importorskip("matplotlib")


@pytest.fixture
def report(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(2, 8 + 3 * i, 2, 10 + 3 * i) for i in range(12)])  # across the bins, B
    runner = CliRunner()
    common = ["--images", str(tmp_path / "images")]
    result = runner.invoke(benchmark, run_arguments(tmp_path, "telea,mean", "results"))
    assert result.exit_code == 0, result.output
    result = runner.invoke(benchmark, ["report", str(tmp_path / "results"), "--out", str(tmp_path / "report"), *common])
    assert result.exit_code == 0, result.output
    return tmp_path / "report" / "index.html"


@pytest.mark.browser
def test_the_report_page_shows_its_table_and_every_picture_in_a_browser(report, tmp_path):
    from PIL import Image

    driver = browser()
    try:
        driver.get(report.as_uri())
        rows = driver.find_elements("css selector", "#table1 tbody tr")
        assert len(rows) >= 2 * 4  # two methods, four metrics at least
        assert "telea" in driver.find_element("id", "table1").text
        images = driver.find_elements("tag name", "img")
        assert len(images) >= 4  # plots, the comparison picture, the worst pairs
        for image in images:
            assert driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image), (
                image.get_attribute("src")
            )
        assert "pconvkit" in driver.find_element("id", "protocol").text
        driver.save_screenshot(str(tmp_path / "screenshot.png"))
    finally:
        driver.quit()
    pixels = np.asarray(Image.open(tmp_path / "screenshot.png").convert("L"), np.float32)
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.01  # text and pictures, not a blank page
