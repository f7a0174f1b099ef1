"""The one table renderer: typed rows to CSV, Markdown, LaTeX and HTML.

Table 1, the report, the dilation sweep, the super-resolution table, the timing table and the study
tally build a `Table` of label columns and `Number` cells; how a number, its interval and a bold mark
look in each format is decided here only. The CSV is long (one line per row and number column, raw
numbers at full precision), so that a script reads it without parsing a display.
"""

import csv
import html
import io
import math
import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Number:
    """A numeric cell: its value, an optional interval, how many decimals it prints with, whether it is
    marked best, and how many items it was computed from (the CSV's count column)."""

    value: float | None
    decimals: int = 2
    low: float | None = None
    high: float | None = None
    best: bool = False
    count: int | None = None
    format: str = "f"  # 'f' (fixed decimals) or 'g' (significant digits)
    std: float | None = None  # a standard deviation, printed as value ± std where there is no interval


def _missing(value) -> bool:
    try:
        return value is None or math.isnan(value)
    except TypeError:  # not a number at all
        return False


@dataclass
class Table:
    """Rows of `labels` text cells followed by one cell per column of `columns` (a Number, a text or
    None). `groups` are header spans above the columns (LaTeX and HTML), as (text, how many)."""

    labels: list[str]
    columns: list[str]
    rows: list[list] = field(default_factory=list)
    caption: str = ""
    groups: list[tuple[str, int]] | None = None
    subheads: list[str] | None = None  # the column heads under `groups` (LaTeX, HTML); default the columns
    count_name: str = "images"  # what the CSV's count column counts
    column_name: str = "column"  # what the CSV calls the columns (a cell of Table 1, a dilation ...)
    show_counts: bool = True  # print each Number's count beside it ('(n=...)') in the displays
    html_id: str | None = None


def _number_text(cell: Number, value) -> str:
    return "" if _missing(value) else f"{value:.{cell.decimals}{cell.format}}"


def _text(cell, interval: str, show_count: bool = True, plus_minus: str = "±") -> str:
    """A cell's text: the value, with its interval where it has one, and its count where it has one."""
    if cell is None:
        return ""
    if not isinstance(cell, Number):
        return str(cell)
    count = cell.count if show_count else None
    if _missing(cell.value):
        return "" if count is None else f"not reported (n={count})"
    text = _number_text(cell, cell.value)
    if not _missing(cell.low):
        text = interval.format(value=text, low=_number_text(cell, cell.low), high=_number_text(cell, cell.high))
    elif not _missing(cell.std):
        text = f"{text} {plus_minus} {_number_text(cell, cell.std)}"
    return text if count is None else f"{text} (n={count})"


def _best(cell) -> bool:
    return isinstance(cell, Number) and cell.best


def _cells(table: Table, row: list, interval: str, escape, bold: str, plus_minus: str = "±") -> list[str]:
    """The texts of a row's columns in one format: numbers as `interval` lays them out (their markup
    is ours, never escaped), text cells escaped, best cells wrapped in `bold`."""
    texts = []
    for cell in row[len(table.labels) :]:
        if isinstance(cell, Number):
            text = _text(cell, interval, table.show_counts, plus_minus)
        else:
            text = escape(_text(cell, interval))
        texts.append(bold.format(text) if _best(cell) else text)
    return texts


# What has a meaning in a Markdown table cell: a pipe ends the cell, * and a word-edge _ emphasise,
# ` opens code, < HTML, [ ] a link; an underscore inside a word (my_method) means nothing in
# CommonMark and is left as it is, so that names read as themselves in the file too.
_MARKDOWN_SPECIAL = re.compile(r"[\\`*\[\]<>|]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def markdown_escape(text: str) -> str:
    """Text as itself in a Markdown table cell: each character with a meaning there backslash-escaped,
    line breaks as spaces."""
    return _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(), " ".join(str(text).splitlines()))


def to_markdown(*tables: Table) -> str:
    parts = []
    for table in tables:
        lines = [table.caption, ""] if table.caption else []  # the caption is the toolkit's own text
        lines += [
            "| " + " | ".join(markdown_escape(h) for h in table.labels + table.columns) + " |",
            "|" + "---|" * len(table.labels) + "---:|" * len(table.columns),
        ]
        for row in table.rows:
            cells = _cells(table, row, "{value} [{low}, {high}]", markdown_escape, "**{}**")
            labels = [markdown_escape(t) for t in row[: len(table.labels)]]
            lines.append("| " + " | ".join(labels + cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


_LATEX = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_LATEX_SPECIAL = re.compile("|".join(map(re.escape, _LATEX)))


def latex_escape(text: str) -> str:
    """Text as itself in LaTeX: each of its ten special characters replaced in one pass (so that a
    replacement is never escaped again), line breaks as spaces."""
    return _LATEX_SPECIAL.sub(lambda match: _LATEX[match.group()], " ".join(str(text).splitlines()))


def to_latex(*tables: Table) -> str:
    parts = []
    for table in tables:
        lines = ["% " + " ".join(table.caption.splitlines())] if table.caption else []
        lines += [r"\begin{tabular}{" + "l" * len(table.labels) + "r" * len(table.columns) + "}", r"\hline"]
        if table.groups:
            spans = [rf"\multicolumn{{{n}}}{{c}}{{{latex_escape(text)}}}" for text, n in table.groups]
            lines.append(" &" * len(table.labels) + " " + " & ".join(spans) + r" \\")
        lines += [" & ".join(latex_escape(h) for h in table.labels + _heads(table)) + r" \\", r"\hline"]
        for row in table.rows:
            interval, bold = r"{value} {{\tiny [{low}, {high}]}}", r"\textbf{{{}}}"
            cells = _cells(table, row, interval, latex_escape, bold, r"$\pm$")
            lines.append(" & ".join([latex_escape(str(t)) for t in row[: len(table.labels)]] + cells) + r" \\")
        lines += [r"\hline", r"\end{tabular}"]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _heads(table: Table) -> list[str]:
    return table.subheads if table.groups and table.subheads else table.columns


def to_html(*tables: Table) -> str:
    parts = []
    for table in tables:
        head = ""
        if table.groups:
            spans = "".join(f"<th colspan='{n}'>{html.escape(text)}</th>" for text, n in table.groups)
            head += "<tr>" + "<th></th>" * len(table.labels) + spans + "</tr>"
        head += "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.labels + _heads(table)) + "</tr>"
        body = []
        for row in table.rows:
            labels = "".join(f"<td class='label'>{html.escape(str(t))}</td>" for t in row[: len(table.labels)])
            texts = _cells(table, row, "{value}<br><small>[{low}, {high}]</small>", html.escape, "{}")
            cells = "".join(
                f"<td class='best'>{text}</td>" if _best(cell) else f"<td>{text}</td>"
                for cell, text in zip(row[len(table.labels) :], texts)
            )
            body.append(f"<tr>{labels}{cells}</tr>")
        ident = f" id='{html.escape(table.html_id)}'" if table.html_id else ""
        caption = f"<caption>{html.escape(table.caption)}</caption>" if table.caption else ""
        parts.append(f"<table{ident}>{caption}<thead>{head}</thead><tbody>{''.join(body)}</tbody></table>")
    return "\n".join(parts) + "\n"


def plot_label(name: str) -> str:
    """A name as matplotlib shows it: $ escaped (it opens mathtext, and an odd one is an error), and
    a leading underscore kept visible (matplotlib hides legend entries that start with one)."""
    text = str(name).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _spreadsheet_safe(text: str) -> str:
    """A label a spreadsheet shows as text: one that starts like a formula (= + - @, tab, return)
    gets a leading apostrophe (OWASP's rule against CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(*tables: Table) -> str:
    """Long CSV: one line per row and number column, raw numbers at full precision (repr); a std
    column where any cell has a standard deviation."""
    first = tables[0]
    with_std = any(isinstance(c, Number) and not _missing(c.std) for t in tables for r in t.rows for c in r)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    head = [*first.labels, first.column_name, "value", "ci_low", "ci_high", *(["std"] if with_std else [])]
    writer.writerow([*head, "best", first.count_name])
    raw = lambda v: "" if _missing(v) else repr(float(v))
    for table in tables:
        for row in table.rows:
            labels = [_spreadsheet_safe(str(t)) for t in row[: len(table.labels)]]
            for column, cell in zip(table.columns, row[len(table.labels) :]):
                if not isinstance(cell, Number) or (_missing(cell.value) and cell.count is None):
                    continue
                count = "" if cell.count is None else str(cell.count)
                spread = [raw(cell.std)] if with_std else []
                writer.writerow(
                    [*labels, column, raw(cell.value), raw(cell.low), raw(cell.high), *spread, int(cell.best), count]
                )
    return out.getvalue()


def to_html_page(*tables: Table) -> str:
    """The tables as a whole HTML document (a file to open), not a fragment to embed (`to_html`)."""
    title = html.escape(tables[0].caption.split(".")[0] if tables and tables[0].caption else "Table")
    return (
        f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>table{border-collapse:collapse;margin:1em 0}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        "td:not(.label){text-align:right}.best{font-weight:bold}</style></head><body>\n"
        f"{to_html(*tables)}</body></html>\n"
    )


# What the commands' --format writes: each a whole file of its kind.
FORMATS = {"csv": to_csv, "markdown": to_markdown, "latex": to_latex, "html": to_html_page}
