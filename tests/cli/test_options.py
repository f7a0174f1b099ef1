"""The shared options: numbers out of range are refused when the command line is read."""

import pytest
from click.testing import CliRunner
from helpers import one_line_error

from pconvkit.cli import benchmark, maskgen, pconv

runner = CliRunner()


def _cases(group, arguments, pairs: str):
    """(group, arguments, option, value) for each 'OPTION VALUE' of `pairs`, separated by ';'."""
    return [(group, arguments, *pair.split()) for pair in pairs.split(";")]


BAD_NUMBERS = (
    _cases(
        maskgen,
        ["build", "--flow-dir", "f", "--out", "o"],
        "--frame-stride 0; --max-side 0; --min-area -1; --occlusion-relative -0.5; --occlusion-relative nan; "
        "--occlusion-absolute inf; --boundary-absolute -1; --boundary-relative nan; --train-count -1; --per-bin 0; "
        "--size 0; --border-margin -1; --seed -1; --max-tries 0; --workers 0; --frame-gaps 0; --frame-gaps 1,x; "
        "--frame-gaps 4,-1",
    )
    + _cases(maskgen, ["flow", "--frames", "f", "--out", "o"], "--frame-gaps abc")
    + _cases(maskgen, ["classify", "f"], "--border-margin -3")
    + _cases(benchmark, ["sweep", "--masks", "m"], "--size 0; --count 0; --mask-threshold 2")
    + _cases(
        benchmark,
        ["run", "--masks", "m", "--out", "o"],
        "--workers 0; --batch-size 0; --limit 0; --size 0; --seed -1; --mask-threshold nan; --mask-threshold 0",
    )
    + _cases(
        pconv,
        ["train", "--images", "i", "--masks", "m", "--out", "o"],
        "--batch-size 0; --steps 0; --lr 0; --lr -1; --lr nan; --layers 1; --layers 9; --width 0; --width inf; "
        "--checkpoint-every 0; --sample-every 0; --size 0; --seed -1; --scale-jitter nan; --color-jitter nan; "
        "--max-minutes nan",
    )
)


@pytest.mark.parametrize(
    "group, arguments, option, value", BAD_NUMBERS, ids=[f"{a[0]} {o} {v}" for _, a, o, v in BAD_NUMBERS]
)
def test_numbers_out_of_range_are_refused_when_the_command_line_is_read(
    tmp_path, monkeypatch, group, arguments, option, value
):
    # The paths do not exist: the range check must come first, before any file is looked at or made.
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(group, arguments + [option, value])
    one_line_error(result, f"Invalid value for '{option}'")
    assert result.exit_code == 2 and not any(tmp_path.iterdir())
