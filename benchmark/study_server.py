"""The study's web application (the optional extra `pconvkit[study]`): Flask, chosen because the
study is a handful of synchronous requests around one SQLite file, which Flask serves with its
threaded server and no event loop to manage; behind a real deployment run it under a WSGI server
such as waitress or gunicorn (`create_app(STUDY)` is the WSGI application).

Pages: / (instructions, start), /trial (one trial at a time: click or the arrow keys; in the
limited design the pair is shown for its duration, timed by the browser's frame clock, then
hidden), /done (completion code), /admin?key=ADMIN_KEY (progress; the key is printed by `study
serve`). A browser gets one participant id per session (a signed cookie), however often it presses
Start; `max_participants` caps the sessions. The server refuses an answer to a trial it did not
offer the participant, a second answer to a trial, a body over MAX_BODY bytes and any field of the
wrong type or out of range (400, nothing stored).
"""

import html
import math
import random
import threading
import time
import uuid
from pathlib import Path

from pconvkit.benchmark.study import (
    CATCH_PER_SESSION,
    completion_code,
    connect,
    keyed_name,
    read_secret,
    read_study,
)
from pconvkit.errors import require_extra

MAX_BODY = 64 * 1024  # an answer is under 1 KB; frames of a 4 s pair at 240 Hz under 10 KB
MAX_MS = 3_600_000.0  # an hour: no trial is answered later than that


def _duration(value) -> bool:
    """A JSON number (not a boolean), finite, from 0 to an hour (in ms)."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and math.isfinite(value) and 0 <= value <= MAX_MS


class StudySessions:
    """What the server knows of a study, apart from HTTP: its participants, the trials each is
    offered (drawn once, the first time, from the trials with the fewest answers), and the answers,
    all in the study's SQLite database. One connection, used under a lock: the rows an insert
    changed are counted on the connection, so two threads' inserts must not interleave."""

    def __init__(self, study_dir, max_participants: int | None = None):
        self.study, trials, key = read_study(study_dir)
        self.secret = read_secret(study_dir)
        self.by_id = {int(t["trial"]): t for t in trials}
        self.files = {}  # public name -> the file it shows
        for trial, sides in zip(trials, key):
            self.files.update({trial["left"]: sides["left_file"], trial["right"]: sides["right_file"]})
        self.catch = [int(k["trial"]) for k in key if k["kind"] == "catch"]
        self.regular = [int(k["trial"]) for k in key if k["kind"] != "catch"]
        self.connection = connect(study_dir)
        self.max_participants = max_participants
        self.lock = threading.RLock()

    def is_participant(self, participant) -> bool:
        if not isinstance(participant, str) or len(participant) > 64:
            return False
        with self.lock:
            return (
                self.connection.execute("SELECT 1 FROM participants WHERE id=?", (participant,)).fetchone() is not None
            )

    def new_participant(self) -> str | None:
        """A new participant id, or None when the study has all the participants it may have."""
        with self.lock:
            people = self.connection.execute("SELECT COUNT(*) FROM participants WHERE source='web'").fetchone()[0]
            if self.max_participants is not None and people >= self.max_participants:
                return None
            participant = uuid.uuid4().hex
            self.connection.execute("INSERT INTO participants VALUES (?, ?, 'web')", (participant, time.time()))
            return participant

    def offered(self, participant: str) -> list[int]:
        """The participant's trials in the order offered; the first time, a session is drawn from the
        regular trials with the fewest answers (up to `repeats` each) and the catch trials mixed in."""
        with self.lock:
            rows = self.connection.execute(
                "SELECT trial FROM offered WHERE participant=? ORDER BY position", (participant,)
            ).fetchall()
            if rows:
                return [t for (t,) in rows]
            counts = dict(self.connection.execute("SELECT trial, COUNT(*) FROM answers GROUP BY trial").fetchall())
            order = random.Random(participant).sample(self.regular, len(self.regular))
            order = [t for t in order if counts.get(t, 0) < self.study["repeats"]] or order
            session = sorted(order, key=lambda t: counts.get(t, 0))[: self.study["session_trials"]]
            chosen = random.Random(participant + "/catch").sample(self.catch, min(CATCH_PER_SESSION, len(self.catch)))
            for position, trial in enumerate(chosen):
                session.insert(random.Random(f"{participant}/{position}").randrange(len(session) + 1), trial)
            self.connection.executemany(
                "INSERT OR IGNORE INTO offered VALUES (?, ?, ?)", [(participant, t, i) for i, t in enumerate(session)]
            )
            return session

    def pending(self, participant: str) -> tuple[list[int], int]:
        """(the trials still to answer, in order; how many were offered)."""
        with self.lock:
            offered = self.offered(participant)
            rows = self.connection.execute("SELECT trial FROM answers WHERE participant=?", (participant,))
            answered = {trial for (trial,) in rows}
        return [t for t in offered if t not in answered], len(offered)

    def trial_view(self, trial: int) -> dict:
        entry = self.by_id[trial]
        return dict(
            trial=trial,
            left=f"/images/{entry['left']}",
            right=f"/images/{entry['right']}",
            duration_ms=int(entry["duration_ms"]),
        )

    def record(self, data) -> tuple[dict, int]:
        """Store one answer (the JSON body of /api/answer); (reply, HTTP status). Every field is checked
        by type and range before anything is stored."""
        if not isinstance(data, dict):
            return dict(error="malformed answer: not a JSON object"), 400
        participant, trial, choice = data.get("p"), data.get("trial"), data.get("choice")
        response_ms, shown_ms, frames = data.get("response_ms"), data.get("shown_ms", 0), data.get("frames", [])
        if not isinstance(trial, int) or isinstance(trial, bool) or trial not in self.by_id:
            return dict(error="malformed answer: trial is not a trial of this study"), 400
        if choice not in ("left", "right"):
            return dict(error="malformed answer: choice is left or right"), 400
        if not _duration(response_ms) or not _duration(shown_ms):
            return dict(error="malformed answer: response_ms and shown_ms are times from 0 to an hour"), 400
        if not isinstance(frames, list) or not all(_duration(f) for f in frames):
            return dict(error="malformed answer: frames is a list of times from 0 to an hour"), 400
        if not self.is_participant(participant):
            return dict(error="unknown participant"), 404
        with self.lock:
            if not self.connection.execute(
                "SELECT 1 FROM offered WHERE participant=? AND trial=?", (participant, trial)
            ).fetchone():
                return dict(error="this trial was not offered to this participant"), 409
            inserted = self.connection.execute(
                "INSERT OR IGNORE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)",
                (participant, trial, choice, response_ms, shown_ms, ",".join(f"{f:.3f}" for f in frames), time.time()),
            ).rowcount
            if not inserted:
                (stored,) = self.connection.execute(
                    "SELECT choice FROM answers WHERE participant=? AND trial=?", (participant, trial)
                ).fetchone()
                return dict(error="this trial was already answered", stored=stored), 409
        return dict(ok=True, stored=choice), 200

    def admin_key(self) -> str:
        return keyed_name(self.secret, "admin")

    def progress(self) -> str:
        """The admin page's body: answers against the plan, catch answers, participants."""
        with self.lock:
            people = self.connection.execute("SELECT COUNT(*) FROM participants").fetchone()[0]
            by_trial = dict(self.connection.execute("SELECT trial, COUNT(*) FROM answers GROUP BY trial").fetchall())
            rows = self.connection.execute("SELECT participant, COUNT(*) FROM answers GROUP BY participant").fetchall()
        answers = sum(n for t, n in by_trial.items() if t not in self.catch)
        catch_answers = sum(n for t, n in by_trial.items() if t in self.catch)
        target = len(self.regular) * self.study["repeats"]
        table = "".join(f"<tr><td>{html.escape(str(p)[:12])}</td><td>{int(n)}</td></tr>" for p, n in rows)
        cap = "" if self.max_participants is None else f" (at most {self.max_participants} web sessions)"
        return (
            f"<h1>Study progress</h1><p id='progress'>{answers} answers of {target} "
            f"planned ({len(self.regular)} trials x {int(self.study['repeats'])}), {catch_answers} catch answers, "
            f"{people} participants{cap}</p>"
            f"<table><tr><th>participant</th><th>answers</th></tr>{table}</table>"
        )


def create_app(study_dir, max_participants: int | None = None):
    """The WSGI application: the study's routes over its StudySessions."""
    require_extra("the study server", "study", "flask")
    from flask import Flask, abort, jsonify, redirect, request, send_from_directory, session

    study_dir = Path(study_dir)
    sessions = StudySessions(study_dir, max_participants)
    study = sessions.study
    app = Flask(__name__)
    app.secret_key = keyed_name(sessions.secret, "browser-session", 64)  # signs the participant cookie
    app.config.update(MAX_CONTENT_LENGTH=MAX_BODY, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.admin_key = sessions.admin_key()

    def participant_or_404():
        participant = request.values.get("p", "")
        if not sessions.is_participant(participant):
            abort(404, "unknown participant")
        return participant

    @app.get("/")
    def instructions():
        return PAGE.replace(
            "{body}", INSTRUCTIONS.replace("{limited}", LIMITED_NOTE if study["design"] == "limited" else "")
        )

    @app.post("/start")
    def start():
        participant = session.get("participant")
        if not sessions.is_participant(participant):  # one id per browser session, however often Start is pressed
            participant = sessions.new_participant()
            if participant is None:
                return PAGE.replace("{body}", FULL), 403
            session["participant"] = participant
        return redirect(f"/trial?p={participant}", code=303)

    @app.get("/trial")
    def trial_page():
        participant_or_404()
        return PAGE.replace("{body}", TRIAL)

    @app.get("/api/session")
    def api_session():
        """Every trial the participant has still to answer, in order, so the page can preload them all."""
        pending, total = sessions.pending(participant_or_404())
        return jsonify(trials=[sessions.trial_view(t) for t in pending], total=total)

    @app.get("/api/next")
    def api_next():
        participant = participant_or_404()
        pending, total = sessions.pending(participant)
        if not pending:
            return jsonify(done=True, code=completion_code(sessions.secret, participant))
        return jsonify(done=False, **sessions.trial_view(pending[0]), remaining=len(pending), total=total)

    @app.post("/api/answer")
    def api_answer():
        reply, status = sessions.record(request.get_json(silent=True))
        return jsonify(reply), status

    @app.errorhandler(413)
    def too_large(_):
        return jsonify(error=f"malformed answer: a body is at most {MAX_BODY} bytes"), 413

    @app.get("/done")
    def done():
        participant = participant_or_404()
        if sessions.pending(participant)[0]:
            return redirect(f"/trial?p={participant}")
        code = completion_code(sessions.secret, participant)
        return PAGE.replace("{body}", f"<h1>Thank you</h1><p>Your completion code: <b id='code'>{code}</b></p>")

    @app.get("/admin")
    def admin():
        if request.args.get("key", "") != app.admin_key:
            abort(404)
        return PAGE.replace("{body}", sessions.progress())

    @app.get("/images/<name>")
    def image(name):
        if name not in sessions.files:
            abort(404)
        return send_from_directory(study_dir / "images", sessions.files[name], max_age=3600)

    return app


def serve(study_dir, host: str = "127.0.0.1", port: int = 8000, max_participants: int | None = None, log=print):
    """Run the study's server until interrupted (Flask's threaded server)."""
    app = create_app(study_dir, max_participants)
    log(f"participants: http://{host}:{port}/   progress: http://{host}:{port}/admin?key={app.admin_key}")
    app.run(host=host, port=port, threaded=True)


FULL = "<h1>This study is full</h1><p>It has all the participants it needs. Thank you for your interest.</p>"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Image study</title><style>
body{font-family:sans-serif;margin:2em;text-align:center} .pair{display:flex;gap:16px;justify-content:center}
.pair img{width:45vw;max-width:512px;cursor:pointer;border:2px solid #ddd} #blank{height:40vh}
button{font-size:1.2em;padding:.5em 2em}</style></head><body>{body}</body></html>"""

INSTRUCTIONS = """<h1>Which image is more realistic?</h1>
<p>You will see two images side by side. Pick the one that looks more real: click it, or press the
left or right arrow key. There is no right answer to look for in one spot; judge the whole image.</p>
{limited}<form method="post" action="/start"><button id="start" type="submit">Start</button></form>"""

LIMITED_NOTE = "<p>Each pair is shown only briefly, then hidden: answer from what you saw.</p>"

TRIAL = """<p id="status"></p><div class="pair" id="pair" style="visibility:hidden">
<img id="left" alt="left image"><img id="right" alt="right image"></div>
<p><button id="choose-left">&larr; Left</button> <button id="choose-right">Right &rarr;</button></p>
<script>
const participant = new URLSearchParams(location.search).get("p");
let queue = [], index = 0, total = 0, current = null, shownAt = 0, frames = [], shownMs = 0, clickedAt = null;
const sent = [], latencies = [];  // click-to-next-pair times, for the record
const pair = document.getElementById("pair"), left = document.getElementById("left"),
      right = document.getElementById("right"), status = document.getElementById("status");
async function load(src) { const image = new Image(); image.src = src; await image.decode(); return image; }
async function begin() {
  const reply = await (await fetch("/api/session?p=" + participant)).json();
  queue = reply.trials; total = reply.total;
  await Promise.all(queue.flatMap(t => [load(t.left), load(t.right)]));  // every image preloaded and decoded
  present();
}
function present() {
  if (index >= queue.length) { Promise.all(sent).then(() => { location.href = "/done?p=" + participant; }); return; }
  current = queue[index++]; left.src = current.left; right.src = current.right; frames = []; shownMs = 0;
  status.textContent = (total - queue.length + index) + " / " + total;
  requestAnimationFrame(show);
}
function show(t) {  // the browser's frame clock times what is on screen
  if (frames.length === 0) {
    pair.style.visibility = "visible"; shownAt = t;
    if (clickedAt !== null) { latencies.push(t - clickedAt); document.body.dataset.latency = latencies.join(","); }
  }
  frames.push(t);
  if (current.duration_ms > 0) {
    const half = frames.length > 1 ? (t - frames[frames.length - 2]) / 2 : 8;
    if (t - shownAt >= current.duration_ms - half) {
      pair.style.visibility = "hidden"; shownMs = t - shownAt; document.body.dataset.hidden = current.trial; return;
    }
    requestAnimationFrame(show);
  }
  document.body.dataset.shown = current.trial;
}
function answer(choice) {
  if (!current || frames.length === 0) return;
  clickedAt = performance.now();
  const body = {p: participant, trial: current.trial, choice: choice, response_ms: clickedAt - shownAt,
                shown_ms: current.duration_ms > 0 ? shownMs : clickedAt - shownAt,
                frames: frames.map(f => f - shownAt)};
  sent.push(fetch("/api/answer", {method: "POST", headers: {"Content-Type": "application/json"},
                                  body: JSON.stringify(body)}));  // the next pair does not wait for the server
  pair.style.visibility = "hidden"; current = null;
  present();
}
left.onclick = () => answer("left"); right.onclick = () => answer("right");
document.getElementById("choose-left").onclick = () => answer("left");
document.getElementById("choose-right").onclick = () => answer("right");
document.onkeydown = e => { if (e.key === "ArrowLeft") answer("left"); if (e.key === "ArrowRight") answer("right"); };
begin();
</script>"""
