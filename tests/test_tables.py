import re

import pytest

from pconvkit.benchmark.results import RESULT_FIELDS, read_results
from pconvkit.benchmark.tables import PAPER_TABLE1, column_labels, summarise, table1, to_csv, to_latex, to_markdown


@pytest.fixture
def results(tmp_path):
    rows = [",".join(RESULT_FIELDS)]
    # two methods, two cells; 'a' wins l1 in 0.01-0.1 N, 'b' wins in 0.1-0.2 B
    for method, mask, category, bin_, l1, psnr, ssim in [
        ("a", "1", "N", "0.01-0.1", 1.0, 30.0, 0.9),
        ("a", "2", "N", "0.01-0.1", 3.0, 28.0, 0.8),
        ("b", "1", "N", "0.01-0.1", 4.0, 25.0, 0.7),
        ("a", "3", "B", "0.1-0.2", 5.0, 20.0, 0.5),
        ("b", "3", "B", "0.1-0.2", 2.0, 22.0, 0.6),
    ]:
        row = dict(
            method=method,
            method_id="m",
            mask=mask,
            mask_hash="h",
            image="img",
            image_hash="i",
            category=category,
            bin=bin_,
            l1=l1,
            psnr=psnr,
            ssim=ssim,
            l1_hole=2 * l1,
            seconds=0.1,
            device="cpu",
        )
        rows.append(",".join(str(row[field]) for field in RESULT_FIELDS))
    rows.append("b,m,9,h,img,i,N,0.01")  # a torn last line from an interrupted run
    (tmp_path / "results.csv").write_text("\n".join(rows))
    return tmp_path


def test_torn_lines_are_skipped(results):
    assert len(read_results(results / "results.csv")) == 5


def test_cells_and_bold_marks(results):
    table = table1(summarise(results))
    row = {(r["metric"], r["method"]): r for r in table}
    assert row[("l1 (%)", "a")]["0.01-0.1 N"] == pytest.approx(2.0)
    assert row[("l1 (%)", "a")]["best"] == {"0.01-0.1 N"} and row[("l1 (%)", "b")]["best"] == {"0.1-0.2 B"}
    assert row[("PSNR", "a")]["best"] == {"0.01-0.1 N"}
    markdown = to_markdown(table)
    assert "| l1 (%) | a | **2.00** |" in markdown
    assert "GL (not run)" in markdown
    csv_text = to_csv(table)
    assert csv_text.splitlines()[0].split(",")[2:] == column_labels()


def test_with_paper_rows_and_latex_structure(results):
    table = table1(summarise(results), with_paper=True)
    latex = to_latex(table)
    assert latex.count("{") == latex.count("}")
    body = [line for line in latex.splitlines() if line.endswith(r"\\") and " & " in line][2:]
    assert len(body) == len(table)  # one row per method x metric
    assert all(line.count("&") == 13 for line in body)
    assert r"\textbf{2.00}" in latex
    paper = [r for r in table if r["method"] == "PConv (paper)" and r["metric"] == "PSNR"][0]
    assert [paper[c] for c in column_labels()] == PAPER_TABLE1["psnr"]["PConv"]
    assert re.search(r"l1 \(\\%\) & PConv \(paper\) & 0\.49 & 0\.47", latex)


def test_the_paper_table_is_transcribed_in_our_column_order():
    from pathlib import Path

    from pconvkit.benchmark import tables

    header = (Path(tables.__file__).with_name("paper_table1.csv")).read_text().splitlines()[0].split(",")
    assert header[2:] == column_labels()
    assert PAPER_TABLE1["l1"]["PConv"][0] == 0.49 and PAPER_TABLE1["ssim"]["PConv"][-1] == 0.484
    assert {m: len(v) for m, v in PAPER_TABLE1["psnr"].items()} == dict.fromkeys(
        ["PM", "GL", "GntIpt", "Conv", "PConv"], 12
    )
