"""The one table renderer: the same typed rows in four formats, numbers laid out one way, text escaped
for the format it lands in, and a long CSV a script reads back to the raw numbers."""

import io

import pandas as pd

from pconvkit.benchmark.render import FORMATS, Number, Table, plot_label, to_csv, to_html, to_latex, to_markdown

HOSTILE = "x_1 & <b>50%</b> #2"


def _table():
    table = Table(["metric", "method"], ["a", "b"], caption="Cells: mean.", groups=[("(0,1]", 2)], subheads=["N", "B"])
    table.rows = [
        ["l1 (%)", HOSTILE, Number(1.23456, 2, 1.0, 1.5, best=True), Number(float("nan"), 2)],
        ["l1 (%)", "plain", Number(2.0, 3), None],
        ["FID", "plain", Number(12.3456, 4, format="g", count=7), Number(float("nan"), 4, count=3)],
    ]
    return table


def test_numbers_look_the_same_in_every_display_format():
    markdown, latex, html = to_markdown(_table()), to_latex(_table()), to_html(_table())
    assert r"| l1 (%) | x_1 & \<b\>50%\</b\> #2 | **1.23 [1.00, 1.50]** |  |" in markdown
    assert "| l1 (%) | plain | 2.000 |  |" in markdown
    assert "12.35 (n=7) | not reported (n=3) |" in markdown
    assert r"\textbf{1.23 {\tiny [1.00, 1.50]}}" in latex and r"plain & 2.000 &  \\" in latex
    assert "<td class='best'>1.23<br><small>[1.00, 1.50]</small></td>" in html
    assert markdown.startswith("Cells: mean.\n\n| metric | method | a | b |\n|---|---|---:|---:|\n")


def test_text_is_escaped_for_latex_and_html_but_numbers_keep_their_markup():
    latex, html = to_latex(_table()), to_html(_table())
    assert r"x\_1 \& <b>50\%</b> \#2" in latex and latex.count("{") == latex.count("}")
    assert "x_1 &amp; &lt;b&gt;50%&lt;/b&gt; #2" in html and "<b>" not in html
    assert r"\multicolumn{2}{c}{(0,1]}" in latex and "metric & method & N & B" in latex
    assert "<th colspan='2'>(0,1]</th>" in html and "<th>N</th><th>B</th>" in html


def test_the_long_csv_reads_back_to_the_raw_numbers():
    long = pd.read_csv(io.StringIO(to_csv(_table())), keep_default_na=False)
    assert list(long.columns) == ["metric", "method", "column", "value", "ci_low", "ci_high", "best", "images"]
    first = long.iloc[0]
    assert first.method == HOSTILE and float(first.value) == 1.23456 and float(first.ci_low) == 1.0 and first.best == 1
    # a cell with no value is left out, unless its count says how many items it lacked a value for
    assert len(long) == 4 and long.iloc[3].value == "" and long.iloc[3].images == "3"
    assert len(long[long.method == "plain"]) == 3


def test_several_tables_render_as_one_document_in_each_format():
    second = Table(["metric", "method"], ["c"], caption="Second.")
    second.rows = [["KID", "plain", Number(0.5, 1)]]
    for name, render in FORMATS.items():
        text = render(_table(), second)
        assert text.endswith("\n") and ("Second." in text or name == "csv")
        assert "0.5" in text
    assert to_markdown(_table(), second).count("|---|---|") == 2


def test_counts_are_hidden_where_the_table_says_so():
    table = Table(["method"], ["0"], show_counts=False, count_name="pairs", column_name="dilation")
    table.rows = [["mean", Number(1.0, 1, count=4)]]
    assert "(n=" not in to_markdown(table)
    assert to_csv(table).splitlines() == ["method,dilation,value,ci_low,ci_high,best,pairs", "mean,0,1.0,,,0,4"]


NAMES = [
    "a|b",
    "my_method",
    "x*y*",
    "<img src=x>",
    "back\\slash",
    "tab`tick`",
    "[link](x)",
    "100%",
    "$x^2$",
    "{a}~b",
    "#1&2",
]


def test_every_name_stays_one_cell_and_itself_in_every_format():
    """Method names of every shape: a Markdown row keeps its cell count, LaTeX gets each special
    character's command (nothing left to break compilation), HTML and CSV get the text back."""
    import html as html_module
    import re

    table = Table(["method"], ["a"])
    table.rows = [[name, Number(1.0, 2)] for name in NAMES]
    markdown = to_markdown(table).splitlines()[2:]
    for line, name in zip(markdown, NAMES):
        cells = re.split(r"(?<!\\)\|", line)[1:-1]  # split on pipes that are not escaped
        assert len(cells) == 2 and re.sub(r"\\(.)", r"\1", cells[0].strip()) == name, line
    latex = to_latex(table)
    body = [line.split(" & ")[0] for line in latex.splitlines()[3:-2]]
    for text in body:
        bare = re.sub(r"\\(textbackslash|textasciitilde|textasciicircum)\{\}", "", text)
        assert not re.search(r"(?<!\\)[&%$#_{}~^]", bare.replace("\\{", "").replace("\\}", "")), text
    assert r"my\_method" in latex and r"\{a\}\textasciitilde{}b" in latex
    cells = re.findall(r"<td class='label'>(.*?)</td>", to_html(table))
    assert [html_module.unescape(c) for c in cells] == NAMES
    assert list(pd.read_csv(io.StringIO(to_csv(table)))["method"]) == NAMES


def test_a_label_that_starts_like_a_formula_is_text_in_a_spreadsheet():
    table = Table(["method"], ["a"])
    table.rows = [[name, Number(1.0, 2)] for name in ("=HYPERLINK(1)", "+1", "-x", "@sum", "plain")]
    labels = list(pd.read_csv(io.StringIO(to_csv(table)))["method"])
    assert labels == ["'=HYPERLINK(1)", "'+1", "'-x", "'@sum", "plain"]


def test_a_plot_label_is_shown_as_written():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots()
    for name in ("cost $5", "_private:fill", "a$b$c"):
        axis.plot([0, 1], [0, 1], label=plot_label(name))
    legend = axis.legend()
    figure.canvas.draw()  # an unbalanced $ would raise here
    assert [t.get_text() for t in legend.get_texts()] == [plot_label(n) for n in ("cost $5", "_private:fill", "a$b$c")]
    assert len(legend.get_texts()) == 3
    plt.close(figure)


def test_the_html_format_is_a_whole_document_around_the_fragment():
    page = FORMATS["html"](_table())
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert to_html(_table()) in page and "<meta charset='utf-8'>" in page
