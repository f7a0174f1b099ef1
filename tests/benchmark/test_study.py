"""The user study end to end: trials drawn from a run, answered in a real browser (headless
Chromium), stored in SQLite, refused when malformed or repeated, kept across a restart, exported for
MTurk and tallied with the rates the answers imply."""

import csv
import re
import threading
from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from helpers import STUDY_METHODS as METHODS
from helpers import Server, box_masks, gradient_photos, make_study, run_arguments

from pconvkit.benchmark.render import to_markdown
from pconvkit.benchmark.study import (
    BOOTSTRAP,
    answers_frame,
    connect,
    create_study,
    import_mturk,
    read_study,
    tally,
    write_tally,
)
from pconvkit.cli import benchmark
from pconvkit.errors import UserError

pytest.importorskip("flask")
pytest.importorskip("matplotlib")


def answer_all_in_a_browser(server, choose, screenshots=None):
    """Start a session and answer every trial; `choose(trial)` gives 'left' or 'right'. Returns the
    answers given and the completion code."""
    from helpers import browser
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver, given = browser(), {}
    wait = WebDriverWait(driver, 20, poll_frequency=0.02)
    try:
        driver.get(server.url + "/")
        if screenshots:
            driver.save_screenshot(str(screenshots / "instructions.png"))
        driver.find_element(By.ID, "start").click()
        while True:
            wait.until(lambda d: "/done" in d.current_url or d.execute_script("return document.body.dataset.shown"))
            if "/done" in driver.current_url:
                break
            trial = int(driver.execute_script("return document.body.dataset.shown"))
            duration = driver.execute_script("return current.duration_ms")
            if duration:
                wait.until(lambda d, t=trial: d.execute_script("return document.body.dataset.hidden") == str(t))
            elif screenshots and not given:
                driver.save_screenshot(str(screenshots / "participant.png"))
            given[trial] = choose(trial)
            driver.execute_script("delete document.body.dataset.shown; delete document.body.dataset.hidden")
            driver.find_element(By.ID, f"choose-{given[trial]}").click()
        code = wait.until(lambda d: d.find_element(By.ID, "code")).text
        if screenshots:
            driver.get(server.admin)
            driver.save_screenshot(str(screenshots / "admin.png"))
    finally:
        driver.quit()
    return given, code


@pytest.mark.slow
@pytest.mark.browser
def test_an_unlimited_study_answered_in_a_browser_is_stored_and_tallied(run, tmp_path):
    study = make_study(run, tmp_path / "study")
    _, trials, key = read_study(study)
    assert len([k for k in key if k["kind"] == "pair"]) == 3 * 20  # 3 method pairs x 20 inputs
    public = (study / "trials.csv").read_text()
    assert not any(re.search(rf"\b{word}\b", public) for word in (*METHODS, "truth"))  # nothing reveals a side
    sides = {int(k["trial"]): k for k in key}
    # a participant who always prefers telea (and the truth in catch trials); left otherwise
    choose = lambda t: (
        "left" if sides[t]["left"] in ("telea", "truth") or sides[t]["right"] not in ("telea", "truth") else "right"
    )
    with Server(study) as server:
        given, code = answer_all_in_a_browser(server, choose, screenshots=tmp_path)
    assert len(given) == 20 + 2 and len(code) == 10  # a session: 20 trials and 2 catch trials
    frame = answers_frame(study)
    assert dict(zip(frame["trial"], frame["choice"])) == given
    table = tally(study)
    row = table[(table["comparison"] == "telea over ns") & (table["category"] == "all")].iloc[0]
    answered = [t for t in given if {sides[t]["left"], sides[t]["right"]} == {"telea", "ns"}]
    assert row["answers"] == len(answered) and row["rate"] == 1.0  # always telea
    cells = table[(table["comparison"] == "telea over ns") & (table["bin"] != "all")]
    assert cells["answers"].sum() == row["answers"] and (cells["rate"] == 1.0).all()  # per bin, the same answers
    other = table[(table["comparison"] == "ns over mean") & (table["category"] == "all")]
    expected = np.mean(
        [
            given[t] == ("left" if sides[t]["left"] == "ns" else "right")
            for t in given
            if {sides[t]["left"], sides[t]["right"]} == {"ns", "mean"}
        ]
    )
    assert other.empty or other.iloc[0]["rate"] == pytest.approx(expected)
    result = CliRunner().invoke(benchmark, ["study", "tally", str(study), "--out", str(tmp_path / "tally")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "tally" / "fig9.png").stat().st_size and (tmp_path / "participant.png").stat().st_size


@pytest.mark.slow
@pytest.mark.browser
def test_a_limited_study_shows_each_pair_for_its_duration_within_a_frame(run, tmp_path):
    study = make_study(run, tmp_path / "limited", design="limited", per_method=4, times=(100, 250))
    sides = {int(k["trial"]): k for k in read_study(study)[2]}
    # 'right', but the truth in catch trials (a participant who fails them is excluded from the tally)
    choose = lambda t: ("left" if sides[t]["left"] == "truth" else "right") if sides[t]["kind"] == "catch" else "right"
    with Server(study) as server:
        given, _ = answer_all_in_a_browser(server, choose)
    frame = answers_frame(study)
    shown = frame[frame["kind"] == "limited"]
    assert len(shown) >= 6
    rows = connect(study).execute("SELECT trial, shown_ms, frames FROM answers").fetchall()
    for trial, shown_ms, frames in rows:
        duration = int(frame.loc[frame["trial"] == trial, "duration_ms"].iloc[0])
        stamps = [float(f) for f in frames.split(",")]
        # within one frame: the longest frame interval the browser actually drew in that trial
        frame_time = float(np.max(np.diff(stamps))) if len(stamps) > 2 else 1000 / 60
        assert abs(shown_ms - duration) <= frame_time + 1, (trial, shown_ms, duration, frame_time)
    truth_rate = tally(study)
    assert set(truth_rate["duration_ms"].dropna()) == {100, 250} and (truth_rate["excluded"] == 0).all()
    right_is_truth = np.mean([sides[t]["right"] == "truth" for t in given if sides[t]["kind"] == "limited"])
    overall = truth_rate[truth_rate["category"] == "all"]
    weights = overall["answers"] / overall["answers"].sum()
    assert float((overall["rate"] * weights).sum()) == pytest.approx(right_is_truth)  # what 'always right' implies


def test_the_server_refuses_bad_and_repeated_answers_and_survives_a_restart(run, tmp_path):
    from pconvkit.benchmark.study_server import create_app

    study = make_study(run, tmp_path / "s", per_method=6)
    client = create_app(study).test_client()
    participant = client.post("/start").headers["Location"].split("p=")[1]
    trial = client.get(f"/api/next?p={participant}").get_json()["trial"]
    good = dict(p=participant, trial=trial, choice="left", response_ms=812.0, shown_ms=800.0, frames=[0, 16.7])
    assert client.post("/api/answer", json=dict(good, p="nobody")).status_code == 404
    assert client.post("/api/answer", json=dict(good, choice="middle")).status_code == 400
    assert client.post("/api/answer", json=dict(good, response_ms=-1)).status_code == 400
    assert client.post("/api/answer", json=dict(good, trial="x")).status_code == 400
    assert client.post("/api/answer", json=dict(good, trial=99999)).status_code == 400  # not of this study
    offered = {t["trial"] for t in client.get(f"/api/session?p={participant}").get_json()["trials"]}
    never = next(int(t["trial"]) for t in read_study(study)[1] if int(t["trial"]) not in offered)
    assert client.post("/api/answer", json=dict(good, trial=never)).status_code == 409  # not offered to this one
    assert client.post("/api/answer", json=good).status_code == 200
    assert client.post("/api/answer", json=dict(good, choice="right")).status_code == 409  # answered already
    restarted = create_app(study).test_client()  # the server killed and started again: nothing lost
    assert connect(study).execute("SELECT choice FROM answers WHERE trial=?", (trial,)).fetchone() == ("left",)
    assert restarted.get(f"/api/next?p={participant}").get_json()["trial"] != trial  # the session goes on

    # six browsers (a browser session keeps its participant id, however often it presses Start)
    others = [create_app(study).test_client().post("/start").headers["Location"].split("p=")[1] for _ in range(6)]
    errors = []

    def answer_one(person):
        local = create_app(study).test_client()
        offered = local.get(f"/api/next?p={person}").get_json()["trial"]
        reply = local.post("/api/answer", json=dict(good, p=person, trial=offered))
        errors.append(reply.status_code)

    threads = [threading.Thread(target=answer_one, args=(p,)) for p in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [200] * 6 and connect(study).execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 7
    key = restarted.application.admin_key
    assert "answers of" in restarted.get(f"/admin?key={key}").get_data(as_text=True)


def test_mturk_export_reveals_nothing_and_its_results_come_back(run, tmp_path):
    study = make_study(run, tmp_path / "s", per_method=6)
    runner = CliRunner()
    result = runner.invoke(
        benchmark,
        ["study", "export", str(study), "--out", str(tmp_path / "hit"), "--base-url", "https://example.org/study/"],
    )
    assert result.exit_code == 0, result.output
    text = (tmp_path / "hit" / "input.csv").read_text() + (tmp_path / "hit" / "hit.html").read_text()
    assert not any(re.search(rf"\b{word}\b", text) for word in (*METHODS, "truth", "damaged"))
    trials = pd.read_csv(tmp_path / "hit" / "input.csv")["trial"].tolist()
    batch = pd.DataFrame(
        {"WorkerId": ["A1", "A2"] * 3, "Input.trial": trials[:6], "Answer.choice": ["left", "right"] * 3}
    )
    batch.to_csv(tmp_path / "batch.csv", index=False)
    result = runner.invoke(benchmark, ["study", "import", str(study), str(tmp_path / "batch.csv")])
    assert result.exit_code == 0 and "6 answers added" in result.output
    (tmp_path / "wrong.csv").write_text("WorkerId,Answer.choice\nA1,left\n")
    result = runner.invoke(benchmark, ["study", "import", str(study), str(tmp_path / "wrong.csv")])
    assert result.exit_code == 1 and result.output.startswith("Error:") and len(answers_frame(study)) == 6
    with pytest.raises(UserError, match="already holds a study"):
        make_study(run, study, per_method=3)  # a new draw would change the trials under the answers
    assert len(answers_frame(study)) == 6


def _slow_two_way(values, people, photos, seed, resamples):
    """Draw participants with replacement and, independently, photos; an answer counts as often as
    its participant was drawn times its photo was drawn; percentiles of the weighted means."""
    rng = np.random.default_rng(seed)
    names, images = sorted(set(people)), sorted(set(photos))
    estimates = []
    for _ in range(resamples):
        drawn_people = [names[i] for i in rng.integers(0, len(names), len(names))]
        drawn_photos = [images[i] for i in rng.integers(0, len(images), len(images))]
        weights = [drawn_people.count(p) * drawn_photos.count(q) for p, q in zip(people, photos)]
        if sum(weights):
            estimates.append(sum(w * v for w, v in zip(weights, values)) / sum(weights))
    return float(np.mean(values)), *map(float, np.quantile(estimates, [0.025, 0.975]))


def test_the_two_way_bootstrap_resamples_participants_and_photos_as_the_obvious_implementation_does():
    from pconvkit.benchmark.study import two_way_bootstrap

    rng = np.random.default_rng(3)
    people = [f"p{i}" for i in rng.integers(0, 6, 60)]
    photos = [f"i{i}" for i in rng.integers(0, 5, 60)]
    values = list((rng.random(60) < 0.3 + 0.1 * np.array([int(q[1:]) for q in photos])).astype(float))
    ours = two_way_bootstrap(values, people, photos, np.random.default_rng(7), resamples=300)
    assert ours == pytest.approx(_slow_two_way(values, people, photos, 7, 300), abs=1e-12)
    for count in (2, 4):  # even counts of photos and of participants too
        people, photos = [f"p{i}" for i in range(count) for _ in range(9)], [f"i{i % count}" for i in range(9 * count)]
        values = list(rng.random(9 * count))
        ours = two_way_bootstrap(values, people, photos, np.random.default_rng(7), resamples=200)
        assert ours == pytest.approx(_slow_two_way(values, people, photos, 7, 200), abs=1e-12)


def test_answers_that_depend_only_on_the_photo_get_an_interval_from_the_photos():
    from pconvkit.benchmark.study import two_way_bootstrap

    # Every participant prefers the method on photo a and the truth on photo b: resampling the
    # participants alone would give the interval [0.5, 0.5]; the photos are what varies.
    people = [f"p{i}" for i in range(20) for _ in range(2)]
    photos = ["a", "b"] * 20
    values = [1.0, 0.0] * 20
    mean, low, high = two_way_bootstrap(values, people, photos, np.random.default_rng(0), resamples=500)
    assert mean == 0.5 and low == 0.0 and high == 1.0  # a resample of only a, or only b, happens 1 in 4


# ------------------------------------------------------------------------------------------- tally
# The tally against an obvious count of the answers: answers brought in as an MTurk batch (no
# browser), each rate, count and interval recomputed by hand from key.csv and the batch.

WORKERS = ("W1", "W2", "W3", "W4")  # W4 fails a catch trial
FAVOURED = {"telea": 0.8, "ns": 0.5, "mean": 0.2, "truth": 0.7}  # how often a worker picks each side


SIDE = 128  # N holes 50 px from the border (the paper's margin) fit, in the smallest bin


@pytest.fixture(scope="module")
def tally_run(tmp_path_factory):
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


def make_tally_study(run, out, design="unlimited", per_method=6, times=(250, 1000, 4000)):
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


def expected_tally(design, key, answers, times=(), methods=METHODS):
    """The tally's rows, counted answer by answer: the groups in order (method pairs, or methods by
    duration), each overall, for N, for B and per (category, bin) cell ordered by bin then category."""
    excluded = {w for w, t, c in answers if key[t]["kind"] == "catch" and key[t][c] == "damaged"}
    kept = [(w, key[t], key[t][c]) for w, t, c in answers if key[t]["kind"] != "catch" and w not in excluded]
    if design == "unlimited":
        groups = [
            (f"{a} over {b}", None, [k for k in kept if {k[1]["left"], k[1]["right"]} == {a, b}], a)
            for a, b in combinations(methods, 2)
        ]
    else:
        shown = [(m, d, [k for k in kept if m in (k[1]["left"], k[1]["right"])]) for m in methods for d in times]
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


def test_an_unlimited_tally_is_the_count_of_its_answers_with_two_way_intervals(tally_run, tmp_path):
    study = make_tally_study(tally_run, tmp_path / "s", per_method=6)
    key, answers = answer_every_trial(study, tmp_path)
    expected = expected_tally("unlimited", key, answers)
    assert expected["excluded"].eq(1).all() and expected["participants"].max() == 3  # W4 is out, W3 half in
    assert set(expected["category"]) == {"all", "N", "B"} and expected["bin"].nunique() > 2
    assert_same_tally(tally(study), expected)


def test_a_limited_tally_counts_the_truth_per_method_and_duration(tally_run, tmp_path):
    study = make_tally_study(tally_run, tmp_path / "s", design="limited", per_method=4, times=(250, 1000))
    key, answers = answer_every_trial(study, tmp_path, seed=1)
    expected = expected_tally("limited", key, answers, times=(250, 1000))
    assert set(expected["duration_ms"]) == {250, 1000}
    assert_same_tally(tally(study), expected)


def test_the_written_tally_holds_every_row_and_a_plot(tally_run, tmp_path):
    study = make_tally_study(tally_run, tmp_path / "s", per_method=6)
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
        rate = f"{row['rate']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
        assert f"| {label} | {row['category']} | {rate} | {row['answers']} |" in markdown  # whole answers
    assert files[3].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_figure_shows_each_comparisons_rate_and_interval_for_n_and_b(tally_run, tmp_path):
    from matplotlib.colors import to_rgba
    from matplotlib.container import BarContainer

    from pconvkit.benchmark.study import tally_figure

    study = make_tally_study(tally_run, tmp_path / "s", design="limited", per_method=4, times=(250, 1000))
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
    (half,) = [line for line in axis.lines if line.get_linestyle() == "-" and tuple(line.get_ydata()) == (0.5, 0.5)]
    assert half.get_linewidth() > 0 and half.get_visible()  # the line of no preference is drawn
    assert axis.get_ylim() == (0, 1)


def test_each_answer_is_joined_with_the_side_it_chose_and_the_other(tally_run, tmp_path):
    from pconvkit.benchmark.study import answers_frame

    study = make_tally_study(tally_run, tmp_path / "s", per_method=4)
    key, answers = answer_every_trial(study, tmp_path)
    frame = answers_frame(study)
    expected = sorted((f"mturk:{w}", t, key[t][c], key[t]["right" if c == "left" else "left"]) for w, t, c in answers)
    assert sorted(frame[["participant", "trial", "chosen", "other"]].itertuples(index=False, name=None)) == expected


def test_one_answer_has_a_rate_and_no_interval():
    from pconvkit.benchmark.study import two_way_bootstrap

    mean, low, high = two_way_bootstrap([1.0], ["p"], ["a"], np.random.default_rng(0))
    assert mean == 1.0 and np.isnan(low) and np.isnan(high)
    assert np.isnan(two_way_bootstrap([], [], [], np.random.default_rng(0))[0])


def _rename_methods(study, renames: dict, order=None):
    """The study as if its methods had other names (in key.csv and study.json), or another order."""
    import json

    info = json.loads((study / "study.json").read_text())
    info["methods"] = [renames.get(m, m) for m in (order or info["methods"])]
    (study / "study.json").write_text(json.dumps(info))
    with open(study / "key.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row["left"], row["right"] = renames.get(row["left"], row["left"]), renames.get(row["right"], row["right"])
    with open(study / "key.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return {int(row["trial"]): row for row in rows}, info["methods"]


def test_the_tally_compares_methods_by_name_whatever_their_order_or_spelling(tally_run, tmp_path):
    """Pairs of methods in alphabetical order; a method whose name sorts after 'truth'."""
    study = make_tally_study(tally_run, tmp_path / "u", per_method=4)
    _, answers = answer_every_trial(study, tmp_path)
    key, methods = _rename_methods(study, {}, order=sorted(METHODS))
    assert_same_tally(tally(study), expected_tally("unlimited", key, answers, methods=methods))
    study = make_tally_study(tally_run, tmp_path / "l", design="limited", per_method=4, times=(250,))
    _, answers = answer_every_trial(study, tmp_path, seed=1)
    key, methods = _rename_methods(study, {"telea": "zits"})
    expected = expected_tally("limited", key, answers, times=(250,), methods=methods)
    assert "truth over zits" in set(expected["comparison"])
    assert_same_tally(tally(study), expected)


def test_the_cells_of_a_tally_come_in_order_of_bin_then_category():
    from pconvkit.benchmark.study import _cells

    bins = [f"0.{k}-0.{k + 1}" for k in range(1, 9)]
    part = pd.DataFrame(dict(category=["N", "B"] * 8, bin=[b for b in bins for _ in range(2)]))
    assert _cells(part) == [(c, b) for b in bins for c in ("B", "N")]


def test_a_tally_read_back_from_its_csv_renders_and_plots_as_the_tally_itself(tally_run, tmp_path):
    from matplotlib.colors import to_rgba
    from matplotlib.container import BarContainer

    from pconvkit.benchmark.study import rendered_tally, tally_figure

    study = make_tally_study(tally_run, tmp_path / "s", per_method=6)
    answer_every_trial(study, tmp_path)
    table = tally(study)
    files = write_tally(study, tmp_path / "out")
    again = pd.read_csv(files[0])  # its strings are new objects, not the tally's own
    assert to_markdown(rendered_tally(again)) == to_markdown(rendered_tally(table))

    def colours(frame):
        (bars,) = [c for c in tally_figure(frame).axes[0].containers if isinstance(c, BarContainer)]
        return [bar.get_facecolor() for bar in bars]

    shown = table[table["category"].isin(["N", "B"]) & (table["bin"] == "all")]["category"].tolist()
    assert set(shown) == {"N", "B"}
    assert colours(again) == colours(table) == [to_rgba("tab:blue" if c == "N" else "tab:orange") for c in shown]


def test_the_tally_reads_the_answers_without_writing_to_the_study(tally_run, tmp_path):
    study = make_tally_study(tally_run, tmp_path / "s", per_method=4)
    before = sorted(p.name for p in study.iterdir())
    assert "answers.sqlite" not in before
    with pytest.raises(UserError, match="no answers"):
        write_tally(study, tmp_path / "out")
    assert sorted(p.name for p in study.iterdir()) == before
