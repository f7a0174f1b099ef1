"""The study tried as a hostile participant or a careless admin would: names and codes that cannot
be worked out, one participant per browser, bodies and fields of every wrong kind, a thousand answers
at once, damaged and read-only files, and an MTurk batch with one bad row."""

import hashlib
import json
import os
import random
import sqlite3
import threading
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from helpers import STUDY_METHODS, Server, make_study

from pconvkit.benchmark.study import SECRET_FILE, answers_frame, connect, read_study, tally
from pconvkit.cli import benchmark

pytest.importorskip("flask")
pytest.importorskip("matplotlib")


@pytest.fixture
def study(run, tmp_path):
    return make_study(run, tmp_path / "study", per_method=8)


def _client(study, **options):
    from pconvkit.benchmark.study_server import create_app

    return create_app(study, **options).test_client()


def _participant(client) -> str:
    reply = client.post("/start")
    assert reply.status_code == 303, reply.status_code
    return reply.headers["Location"].split("p=")[1]


def test_no_public_value_names_an_image_or_a_code(study):
    """The old names were sha256('SEED/KIND/MASKID'): nothing a participant can know gives a name."""
    _, trials, key = read_study(study)
    public = {t["left"] for t in trials} | {t["right"] for t in trials}
    guesses = {
        hashlib.sha256(f"{seed}/{kind}/{k['mask']}".encode()).hexdigest()[:16] + ".png"
        for seed in range(3)
        for k in key
        for kind in (*STUDY_METHODS, "truth", "damaged")
    }
    assert not public & guesses
    # a side's name is drawn per trial: the truth, shown in many trials, never shows one name twice
    assert len(public) == 2 * len(trials)
    assert (study / SECRET_FILE).stat().st_mode & 0o077 == 0  # the secret is private
    client = _client(study)
    participant = _participant(client)
    code = None
    for _ in range(40):
        reply = client.get(f"/api/next?p={participant}").get_json()
        if reply["done"]:
            code = reply["code"]
            break
        client.post("/api/answer", json=dict(p=participant, trial=reply["trial"], choice="left", response_ms=500))
    assert code and code != hashlib.sha256(f"0/{participant}/done".encode()).hexdigest()[:10].upper()


def test_a_browser_is_one_participant_and_the_admin_caps_the_sessions(study):
    browser = _client(study, max_participants=3)
    first = _participant(browser)
    assert all(_participant(browser) == first for _ in range(5))  # pressing Start again: the same person
    others = [_participant(_client(study, max_participants=3)) for _ in range(2)]
    assert len({first, *others}) == 3
    full = _client(study, max_participants=3).post("/start")
    assert full.status_code == 403 and "full" in full.get_data(as_text=True)
    assert connect(study).execute("SELECT COUNT(*) FROM participants").fetchone()[0] == 3


def test_the_admin_page_needs_its_key_and_escapes_what_it_prints(study):
    client = _client(study)
    assert client.get("/admin").status_code == 404 and client.get("/admin?key=0").status_code == 404
    connection = connect(study)
    evil = "<script>alert(1)</script>"
    connection.execute("INSERT INTO participants VALUES (?, 0, 'mturk')", (evil,))
    connection.execute("INSERT INTO answers VALUES (?, 1, 'left', NULL, NULL, NULL, 0)", (evil,))
    page = client.get(f"/admin?key={client.application.admin_key}").get_data(as_text=True)
    assert "<script>" not in page and "&lt;script&gt;" in page


BAD_FIELDS = [
    dict(trial=[1]),
    dict(trial="1"),
    dict(trial=41.9),
    dict(trial=True),
    dict(trial=2**70),
    dict(choice=["left"]),
    dict(choice=None),
    dict(response_ms="500"),
    dict(response_ms=True),
    dict(response_ms=float("inf")),
    dict(response_ms=-1),
    dict(response_ms=2**70),
    dict(shown_ms=float("nan")),
    dict(frames="0,16"),
    dict(frames=[0, "16"]),
    dict(frames=[0, None]),
    dict(frames={"0": 1}),
    dict(frames=[0, -3]),
    dict(p=["x"]),
    dict(p=12),
]


@pytest.mark.parametrize("bad", BAD_FIELDS, ids=lambda b: f"{next(iter(b))}={next(iter(b.values()))!r}"[:40])
def test_a_field_of_the_wrong_type_or_range_is_refused_and_nothing_stored(study, bad):
    client = _client(study)
    participant = _participant(client)
    trial = client.get(f"/api/next?p={participant}").get_json()["trial"]
    answer = dict(p=participant, trial=trial, choice="left", response_ms=500.0, shown_ms=0, frames=[0]) | bad
    body = json.dumps(answer, allow_nan=True)
    reply = client.post("/api/answer", data=body, content_type="application/json")
    assert reply.status_code in (400, 404) and "error" in reply.get_json()
    assert connect(study).execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


@pytest.mark.parametrize(
    "body",
    ["[1, 2]", '"left"', "1e400", "null", "{", '{"trial": 1e400}', "x" * 70_000],
    ids=["list", "string", "1e400", "null", "cut", "huge-number", "70-KB"],
)
def test_a_body_that_is_not_an_answer_is_refused(study, body):
    client = _client(study)
    _participant(client)
    reply = client.post("/api/answer", data=body, content_type="application/json")
    assert reply.status_code in (400, 413) and "error" in reply.get_json()
    assert connect(study).execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


def test_a_thousand_answers_at_once_are_each_acknowledged_exactly_once(run, tmp_path):
    """20 participants x 50 answers over loopback HTTP, in a shuffled order from 20 threads: every
    trial offered is answered twice (left and right), and some never offered are tried."""
    study = make_study(run, tmp_path / "study", per_method=20)
    with Server(study) as server:
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

        def call(path, body=None):
            request = urllib.request.Request(server.url + path, data=body, method="POST" if body is not None else "GET")
            request.add_header("Content-Type", "application/json")
            try:
                with urllib.request.urlopen(request, timeout=30) as reply:
                    return reply.status, json.loads(reply.read() or b"null")
            except urllib.error.HTTPError as err:
                return err.code, json.loads(err.read() or b"null")

        people = []
        for _ in range(20):
            with opener.open(urllib.request.Request(server.url + "/start", data=b"", method="POST")) as reply:
                people.append(reply.url.split("p=")[1])
            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())  # the next browser
        all_trials = [int(t["trial"]) for t in read_study(study)[1]]
        requests = []
        for person in people:
            offered = [t["trial"] for t in call(f"/api/session?p={person}")[1]["trials"]]
            never = [t for t in all_trials if t not in offered][: 50 - 2 * len(offered)]
            for trial in offered:
                requests += [(person, trial, "left"), (person, trial, "right")]
            requests += [(person, trial, "left") for trial in never]
        assert len(requests) == 1000
        random.Random(0).shuffle(requests)
        replies, lock = [], threading.Lock()

        def send(chunk):
            for person, trial, choice in chunk:
                body = json.dumps(dict(p=person, trial=trial, choice=choice, response_ms=400.0)).encode()
                status, reply = call("/api/answer", body)
                with lock:
                    replies.append((person, trial, choice, status, reply))

        threads = [threading.Thread(target=send, args=(requests[i::20],)) for i in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    stored = {(p, t): c for p, t, c in connect(study).execute("SELECT participant, trial, choice FROM answers")}
    acknowledged = {}
    for person, trial, choice, status, reply in replies:
        if status == 200:
            assert (person, trial) not in acknowledged  # once
            acknowledged[person, trial] = choice
        elif status == 409 and "stored" in reply:
            assert reply["stored"] == stored[person, trial]  # the reply says what was stored
    assert acknowledged == stored and len(stored) == 20 * 22


def test_damaged_study_files_and_databases_end_in_one_line(run, tmp_path):
    from pconvkit.benchmark.study_server import create_app
    from pconvkit.errors import UserError

    cases = {
        "answers.sqlite a folder": lambda s: (s / "answers.sqlite").mkdir(),
        "answers.sqlite garbage": lambda s: (s / "answers.sqlite").write_bytes(b"not a database" * 100),
        "study.json cut": lambda s: (s / "study.json").write_text((s / "study.json").read_text()[:20]),
        "study.json a list": lambda s: (s / "study.json").write_text("[]"),
        "key.csv gone": lambda s: (s / "key.csv").unlink(),
        "secret gone": lambda s: (s / SECRET_FILE).unlink(),
        "secret damaged": lambda s: (s / SECRET_FILE).write_text("zz"),
    }
    for index, (case, damage) in enumerate(cases.items()):
        study = make_study(run, tmp_path / f"s{index}", per_method=4)
        damage(study)
        with pytest.raises(UserError) as error:
            create_app(study)
        assert "\n" not in str(error.value), case
        result = CliRunner().invoke(benchmark, ["study", "serve", str(study), "--port", "1"])
        assert result.exit_code == 1 and result.output.startswith("Error:") and result.output.count("\n") == 1, case


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files")
def test_a_read_only_database_is_refused_when_the_server_starts(study):
    from pconvkit.benchmark.study_server import create_app
    from pconvkit.errors import UserError

    connect(study).close()
    (study / "answers.sqlite").chmod(0o444)
    with pytest.raises(UserError, match="answers database"):
        create_app(study)


def test_the_tally_reads_a_database_it_may_not_write(study, tmp_path):
    client = _client(study)
    participant = _participant(client)
    sides = {int(k["trial"]): k for k in read_study(study)[2]}
    for _ in range(5):  # the truth in a catch trial, so that the participant is not excluded
        trial = client.get(f"/api/next?p={participant}").get_json()["trial"]
        choice = "right" if sides[trial]["right"] == "truth" else "left"
        client.post("/api/answer", json=dict(p=participant, trial=trial, choice=choice, response_ms=500))
    before = len(answers_frame(study))
    uri = f"file:{study / 'answers.sqlite'}?mode=ro"
    sqlite3.connect(uri, uri=True).execute("SELECT 1").fetchone()
    read_only = tmp_path / "copy"
    read_only.mkdir()
    for name in os.listdir(study):
        if name != "images":
            (read_only / name).write_bytes((study / name).read_bytes())
    # a read-only file system, as a mounted archive is: the database is opened immutable
    connect(read_only).execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for name in os.listdir(read_only):
        (read_only / name).chmod(0o444)
    read_only.chmod(0o555)
    try:
        assert len(answers_frame(read_only)) == before == 5
        assert not tally(read_only).empty
    finally:
        read_only.chmod(0o755)


def test_the_answers_database_gets_the_file_mode_of_every_other_file(study):
    old = os.umask(0o002)
    try:
        connect(study).close()
    finally:
        os.umask(old)
    assert (study / "answers.sqlite").stat().st_mode & 0o777 == 0o664


def test_an_mturk_batch_with_one_bad_row_imports_nothing(study, tmp_path):
    _, trials, _ = read_study(study)
    good = [f"A{i},{trials[i]['trial']},left" for i in range(5)]
    for bad in ("A9,x,left", "A9,3.5,left", "A9,99999,left", "A9,1,middle", ",1,left", "A9,,left"):
        batch = tmp_path / "batch.csv"
        batch.write_text("WorkerId,Input.trial,Answer.choice\n" + "\n".join(good[:3] + [bad] + good[3:]) + "\n")
        result = CliRunner().invoke(benchmark, ["study", "import", str(study), str(batch)])
        assert result.exit_code == 1 and result.output.startswith("Error:") and result.output.count("\n") == 1, bad
        assert "line 5" in result.output and len(answers_frame(study)) == 0, bad
    batch.write_text("WorkerId,Input.trial,Answer.choice\n" + "\n".join(good) + "\n")
    result = CliRunner().invoke(benchmark, ["study", "import", str(study), str(batch)])
    assert result.exit_code == 0 and "5 answers added" in result.output


def test_the_mturk_bundle_holds_no_secret_and_no_study_file_name(study, tmp_path):
    result = CliRunner().invoke(
        benchmark, ["study", "export", str(study), "--out", str(tmp_path / "hit"), "--base-url", "https://x.org/s"]
    )
    assert result.exit_code == 0, result.output
    secret = (study / SECRET_FILE).read_text().strip()
    files = {p.name for p in (tmp_path / "hit").rglob("*") if p.is_file()}
    assert SECRET_FILE not in files and not files & {p.name for p in (study / "images").iterdir()}
    text = "".join(p.read_text() for p in (tmp_path / "hit").glob("*.*") if p.suffix in (".csv", ".html"))
    assert secret not in text
    _, trials, _ = read_study(study)
    assert {p for p in files if p.endswith(".png")} == {t["left"] for t in trials} | {t["right"] for t in trials}


def test_an_export_into_a_folder_of_another_studys_files_is_refused(study, run, tmp_path):
    from helpers import one_error_line

    export = ["study", "export", str(study), "--out", str(tmp_path / "hit"), "--base-url", "https://x.org/s"]
    assert CliRunner().invoke(benchmark, export).exit_code == 0
    assert CliRunner().invoke(benchmark, export).exit_code == 0  # the same export again
    other = make_study(run, tmp_path / "other", per_method=8)
    before = sorted(p.name for p in (tmp_path / "hit").rglob("*"))
    line = one_error_line(CliRunner().invoke(benchmark, ["study", "export", str(other), *export[3:]]))
    assert "holds no export of this study" in line
    assert sorted(p.name for p in (tmp_path / "hit").rglob("*")) == before
