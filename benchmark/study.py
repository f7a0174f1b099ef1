"""The paper's user study (Section 4.4, Fig. 9) as a tool: trials drawn from a run, answers stored
in SQLite, a crowd-sourcing bundle, and a tally with intervals.

Designs:
- unlimited: a person picks the more realistic of two methods' results for the same input
  (preference rate of each method of a pair; Fig. 9a, N and B apart).
- limited: one image is a method's result, the other the ground truth, shown for 250, 1000 or
  4000 ms; the rate at which the ground truth is preferred (Fig. 9b; lower is better).

Every session also gets CATCH_PER_SESSION catch trials: the ground truth against the same photo
with its hole filled flat grey. Rule: a participant who prefers the damaged image in any catch
trial is excluded from the tally (the tally says how many were).

On disk (STUDY/): secret.key (drawn at `study create`, private, never exported), images/FILE.png,
trials.csv (what a page may know: trial, left, right, duration_ms), key.csv (what it may not: what
each side is and its file, category, bin, photo), study.json (the design), answers.sqlite (the
server's answers). Every name a participant sees is a keyed hash (HMAC) under the secret: the public
names of a trial's two sides are drawn per trial, so an image shown in several trials (the truth
is) gets a new name each time, and the completion code cannot be computed from the participant id.
"""

import contextlib
import hmac
import json
import secrets
import sqlite3
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from pconvkit.benchmark.data import read_pair
from pconvkit.benchmark.methods import fill, make_method
from pconvkit.benchmark.render import Number, Table, plot_label, to_latex, to_markdown
from pconvkit.benchmark.results import read_pairing
from pconvkit.errors import UserError
from pconvkit.files import csv_text, read_csv_rows, save_figure, write_bytes_atomic, write_image, write_text_atomic

DESIGNS = ("unlimited", "limited")
CATCH_PER_SESSION = 2
SESSION_TRIALS = 20  # trials a participant answers, catch trials not counted
BOOTSTRAP = 2000
TRUTH, DAMAGED = "truth", "damaged"
SECRET_FILE = "secret.key"


def create_study(
    results_dir,
    images: dict,
    design: str,
    methods,
    out_dir,
    per_method: int = 300,
    repeats: int = 10,
    times=(250, 1000, 4000),
    seed: int = 0,
    method_options=None,
) -> Path:
    """Draw the trials from a run's pairs (balanced over methods, bins and N/B; sides random;
    seeded), render the images, and write the study folder."""
    if design not in DESIGNS:
        raise UserError(f"unknown design {design!r}: unlimited or limited")
    methods = list(dict.fromkeys(methods))
    if design == "unlimited" and len(methods) < 2:
        raise UserError("an unlimited study compares methods in pairs: name at least two")
    out_dir = Path(out_dir)
    if (out_dir / "study.json").exists():  # its answers belong to its trials: never redraw them underneath
        raise UserError(f"{out_dir} already holds a study: give another --out")
    rng = np.random.default_rng(seed)
    pairs = _balanced(read_pairing(results_dir), per_method, rng)
    instances = {m: make_method(m, **(method_options or {}).get(m, {})) for m in methods}
    secret = secrets.token_bytes(32)  # not from the seed: the seed is public, the names must not be
    picture = _Pictures(out_dir / "images", images, instances, secret)
    trials, key = _trial_rows(_comparisons(design, methods, pairs, times), picture, rng, secret)
    write_text_atomic(out_dir / SECRET_FILE, secret.hex() + "\n", private=True)
    write_text_atomic(out_dir / "trials.csv", csv_text(trials, ("trial", "left", "right", "duration_ms")))
    write_text_atomic(out_dir / "key.csv", csv_text(key, tuple(key[0])))
    record = dict(
        design=design,
        methods=methods,
        repeats=repeats,
        times=list(times),
        seed=seed,
        session_trials=SESSION_TRIALS,
        catch_per_session=CATCH_PER_SESSION,
    )
    write_text_atomic(out_dir / "study.json", json.dumps(record, indent=1))
    return out_dir


class _Pictures:
    """The image files of a study: a method's output, the truth or the damaged truth of a pair,
    each rendered once and named by a token."""

    def __init__(self, folder: Path, images: dict, instances: dict, secret: bytes):
        self.folder, self.images, self.instances, self.secret = folder, images, instances, secret
        self.files = {}

    def __call__(self, kind: str, mask, image_name: str) -> str:
        if (kind, mask.mask_id) not in self.files:
            image = self.images[image_name]
            valid = read_pair(mask, image)
            if kind == TRUTH:
                content = image
            elif kind == DAMAGED:
                content = np.where(valid[..., None] == 1, image, 0.5)
            else:
                content = fill(self.instances[kind], image, valid)
            name = keyed_name(self.secret, f"image/{kind}/{mask.mask_id}")
            write_image(self.folder / f"{name}.png", content)
            self.files[kind, mask.mask_id] = f"{name}.png"
        return self.files[kind, mask.mask_id]


def _comparisons(design: str, methods, pairs, times):
    """(first, second, mask, image name, duration in ms, kind) of every trial, the catch trials last:
    every two methods on every pair (unlimited), or each method against the truth at each duration
    (limited)."""
    if design == "unlimited":
        for a, b in combinations(methods, 2):
            for mask, image_name in pairs:
                yield a, b, mask, image_name, 0, "pair"
    else:
        for method in methods:
            for mask, image_name in pairs:
                for duration in times:
                    yield method, TRUTH, mask, image_name, int(duration), "limited"
    catch_duration = 0 if design == "unlimited" else int(max(times))
    for mask, image_name in pairs[: max(CATCH_PER_SESSION * 4, 1)]:
        yield TRUTH, DAMAGED, mask, image_name, catch_duration, "catch"


def _trial_rows(comparisons, picture, rng, secret: bytes) -> tuple[list[dict], list[dict]]:
    """The public trials (a name per side, drawn per trial) and the key (what each side is and
    which file it shows), sides drawn at random."""
    trials, key = [], []
    for trial, (first, second, mask, image_name, duration, kind) in enumerate(comparisons, 1):
        left, right = (first, second) if rng.random() < 0.5 else (second, first)
        trials.append(
            dict(
                trial=trial,
                left=keyed_name(secret, f"trial/{trial}/left") + ".png",
                right=keyed_name(secret, f"trial/{trial}/right") + ".png",
                duration_ms=duration,
            )
        )
        key.append(
            dict(
                trial=trial,
                kind=kind,
                left=left,
                right=right,
                left_file=picture(left, mask, image_name),
                right_file=picture(right, mask, image_name),
                category=mask.category,
                bin=mask.bin,
                image=image_name,
                mask=mask.mask_id,
                duration_ms=duration,
            )
        )
    return trials, key


def _balanced(pairs, count: int, rng):
    """`count` pairs, taken round-robin over the run's (category, bin) cells, in a seeded order."""
    cells = {}
    for pair in pairs:
        cells.setdefault((pair[0].category, pair[0].bin), []).append(pair)
    queues = [list(np.array(group, dtype=object)[rng.permutation(len(group))]) for _, group in sorted(cells.items())]
    chosen = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(tuple(queue.pop()))
    return chosen


def read_study(study_dir) -> tuple[dict, list[dict], list[dict]]:
    """(the design, the public trials, the key); a missing or damaged file ends in one line."""
    study_dir = Path(study_dir)
    if not (study_dir / "study.json").is_file():
        raise UserError(f"{study_dir} is not a study folder (make one with `benchmark study create`)")
    try:
        study = json.loads((study_dir / "study.json").read_text())
        trials, key = read_csv_rows(study_dir / "trials.csv"), read_csv_rows(study_dir / "key.csv")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{study_dir}: its study files cannot be read ({_reason(err)}): create it again") from None
    needed = {"design", "methods", "repeats", "times", "session_trials"}
    if not isinstance(study, dict) or not needed <= set(study) or not trials or len(trials) != len(key):
        raise UserError(f"{study_dir}: study.json, trials.csv or key.csv is damaged: create the study again")
    return study, trials, key


def _reason(err) -> str:
    return getattr(err, "strerror", None) or str(err).splitlines()[0][:120]


def keyed_name(secret: bytes, text: str, length: int = 16) -> str:
    """A name nobody without the study's secret can compute or invert (HMAC-SHA256)."""
    return hmac.new(secret, text.encode(), "sha256").hexdigest()[:length]


def read_secret(study_dir) -> bytes:
    """The study's secret; a study without one (pconvkit 0.3.0 and earlier named its images and
    codes by public values) is refused."""
    path = Path(study_dir) / SECRET_FILE
    try:
        secret = bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        raise UserError(
            f"{study_dir} has no {SECRET_FILE}: it was made by pconvkit 0.3.0 or earlier, whose image names "
            "and completion codes a participant could work out; create the study again"
        ) from None
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read {path}: {_reason(err)}") from None
    if len(secret) < 16:
        raise UserError(f"{path} is damaged (too short): create the study again")
    return secret


# ------------------------------------------------------------------------------------------ answers


def connect(study_dir, read_only: bool = False) -> sqlite3.Connection:
    """The answers database: every answer committed when it arrives (WAL journal), so a killed server
    loses none. `read_only` (the tally) opens it without writing, on a read-only file system too.
    A database that is a folder, damaged or not writable ends in one line."""
    path = Path(study_dir) / "answers.sqlite"
    try:
        if read_only:
            if not path.exists():
                return _empty_answers()
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10, check_same_thread=False)
            try:
                connection.execute("SELECT COUNT(*) FROM answers").fetchone()
            except sqlite3.OperationalError:  # a WAL database on a read-only file system: its -shm cannot be made
                connection = sqlite3.connect(f"file:{path}?immutable=1", uri=True, check_same_thread=False)
            connection.execute("SELECT COUNT(*) FROM answers").fetchone()
            return connection
        if not path.exists() and path.parent.is_dir():
            path.touch()  # created as every other file is (0666 less the umask); sqlite's -wal and -shm follow it
        connection = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(SCHEMA)
        connection.execute("BEGIN IMMEDIATE")  # can it be written? (a read-only file fails here, not mid-study)
        connection.execute("ROLLBACK")
        return connection
    except sqlite3.Error as err:
        raise UserError(f"cannot use the answers database {path}: {err}") from None


SCHEMA = """
    CREATE TABLE IF NOT EXISTS participants (id TEXT PRIMARY KEY, started REAL, source TEXT);
    CREATE TABLE IF NOT EXISTS offered (participant TEXT, trial INTEGER, position INTEGER,
                                        PRIMARY KEY (participant, trial));
    CREATE TABLE IF NOT EXISTS answers (participant TEXT, trial INTEGER, choice TEXT, response_ms REAL,
                                        shown_ms REAL, frames TEXT, created REAL,
                                        PRIMARY KEY (participant, trial));
"""


def _empty_answers() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.executescript(SCHEMA)
    return connection


def completion_code(secret: bytes, participant: str) -> str:
    """The code a participant gets at the end: only the server, which holds the secret, can make it."""
    return keyed_name(secret, f"done/{participant}", 10).upper()


def import_mturk(study_dir, batch_csv) -> int:
    """Bring an MTurk batch-results CSV (Input.trial, Answer.choice, WorkerId) into the answers: the
    whole file is checked first, then inserted in one transaction (all of it or nothing)."""
    _, trials, _ = read_study(study_dir)
    known = {int(t["trial"]) for t in trials}
    try:
        rows = read_csv_rows(batch_csv)
    except OSError as err:
        raise UserError(f"cannot read {batch_csv}: {_reason(err)}") from None
    needed = {"Input.trial", "Answer.choice", "WorkerId"}
    if not rows or not needed <= set(rows[0]):
        raise UserError(
            f"{batch_csv} is not an MTurk batch-results file of this study (needs {', '.join(sorted(needed))})"
        )
    answers = []
    for line, row in enumerate(rows, 2):
        trial, choice, worker = (str(row.get(k) or "").strip() for k in ("Input.trial", "Answer.choice", "WorkerId"))
        if not trial.isdigit() or int(trial) not in known or choice not in ("left", "right") or not worker:
            raise UserError(
                f"{batch_csv}, line {line}: trial {trial!r}, answer {choice!r} or worker {worker!r} "
                "is not of this study; nothing imported"
            )
        answers.append((f"mturk:{worker}", int(trial), choice))
    connection = connect(study_dir)
    with _transaction(connection):
        added = 0
        for worker, trial, choice in answers:
            connection.execute(
                "INSERT OR IGNORE INTO participants VALUES (?, strftime('%s','now'), 'mturk')", (worker,)
            )
            added += connection.execute(
                "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, NULL, NULL, NULL, strftime('%s','now'))",
                (worker, trial, choice),
            ).rowcount
    return added


@contextlib.contextmanager
def _transaction(connection):
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def export_mturk(study_dir, out_dir, base_url: str) -> Path:
    """A HIT layout and its input CSV: each row a trial, the images under `base_url` by their
    public names (no secret, no key, nothing that says what a side is)."""
    _, trials, key = read_study(study_dir)
    out_dir = Path(out_dir)
    base = base_url.rstrip("/")
    rows = [
        dict(
            trial=t["trial"],
            left_url=f"{base}/images/{t['left']}",
            right_url=f"{base}/images/{t['right']}",
            duration_ms=t["duration_ms"],
        )
        for t in trials
    ]
    table = csv_text(rows, ("trial", "left_url", "right_url", "duration_ms"))
    # another study's images left in the folder would be served beside this one's
    if out_dir.is_dir() and any(out_dir.iterdir()):
        held = (out_dir / "input.csv").read_text() if (out_dir / "input.csv").is_file() else None
        if held != table:
            raise UserError(f"{out_dir} is not empty and holds no export of this study: give another --out")
    # each side under its trial's own public name: the bundle is public, the study's file names are not
    for trial, sides in zip(trials, key):
        for side in ("left", "right"):
            source, copy = Path(study_dir) / "images" / sides[f"{side}_file"], out_dir / "images" / trial[side]
            if not copy.exists():
                write_bytes_atomic(copy, source.read_bytes())
    write_text_atomic(out_dir / "input.csv", table)
    write_text_atomic(out_dir / "hit.html", MTURK_LAYOUT)
    return out_dir


MTURK_LAYOUT = """<!-- Amazon Mechanical Turk HIT layout: ${...} are the columns of input.csv -->
<script src="https://assets.crowd.aws/crowd-html-elements.js"></script>
<crowd-form>
  <p>Which image looks more realistic? Look at both, then choose.</p>
  <div style="display:flex;gap:12px">
    <img src="${left_url}" style="width:45%"><img src="${right_url}" style="width:45%">
  </div>
  <input type="hidden" name="trial" value="${trial}">
  <crowd-radio-group>
    <crowd-radio-button name="choice" value="left">Left</crowd-radio-button>
    <crowd-radio-button name="choice" value="right">Right</crowd-radio-button>
  </crowd-radio-group>
</crowd-form>
"""


# ------------------------------------------------------------------------------------------- tally


def answers_frame(study_dir) -> pd.DataFrame:
    """Every answer joined with what its two sides were; `chosen` is the side picked."""
    _, _, key = read_study(study_dir)
    connection = connect(study_dir, read_only=True)
    answers = pd.read_sql_query("SELECT participant, trial, choice, response_ms, shown_ms FROM answers", connection)
    key = pd.DataFrame(key).astype({"trial": int, "duration_ms": int})
    frame = answers.merge(key, on="trial")
    frame["chosen"] = np.where(frame["choice"] == "left", frame["left"], frame["right"])
    frame["other"] = np.where(frame["choice"] == "left", frame["right"], frame["left"])
    return frame


def excluded_participants(frame) -> set:
    """The catch rule: anyone who preferred the damaged image in a catch trial."""
    catch = frame[frame["kind"] == "catch"]
    return set(catch.loc[catch["chosen"] == DAMAGED, "participant"])


def two_way_bootstrap(values, participants, images, rng, resamples: int = BOOTSTRAP) -> tuple[float, float, float]:
    """Mean and 95 % interval of `values`, resampling participants and images independently (the
    answers of one person, or about one photo, are not independent): an answer's weight is the
    product of its participant's and its image's multiplicities in a resample."""
    values = np.asarray(values, float)
    _, person = np.unique(np.asarray(participants), return_inverse=True)
    _, photo = np.unique(np.asarray(images), return_inverse=True)
    mean = float(values.mean()) if values.size else float("nan")
    if values.size < 2:
        return mean, float("nan"), float("nan")
    estimates = []
    for _ in range(resamples):
        weights = (
            np.bincount(rng.integers(0, person.max() + 1, person.max() + 1), minlength=person.max() + 1)[person]
            * np.bincount(rng.integers(0, photo.max() + 1, photo.max() + 1), minlength=photo.max() + 1)[photo]
        )
        if weights.sum():
            estimates.append(np.sum(weights * values) / weights.sum())
    low, high = np.quantile(estimates, [0.025, 0.975])
    return mean, float(low), float(high)


def tally(study_dir, seed: int = 0) -> pd.DataFrame:
    """Preference rates with 95 % intervals: per method pair (rate of the first method) or, in the
    limited design, per method and shown duration (rate of preferring the truth); overall, per
    category (N, B) and per cell (category and bin)."""
    study, _, _ = read_study(study_dir)
    frame = answers_frame(study_dir)
    dropped = excluded_participants(frame)
    frame = frame[(frame["kind"] != "catch") & ~frame["participant"].isin(dropped)]
    rng, rows = np.random.default_rng(seed), []
    groups = []
    if study["design"] == "unlimited":
        for a, b in combinations(study["methods"], 2):
            part = frame[frame["left"].isin([a, b]) & frame["right"].isin([a, b])]
            groups.append((f"{a} over {b}", None, part, part["chosen"] == a))
    else:
        for method in study["methods"]:
            for duration in study["times"]:
                part = frame[
                    (frame["left"].isin([method]) | frame["right"].isin([method])) & (frame["duration_ms"] == duration)
                ]
                groups.append((f"truth over {method}", duration, part, part["chosen"] == TRUTH))
    for label, duration, part, wins in groups:
        for category, bin_ in [("all", "all"), ("N", "all"), ("B", "all"), *_cells(part)]:
            selected = part["category"].isin(["N", "B"] if category == "all" else [category])
            selected &= (part["bin"] == bin_) if bin_ != "all" else True
            if not selected.any():
                continue
            people, photos = part.loc[selected, "participant"], part.loc[selected, "image"]
            mean, low, high = two_way_bootstrap(wins[selected], people, photos, rng)
            counts = dict(answers=int(selected.sum()), participants=people.nunique(), excluded=len(dropped))
            keys = dict(comparison=label, duration_ms=duration, category=category, bin=bin_)
            rows.append(keys | dict(rate=mean, low=low, high=high) | counts)
    columns = [
        "comparison",
        "duration_ms",
        "category",
        "bin",
        "rate",
        "low",
        "high",
        "answers",
        "participants",
        "excluded",
    ]
    return pd.DataFrame(rows, columns=columns)


def _cells(part) -> list[tuple[str, str]]:
    """The (category, bin) cells the answers cover, in order."""
    return sorted(set(zip(part["category"], part["bin"])), key=lambda cell: (cell[1], cell[0]))


def rendered_tally(table: pd.DataFrame) -> Table:
    """The tally as a table of typed rows: comparison (with its duration and bin), category, the
    preference rate with its interval (two-way bootstrap) and the answers it is computed from."""
    rendered = Table(
        ["comparison", "category"],
        ["preference rate", "answers"],
        caption="Preference rate [95 % interval, bootstrap over participants and photos].",
    )
    for _, r in table.iterrows():
        label = r["comparison"] + (f" ({r['duration_ms']:.0f} ms)" if pd.notna(r["duration_ms"]) else "")
        label += "" if r["bin"] == "all" else f", bin {r['bin']}"
        rendered.rows.append([label, r["category"], Number(r["rate"], 3, r["low"], r["high"]), Number(r["answers"], 0)])
    return rendered


def write_tally(study_dir, out_dir) -> list[Path]:
    """tally.csv (every count of the tally), tally.tex, tally.md and the Fig. 9-style plot."""
    table = tally(study_dir)
    if table.empty:
        raise UserError(f"no answers in {study_dir} yet")
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "tally.csv", table.to_csv(index=False))
    rendered = rendered_tally(table)
    write_text_atomic(out_dir / "tally.tex", to_latex(rendered))
    write_text_atomic(out_dir / "tally.md", to_markdown(rendered))
    save_figure(tally_figure(table), out_dir / "fig9.png", dpi=110)
    return [out_dir / name for name in ("tally.csv", "tally.tex", "tally.md", "fig9.png")]


def tally_figure(table: pd.DataFrame):
    """Fig. 9's bars: each comparison's rate (with its interval) for N and for B, over every bin,
    beside the 0.5 of no preference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.8))
    part = table[(table["category"] != "all") & (table["bin"] == "all")]
    labels = [
        f"{r['comparison']}"
        + (f"\n{r['duration_ms']:.0f} ms" if pd.notna(r["duration_ms"]) else "")
        + f" {r['category']}"
        for _, r in part.iterrows()
    ]
    errors = np.nan_to_num(np.vstack([part["rate"] - part["low"], part["high"] - part["rate"]]))
    axis.bar(
        range(len(part)),
        part["rate"],
        yerr=errors,
        capsize=3,
        color=["tab:blue" if c == "N" else "tab:orange" for c in part["category"]],
    )
    axis.axhline(0.5, color="grey", linewidth=0.8)
    axis.set_xticks(range(len(part)), [plot_label(t) for t in labels], rotation=60, ha="right", fontsize=7)
    axis.set_ylabel("preference rate")
    axis.set_ylim(0, 1)
    figure.tight_layout()
    return figure
