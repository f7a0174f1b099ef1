import pytest
from click.testing import CliRunner
from helpers import STUDY_METHODS, box_masks, gradient_photos, run_arguments


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """A finished run of the study's methods on 4 photos x 20 masks, for studies to draw from."""
    from pconvkit.cli import benchmark

    folder = tmp_path_factory.mktemp("study_run")
    gradient_photos(folder / "images", count=4)
    box_masks(folder / "masks", [(2, 8 + i, 2, 10 + 2 * i) for i in range(20)])  # hole ratios 0.01 to 0.32
    result = CliRunner().invoke(benchmark, run_arguments(folder, ",".join(STUDY_METHODS), "results"))
    assert result.exit_code == 0, result.output
    return folder
