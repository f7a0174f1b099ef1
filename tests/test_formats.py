"""Files written by earlier versions of pconvkit are read (migrated in memory) or refused with the
version that wrote them and the command that upgrades them; a method's fingerprint follows the
version of its outputs, not pconvkit's."""

import csv

import pytest
from click.testing import CliRunner
from helpers import box_masks, gradient_photos, run_arguments

import pconvkit
from pconvkit.benchmark import methods
from pconvkit.benchmark.results import RESULT_FORMATS, RESULTS_FORMAT, read_results, read_run_settings
from pconvkit.cli import benchmark
from pconvkit.errors import UserError

runner = CliRunner()


@pytest.fixture
def run_folder(tmp_path):
    gradient_photos(tmp_path / "images")
    box_masks(tmp_path / "masks", [(10, 20, 10, 30), (30, 50, 5, 40), (0, 12, 0, 64)])
    result = runner.invoke(benchmark, run_arguments(tmp_path, "mean,telea"))
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def rewrite_in_format(path, version):
    """The same rows as an earlier pconvkit wrote them: only that format's columns."""
    rows = list(csv.DictReader(open(path, newline="")))
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, RESULT_FORMATS[version], extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("version", [1, 2])
def test_an_earlier_results_file_is_read_and_upgraded(run_folder, version):
    table = runner.invoke(benchmark, ["table", str(run_folder), "--format", "csv"]).output
    current = read_results(run_folder / "results.csv")
    rewrite_in_format(run_folder / "results.csv", version)
    old = read_results(run_folder / "results.csv")
    assert [row["l1"] for row in old] == [row["l1"] for row in current]
    assert all(row["lpips"] == "nan" for row in old)
    assert ("l1_hole" in RESULT_FORMATS[version]) == all(row["l1_hole"] != "nan" for row in old)
    l1_lines = [line for line in table.splitlines() if line.startswith("l1 (%),")]
    migrated = runner.invoke(benchmark, ["table", str(run_folder), "--format", "csv"]).output
    assert l1_lines and all(line in migrated.splitlines() for line in l1_lines)  # the same numbers

    arguments = run_arguments(run_folder.parent, "mean,telea")
    refused = runner.invoke(benchmark, arguments)
    assert refused.exit_code == 1 and f"results format {version}" in refused.output
    assert f"benchmark upgrade {run_folder}" in refused.output
    upgraded = runner.invoke(benchmark, ["upgrade", str(run_folder)])
    assert upgraded.exit_code == 0 and f"format {version} -> {RESULTS_FORMAT}" in upgraded.output
    before = (run_folder / "results.csv").read_bytes()
    again = runner.invoke(benchmark, arguments)
    assert again.exit_code == 0, again.output
    assert (run_folder / "results.csv").read_bytes() == before  # every row kept its identity: nothing redone


def test_a_file_without_hashes_or_of_unknown_columns_is_refused_by_name(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text(",".join(RESULT_FORMATS[0]) + "\n")
    with pytest.raises(UserError, match="results format 0"):
        read_results(path)
    path.write_text(",".join((*RESULT_FORMATS[RESULTS_FORMAT], "fid_local")) + "\n")
    with pytest.raises(UserError, match="newer pconvkit"):
        read_results(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(UserError, match="not a benchmark results file"):
        read_results(path)


def test_the_run_records_its_results_format(run_folder):
    assert read_run_settings(run_folder)["results_format"] == RESULTS_FORMAT


def test_a_fingerprint_follows_the_methods_output_version_not_the_package_version(monkeypatch):
    telea = methods.method_fingerprint("telea")
    monkeypatch.setattr(pconvkit, "__version__", "99.0")
    assert methods.method_fingerprint("telea") == telea
    monkeypatch.setattr(methods.METHODS["telea"], "output_version", "0.2.1")
    assert methods.method_fingerprint("telea") != telea
    plugin = methods.method_fingerprint("numpy:median")
    monkeypatch.setattr(methods, "PLUGIN_INTERFACE_VERSION", "9")
    assert methods.method_fingerprint("numpy:median") != plugin


def test_the_fingerprints_of_rows_already_written_are_kept():
    # The hash the built-in methods' rows carried when their version was pconvkit's 0.2.0: a change
    # of the fingerprint's recipe would make every results folder written before refuse to resume.
    from pconvkit.files import content_hash

    assert methods.method_fingerprint("telea") == content_hash("telea", "0.2.0", [])
    assert methods.method_fingerprint("ns", radius=5) == content_hash("ns", "0.2.0", [("radius", "5")])
