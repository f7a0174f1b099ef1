"""Jobs that cannot fit in memory are refused before they start, in one line."""

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import inpaint_errors, one_error_line, write_clip

runner = CliRunner()


@pytest.mark.slow
def test_jobs_that_cannot_fit_in_memory_are_refused_before_they_start(tmp_path, monkeypatch):
    import pconvkit.memory
    from pconvkit.cli import maskgen

    monkeypatch.setattr(pconvkit.memory, "available_bytes", lambda: 2**30)  # 1 GiB free
    write_clip(tmp_path / "clip")
    line = one_error_line(
        runner.invoke(
            maskgen,
            [
                "build",
                "--frames",
                str(tmp_path / "clip"),
                "--size",
                "100000",
                "--border-margin",
                "10",
                "--out",
                str(tmp_path / "o"),
            ],
        )
    )
    assert "GiB" in line and not (tmp_path / "o" / "raw").exists()
    cv2.imwrite(str(tmp_path / "big.png"), np.zeros((1600, 1600, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "big_mask.png"), cv2.circle(np.full((1600, 1600), 255, np.uint8), (800, 800), 90, 0, -1))
    for line, out in inpaint_errors(tmp_path / "big.png", tmp_path / "big_mask.png", tmp_path).values():
        assert "1600x1600" in line and "GiB" in line and not out.exists()
