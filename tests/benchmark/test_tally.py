"""The study's tally against an obvious count of the answers: answers brought in as an MTurk batch
(no browser), each rate, count and interval recomputed by hand from key.csv and the batch."""

import csv
from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import STUDY_METHODS as METHODS
from helpers import box_masks, gradient_photos, run_arguments

from pconvkit.benchmark.study import BOOTSTRAP, create_study, import_mturk, tally, write_tally
from pconvkit.cli import benchmark

pytest.importorskip("matplotlib")

WORKERS = ("W1", "W2", "W3", "W4")  # W4 fails a catch trial
FAVOURED = {"telea": 0.8, "ns": 0.5, "mean": 0.2, "truth": 0.7}  # how often a worker picks each side


SIDE = 128  # N holes 50 px from the border (the paper's margin) fit, in the smallest bin


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run of the study's methods on 4 photos x 12 masks at 128 px: N masks in the first bin, B
    masks in the first three."""
    folder = tmp_path_factory.mktemp("tally_run")
    gradient_photos(folder / "images", count=4, side=SIDE)
    inside = [(50, 50 + k, 50, 50 + k) for k in (14, 20, 26)]  # ratios 0.012 to 0.041
    touching = [(0, h, 0, 128) for h in (10, 14, 20, 26, 32, 38, 44, 50, 56)]  # ratios 0.08 to 0.44
    box_masks(folder / "masks", inside + touching, side=SIDE)
    arguments = run_arguments(folder, ",".join(METHODS), "results")
    arguments[arguments.index("--size") + 1] = str(SIDE)
    result = CliRunner().invoke(benchmark, arguments)
    assert result.exit_code == 0, result.output
    return folder


def make_study(run, out, design="unlimited", per_method=6, times=(250, 1000, 4000)):
    from pconvkit.benchmark.data import load_images

    images = load_images(run / "images", SIDE)
    return create_study(run / "results", images, design, METHODS, out, per_method, repeats=2, times=times)


def answer_every_trial(study, tmp_path, seed=0):
    """Each worker answers every trial (W3 only every second one), picking a side at random with a
    bias by what it shows; in catch trials all pick the truth but W4, who picks the damaged image
    once. Returns the key rows and the answers as (worker, trial, choice)."""
    rng = np.random.default_rng(seed)
    with open(study / "key.csv", newline="") as handle:
        key = {int(row["trial"]): row for row in csv.DictReader(handle)}
    answers, caught = [], False
    for worker in WORKERS:
        for trial, row in key.items():
            if worker == "W3" and trial % 2:
                continue
            if row["kind"] == "catch":
                picks = "damaged" if worker == "W4" and not caught else "truth"
                caught |= picks == "damaged"
                choice = "left" if row["left"] == picks else "right"
            else:
                left = FAVOURED[row["left"]] / (FAVOURED[row["left"]] + FAVOURED[row["right"]])
                choice = "left" if rng.random() < left else "right"
            answers.append((worker, trial, choice))
    batch = pd.DataFrame(answers, columns=["WorkerId", "Input.trial", "Answer.choice"])
    batch.to_csv(tmp_path / "batch.csv", index=False)
    assert import_mturk(study, tmp_path / "batch.csv") == len(answers)
    return key, answers


def slow_two_way(values, people, photos, rng, resamples=BOOTSTRAP):
    """Draw the participants with replacement and, independently, the photos; an answer counts as
    often as its participant was drawn times its photo was drawn; percentiles of the weighted means."""
    if len(values) < 2:
        return float(np.mean(values)), float("nan"), float("nan")
    names, images = sorted(set(people)), sorted(set(photos))
    estimates = []
    for _ in range(resamples):
        drawn_people = Counter(names[i] for i in rng.integers(0, len(names), len(names)))
        drawn_photos = Counter(images[i] for i in rng.integers(0, len(images), len(images)))
        weights = [drawn_people[p] * drawn_photos[q] for p, q in zip(people, photos)]
        if sum(weights):
            estimates.append(sum(w * v for w, v in zip(weights, values)) / sum(weights))
    return float(np.mean(values)), *map(float, np.quantile(estimates, [0.025, 0.975]))


def expected_tally(design, key, answers, times=()):
    """The tally's rows, counted answer by answer: the groups in order (method pairs, or methods by
    duration), each overall, for N, for B and per (category, bin) cell ordered by bin then category."""
    excluded = {w for w, t, c in answers if key[t]["kind"] == "catch" and key[t][c] == "damaged"}
    kept = [(w, key[t], key[t][c]) for w, t, c in answers if key[t]["kind"] != "catch" and w not in excluded]
    if design == "unlimited":
        groups = [
            (f"{a} over {b}", None, [k for k in kept if {k[1]["left"], k[1]["right"]} == {a, b}], a)
            for a, b in combinations(METHODS, 2)
        ]
    else:
        shown = [(m, d, [k for k in kept if m in (k[1]["left"], k[1]["right"])]) for m in METHODS for d in times]
        groups = [
            (f"truth over {m}", d, [k for k in part if int(k[1]["duration_ms"]) == d], "truth") for m, d, part in shown
        ]
    rows, rng = [], np.random.default_rng(0)
    for label, duration, part, winner in groups:
        cells = sorted({(row["category"], row["bin"]) for _, row, _ in part}, key=lambda c: (c[1], c[0]))
        for category, bin_ in [("all", "all"), ("N", "all"), ("B", "all"), *cells]:
            chosen = [
                (w, row, pick)
                for w, row, pick in part
                if category in ("all", row["category"]) and bin_ in ("all", row["bin"])
            ]
            if not chosen:
                continue
            wins = [float(pick == winner) for _, _, pick in chosen]
            people, photos = [w for w, _, _ in chosen], [row["image"] for _, row, _ in chosen]
            rate, low, high = slow_two_way(wins, people, photos, rng)
            rows.append(
                dict(comparison=label, duration_ms=duration, category=category, bin=bin_, rate=rate, low=low, high=high)
                | dict(answers=len(chosen), participants=len(set(people)), excluded=len(excluded))
            )
    return pd.DataFrame(rows)


def assert_same_tally(ours, expected):
    assert list(ours.columns) == list(expected.columns)
    keys = ["comparison", "category", "bin", "answers", "participants", "excluded"]
    assert ours[keys].astype(str).values.tolist() == expected[keys].astype(str).values.tolist()
    durations = expected["duration_ms"].astype(float).tolist()
    assert ours["duration_ms"].astype(float).tolist() == pytest.approx(durations, nan_ok=True)
    for column in ("rate", "low", "high"):
        assert ours[column].tolist() == pytest.approx(expected[column].tolist(), abs=1e-12, nan_ok=True)


def test_an_unlimited_tally_is_the_count_of_its_answers_with_two_way_intervals(run, tmp_path):
    study = make_study(run, tmp_path / "s", per_method=6)
    key, answers = answer_every_trial(study, tmp_path)
    expected = expected_tally("unlimited", key, answers)
    assert expected["excluded"].eq(1).all() and expected["participants"].max() == 3  # W4 is out, W3 half in
    assert set(expected["category"]) == {"all", "N", "B"} and expected["bin"].nunique() > 2
    assert_same_tally(tally(study), expected)


def test_a_limited_tally_counts_the_truth_per_method_and_duration(run, tmp_path):
    study = make_study(run, tmp_path / "s", design="limited", per_method=4, times=(250, 1000))
    key, answers = answer_every_trial(study, tmp_path, seed=1)
    expected = expected_tally("limited", key, answers, times=(250, 1000))
    assert set(expected["duration_ms"]) == {250, 1000}
    assert_same_tally(tally(study), expected)


def test_the_written_tally_holds_every_row_and_a_plot(run, tmp_path):
    study = make_study(run, tmp_path / "s", per_method=6)
    answer_every_trial(study, tmp_path)
    files = write_tally(study, tmp_path / "out")
    assert [f.name for f in files] == ["tally.csv", "tally.tex", "tally.md", "fig9.png"]
    table = tally(study)
    written = pd.read_csv(files[0])
    assert written.drop(columns="duration_ms").astype(str).values.tolist() == (
        table.drop(columns="duration_ms").astype(str).values.tolist()
    )
    markdown = files[2].read_text()
    for _, row in table.iterrows():
        label = row["comparison"] + ("" if row["bin"] == "all" else f", bin {row['bin']}")
        assert f"| {label} | {row['category']} | {row['rate']:.3f} [{row['low']:.3f}, {row['high']:.3f}] |" in markdown
    assert files[3].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figure_shows_each_comparisons_rate_and_interval_for_n_and_b(run, tmp_path):
    from matplotlib.colors import to_rgba
    from matplotlib.container import BarContainer

    from pconvkit.benchmark.study import tally_figure

    study = make_study(run, tmp_path / "s", design="limited", per_method=4, times=(250, 1000))
    answer_every_trial(study, tmp_path, seed=1)
    table = tally(study)
    shown = table[table["category"].isin(["N", "B"]) & (table["bin"] == "all")]
    axis = tally_figure(table).axes[0]
    (bars,) = [c for c in axis.containers if isinstance(c, BarContainer)]
    assert [bar.get_height() for bar in bars] == pytest.approx(shown["rate"].tolist())
    colours = [to_rgba("tab:blue" if c == "N" else "tab:orange") for c in shown["category"]]
    assert [bar.get_facecolor() for bar in bars] == colours
    whiskers = bars.errorbar.lines[2][0].get_segments()
    ends = [float(end[1]) for whisker in whiskers for end in whisker]
    assert ends == pytest.approx([v for interval in zip(shown["low"], shown["high"]) for v in interval])
    names = [f"{r['comparison']}\n{r['duration_ms']:.0f} ms {r['category']}" for _, r in shown.iterrows()]
    assert [t.get_text() for t in axis.get_xticklabels()] == names
    assert [tuple(line.get_ydata()) for line in axis.lines if line.get_linestyle() == "-"][-1] == (0.5, 0.5)
    assert axis.get_ylim() == (0, 1)


def test_each_answer_is_joined_with_the_side_it_chose_and_the_other(run, tmp_path):
    from pconvkit.benchmark.study import answers_frame

    study = make_study(run, tmp_path / "s", per_method=4)
    key, answers = answer_every_trial(study, tmp_path)
    frame = answers_frame(study)
    expected = sorted((f"mturk:{w}", t, key[t][c], key[t]["right" if c == "left" else "left"]) for w, t, c in answers)
    assert sorted(frame[["participant", "trial", "chosen", "other"]].itertuples(index=False, name=None)) == expected


def test_one_answer_has_a_rate_and_no_interval():
    from pconvkit.benchmark.study import two_way_bootstrap

    mean, low, high = two_way_bootstrap([1.0], ["p"], ["a"], np.random.default_rng(0))
    assert mean == 1.0 and np.isnan(low) and np.isnan(high)
    assert np.isnan(two_way_bootstrap([], [], [], np.random.default_rng(0))[0])
