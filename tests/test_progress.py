"""The progress bar: trials done / target, best so far, elapsed and ETA; silent off a TTY."""

from __future__ import annotations

import fcntl
import io
import logging
import os
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.claims import Claimed, Outcome
from hpotrack.limits import Stops
from hpotrack.progress import ProgressBar, bar_total
from hpotrack.records import TrialState

ROOT = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def rendered(text: str) -> list[str]:
    """The lines a terminal shows for ``text``: ``\\r`` goes back to the line's start,
    what follows writes over it, and ``ESC[K`` erases the rest of the line."""
    lines: list[str] = []
    line: list[str] = []
    column = 0
    for token in re.findall(r"\x1b\[K|.|\n", text, flags=re.DOTALL):
        if token == "\r":
            column = 0
        elif token == "\n":
            lines.append("".join(line).rstrip())
            line, column = [], 0
        elif token == "\x1b[K":
            del line[column:]
        else:
            line[column : column + 1] = [token]
            column += 1
    return [*lines, "".join(line).rstrip()] if line else lines


def run_on_a_terminal(args: list[str], columns: int = 200) -> str:
    """What ``python args`` writes on a pseudo-terminal ``columns`` wide (its stdin,
    stdout and stderr, as in a terminal window), once it and its workers exited."""
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, *args], stdin=follower, stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: every process holding the terminal exited
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(timeout=120) == 0, b"".join(chunks).decode()
    return b"".join(chunks).decode()


def study_with_trials(db: Path, n: int) -> hp.Study:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    return train.optimize(n_trials=n, progress=False)


def test_the_bar_shows_done_target_best_elapsed_and_eta(db: Path) -> None:
    study = study_with_trials(db, 4)
    stream = Terminal()
    with ProgressBar(study, 10, stream=stream) as bar:
        bar.update()
    text = stream.getvalue()
    assert "4/10" in text and f"best {study.best.value:.6g} (#{study.best.number})" in text
    assert "elapsed 0:0" in text and text.startswith("\r") and text.endswith("\n")


def test_a_shorter_line_covers_the_end_of_the_longer_one_drawn_before(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = study_with_trials(db, 1)
    stream = Terminal()
    lines = iter(["best 0.123456 (#12)  eta 0:07", "best 0.5 (#3)", "done"])
    monkeypatch.setattr(ProgressBar, "line", lambda self, columns=0: next(lines))
    bar = ProgressBar(study, 10, stream=stream)
    bar._draw()
    bar._draw()
    bar.end_line()
    bar._draw()  # a new line: nothing to cover
    drawn = stream.getvalue().split("\r")[1:]
    assert drawn == [
        "best 0.123456 (#12)  eta 0:07",
        "best 0.5 (#3)".ljust(len("best 0.123456 (#12)  eta 0:07")) + "\n",
        "done",
    ]


def test_the_bar_without_a_target_counts_trials(db: Path) -> None:
    study = study_with_trials(db, 3)
    assert "3 trials" in ProgressBar(study, None, enabled=True).line()


def test_with_max_budget_the_bar_fills_with_the_steps_trained(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="b", db=db, seed=0,
             budget=hp.Budget(1, 9, name="epochs"))  # fmt: skip
    def train(x: float) -> float:
        return x

    study = train.optimize(n_trials=3, progress=False)  # 27 epochs
    line = ProgressBar(study, 10, enabled=True, stops=Stops(max_budget=54)).line()
    assert f"[{'#' * 12}{'.' * 12}] 27/54 epochs  3 trials" in line


def test_with_patience_the_bar_counts_the_complete_trials_since_the_best(db: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="p", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        return [0.5, 0.25, 0.75, 0.5][trial.number]

    study = train.optimize(n_trials=4, progress=False)
    line = ProgressBar(study, 10, enabled=True, stops=Stops(patience=5)).line()
    assert "best 0.25 (#1)  patience 2/5  elapsed" in line
    assert "patience" not in ProgressBar(study, 10, enabled=True).line()


def test_with_several_objectives_the_bar_counts_the_front(db: Path) -> None:
    """No best value: the size of the Pareto front, worked out again as trials complete."""
    points = [(1.0, 3.0), (2.0, 2.0), (3.0, 3.0), (0.5, 4.0)]

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="two", db=db, seed=0, objective=("a", "b"),
             direction=("minimize", "minimize"))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        a, b = points[trial.number]
        return {"a": a, "b": b}

    study = train.optimize(n_trials=3, progress=False)
    bar = ProgressBar(study, 10, enabled=True)
    assert "3/10  eta" in bar.line() and "  front 2  elapsed" in bar.line()
    train.optimize(n_trials=4, progress=False)
    assert "  front 3  elapsed" in bar.line() and "best" not in bar.line()


def test_under_constraints_the_bar_shows_the_best_feasible_trial(db: Path) -> None:
    """The best shown is of the trials that meet the constraints, this process's unstored
    ones too; before any does, none ("best -")."""
    points = [(0.1, 5.0), (0.5, 0.0), (0.3, 1.0)]  # (loss, c): c <= 0 holds for #1 only

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="capped", db=db, seed=0, objective="loss",
             constraints=hp.Constraint("c", at_most=0.0))  # fmt: skip
    def train(x: float, trial: hp.Trial) -> dict[str, float]:
        loss, c = points[trial.number]
        return {"loss": loss, "c": c}

    study = train.optimize(n_trials=1, progress=False)
    assert "  best -  elapsed" in ProgressBar(study, 10, enabled=True).line()
    study = train.optimize(n_trials=3, progress=False)
    assert "  best 0.5 (#1)  elapsed" in ProgressBar(study, 10, enabled=True).line()
    done = TrialState.COMPLETE
    unstored = [
        (Claimed(0, 3, {"x": 0.5}, None), Outcome(done, 0.05, {"loss": 0.05, "c": 2.0})),
        (Claimed(0, 4, {"x": 0.5}, None), Outcome(done, 0.4, {"loss": 0.4, "c": -1.0})),
    ]
    line = ProgressBar(study, 10, enabled=True, unstored=unstored).line()
    assert "  best 0.4 (#4)  elapsed" in line


def test_the_bar_is_silent_off_a_terminal_or_when_disabled(db: Path) -> None:
    study = study_with_trials(db, 2)
    for stream, enabled in ((io.StringIO(), None), (Terminal(), False)):
        with ProgressBar(study, 5, stream=stream, enabled=enabled) as bar:
            bar.update()
        assert stream.getvalue() == ""


def six_trials_one_failing(db: Path) -> None:
    """Six trials with the bar on; with seed 0 one fails: a warning while it is drawn."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        if x > 0.9:
            raise ValueError("too large")
        return x

    train.optimize(n_trials=6, progress=True)


def test_log_messages_start_on_their_own_line_and_the_bar_ends_at_the_target(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a terminal the bar and hpotrack's messages share stderr: "target reached" was
    written at the end of the bar's line, and the bar stopped one short (5/6), since the
    last trial's outcome is stored by the next ask."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)  # the bar's and the messages' stream
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's

    six_trials_one_failing(db)
    text = terminal.getvalue()
    lines = rendered(text)
    assert text.count("[hpotrack]") >= 1
    assert sum(line.startswith("[hpotrack]") for line in lines) == text.count("[hpotrack]")
    drawn = [line for line in text.replace("\r", "\n").splitlines() if line.startswith("s  ")]
    assert "6/6" in drawn[-1]


def test_the_stop_reason_comes_below_the_bars_one_line(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stop reason ("target reached") was said while the bar was a redraw behind: its
    line ended a few trials short, the message followed, then the same bar again on a line
    of its own (two bars for one run in a notebook's output)."""
    monkeypatch.setattr(ProgressBar, "REDRAW_S", 3600.0)  # the end is always a draw behind
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=4, progress=True)
    bar, message = terminal.getvalue().rstrip("\n").split("\n")  # not at "\r": the bar's
    assert bar.rpartition("\r")[2].startswith("s  [" + "#" * 24 + "] 4/4"), bar
    assert message == "[hpotrack] study 's' has 4 trials: the target of 4 is reached"


@pytest.mark.parametrize("method", ["grid", "auto"])
def test_a_run_without_n_trials_says_how_many_the_grid_runs_and_the_bar_counts_to_it(
    db: Path, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """optimize() without n_trials on a grid ran every cell with a bar of "N trials" and
    no word of how many: now the count is said once, before the run (a queued trial and
    the cells left; a manual trial covers its cell), and the bar counts to the total."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's

    @hp.tune({"c": ["a", "b", "c", "d"], "n": [1, 2]}, method=method, study="s", db=db, seed=0)
    def train(c: str, n: int) -> float:
        return float(n)

    train(c="a", n=1)
    train.study.enqueue(c="b", n=1)
    train.optimize(progress=True)
    text = terminal.getvalue()
    said = "[hpotrack] study 's': no n_trials given, so it runs until grid is done: 7 more "
    assert text.count(said + "trials (8 in all); pass n_trials to stop sooner\n") == 1
    drawn = [line for line in text.replace("\r", "\n").splitlines() if line.startswith("s  ")]
    assert drawn and all("/8  " in line for line in drawn) and "8/8" in drawn[-1]
    assert len(train.study.trials) == 8


def test_the_bar_total_is_the_target_else_the_methods_end(db: Path) -> None:
    """What both bars (one process's, and the parent's of n_jobs workers) count to; a
    worker process draws none (progress=False) and does not work it out."""

    @hp.tune({"c": ["a", "b", "c"]}, method="grid", study="g", db=db, seed=0)
    def grid(c: str) -> float:
        return 1.0

    study = grid.study
    assert [bar_total(study, None, p) for p in (None, True, False)] == [3, 3, None]
    assert bar_total(study, 2, None) == 2
    assert bar_total(study_with_trials(db, 1), None, True) is None  # auto (tpe): no end


@pytest.mark.parametrize("to_the_terminal", [True, False], ids=["terminal", "file"])
def test_the_bar_ends_its_line_before_a_message_the_applications_handler_prints(
    db: Path, monkeypatch: pytest.MonkeyPatch, to_the_terminal: bool
) -> None:
    """Only hpotrack's own handler ended the bar's line: with ``logging.basicConfig``
    the message was written at the end of the bar's line. The message takes the bar's
    line, and the bar is drawn below it. A message going to a file leaves the bar on
    its line."""
    terminal, elsewhere = Terminal(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = logging.StreamHandler(terminal if to_the_terminal else elsewhere)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])  # basicConfig's

    six_trials_one_failing(db)
    text = terminal.getvalue()
    messages = (text if to_the_terminal else elsewhere.getvalue()).count("WARNING ")
    assert messages >= 1
    if to_the_terminal:
        lines = rendered(text)
        assert sum(line.startswith("WARNING ") for line in lines) == messages, lines
        assert lines[-2].startswith("s  [" + "#" * 24 + "] 6/6  best "), lines
    else:
        assert text.count("\n") == 1 and text.endswith("\n"), text  # the bar's one line


def test_a_trial_a_retry_replaced_is_not_counted_done_twice(db: Path) -> None:
    """Ctrl-C stores the running trial as interrupted and queues its retry, which
    replaces it in the count: the bar of the run that continues read 4/4 before it ran
    anything left and ended at 5/4."""
    interrupt = [True]

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        if interrupt.pop() if interrupt else False:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=4, progress=False)
    study = train.study
    assert [t.state.value for t in study.trials] == ["failed", "queued"]
    assert "0/4" in ProgressBar(study, 4, enabled=True).line()
    train.optimize(n_trials=4, progress=False)
    assert "4/4" in ProgressBar(study, 4, enabled=True).line()


def test_quick_updates_are_drawn_at_most_every_redraw_interval_and_the_last_at_the_end(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each draw reads the study and, in a notebook, sends a message to the kernel: a
    thousand quick trials took three times as long with the bar."""
    monkeypatch.setattr(ProgressBar, "REDRAW_S", 3600.0)  # however slow this machine is
    study = study_with_trials(db, 3)
    unstored: list[tuple[Claimed, Outcome]] = []
    ran = (Claimed(0, 3, {"x": 0.5}, None), Outcome(TrialState.COMPLETE, 0.5, {}))
    stream = Terminal()
    with ProgressBar(study, 10, stream=stream, unstored=unstored) as bar:
        for _ in range(50):
            unstored.append(ran)
            bar.update()
        assert stream.getvalue().count("\r") == 1  # the first; the rest came too soon
        unstored.clear()  # the last draw reads the list then, not as it was at an update
    draws = stream.getvalue().split("\r")[1:]
    assert len(draws) == 2 and "4/10" in draws[0] and "3/10" in draws[1]


PRINTING_SCRIPT = """
import sys, warnings
import hpotrack as hp

@hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=sys.argv[1], seed=0)
def train(x):
    print(f"trial says x={x:.4f}")
    warnings.warn(f"slow to converge at x={x:.4f}")
    return x

if __name__ == "__main__":
    train.optimize(n_trials=4, n_jobs=int(sys.argv[2]))
"""


@pytest.mark.parametrize("jobs", [1, 2])
def test_on_a_terminal_what_trials_print_and_warn_goes_above_the_bar(
    tmp_path: Path, jobs: int
) -> None:
    """A trial's print() and warnings were written at the end of the bar's line ("...
    elapsed 0:00trial says x=..."), the bar being drawn with a carriage return and no
    newline: by the run's process, and by worker processes (n_jobs=2), which write on
    the same terminal. Each now gets lines of its own, and the bar is drawn below."""
    script = tmp_path / "train.py"
    script.write_text(PRINTING_SCRIPT)
    db = tmp_path / "t.db"
    lines = rendered(run_on_a_terminal([str(script), str(db), str(jobs)]))
    values = [f"{t.params['x']:.4f}" for t in hp.load_study("s", db=db).trials]
    assert len(values) == 4
    for value in values:
        assert f"trial says x={value}" in lines, lines
        warned = [line for line in lines if line.endswith(f"slow to converge at x={value}")]
        assert len(warned) == 1 and warned[0].startswith(str(script)), lines
    bars = [line for line in lines if line.startswith("s  [")]
    assert bars and bars[-1].startswith("s  [" + "#" * 24 + "] 4/4  best "), lines


def test_the_bar_fits_the_terminals_width(tmp_path: Path) -> None:
    """A bar wider than the terminal wraps, and each redraw's carriage return went back
    to the start of its last row only: a new row of bar per draw. It has fewer cells
    on a narrow terminal, and is cut on a narrower one."""
    script = tmp_path / "train.py"
    script.write_text(PRINTING_SCRIPT.replace("print(", "len(").replace("warnings.warn(", "len("))
    for columns, shown in (
        (60, "] 4/4  best 0.134364 (#1)  elapsed 0:0"),
        (30, "s  4/4  best 0.134364 (#1)  e"),
    ):
        db = tmp_path / f"{columns}.db"
        lines = rendered(run_on_a_terminal([str(script), str(db), "1"], columns=columns))
        bars = [line for line in lines if line.startswith("s  ")]
        assert bars and all(len(line) < columns for line in bars), lines
        assert shown in bars[-1], lines


def test_a_line_a_trial_left_unfinished_is_ended_before_the_bar(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """print(..., end="") in a trial: the bar, drawn with a carriage return, wrote over
    it. It is ended first; and a message of hpotrack's takes the bar's place, the bar
    drawn again below it (it was left above each message, a copy per message)."""
    terminal = Terminal()  # stdout and stderr in one window
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        print("fitting...", end="")
        return x

    train.optimize(n_trials=2, progress=True)
    hp.load_study("s", db=db)  # a message of hpotrack's after the run: no bar to clear
    lines = rendered(terminal.getvalue())
    assert lines[0] == "fitting..." and lines[1] == "fitting...", lines
    assert lines[2].startswith("s  [" + "#" * 24 + "] 2/2  best "), lines
    assert lines[3] == "[hpotrack] study 's' has 2 trials: the target of 2 is reached"
    assert sys.stdout is terminal and sys.stderr is terminal  # put back


def test_the_eta_waits_for_a_trial_of_the_run_and_counts_from_the_workers_start(
    db: Path,
) -> None:
    """With n_jobs workers the parent draws the bar every half second from the start:
    while the workers started (spawn, importing the script) and ran their first trials,
    the ETA, from a rate of one trial since the bar's start, climbed (0/20 eta 1:10,
    then 1:30). It says "?" until a trial of the run finished, and its rate counts from
    when the first trial of the run was seen started."""
    study = study_with_trials(db, 2)
    bar = ProgressBar(study, 10, enabled=True, workers=True)
    assert "2/10  eta ?  " in bar.line()  # nothing started yet
    study_with_trials(db, 4)  # the workers started and finished two trials
    assert "4/10  eta ?  " in bar.line()  # the rate counts from here
    study_with_trials(db, 6)
    assert re.search(r"6/10  eta \d+:\d\d  ", bar.line())
    in_process = ProgressBar(study, 10, enabled=True)  # before its first trial
    assert "6/10  eta ?  " in in_process.line()
    study_with_trials(db, 7)
    assert re.search(r"7/10  eta \d+:\d\d  ", in_process.line())


def test_the_best_counts_the_trials_this_process_has_not_stored_yet(db: Path) -> None:
    """The last trials' outcomes are stored by the next ask: the bar after the first
    trial said "best -", and a better value showed a trial late."""
    study = study_with_trials(db, 2)
    best = study.best
    unstored = [
        (Claimed(0, 7, {"x": 0.5}, None), Outcome(TrialState.FAILED, None, {})),
        (Claimed(0, 8, {"x": -1.0}, None), Outcome(TrialState.COMPLETE, best.value - 1, {})),
        (Claimed(0, 9, {"x": 0.0}, None), Outcome(TrialState.COMPLETE, best.value - 1, {})),
    ]
    line = ProgressBar(study, 10, enabled=True, unstored=unstored).line()
    assert f"5/10  eta ?  best {best.value - 1:.6g} (#8)" in line
    assert f"best {best.value:.6g} (#{best.number})" in ProgressBar(study, 10, enabled=True).line()


def test_what_a_trial_logs_through_the_applications_handler_goes_above_the_bar(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``logging.basicConfig`` before the run: its handler keeps the stderr of then, so
    a trial's ``log.info(...)`` continued the bar's line. The handler's stream is the
    same again after the run."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = logging.StreamHandler(terminal)
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])  # basicConfig's
    monkeypatch.setattr(logging.getLogger(), "level", logging.INFO)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        logging.getLogger("train").info("fitted x=%.4f", x)
        return x

    train.optimize(n_trials=3, progress=True)
    lines = rendered(terminal.getvalue())
    fitted = [line for line in lines if "fitted" in line]
    assert fitted == [f"fitted x={t.params['x']:.4f}" for t in train.study.trials], lines
    assert lines[-2].startswith("s  [" + "#" * 24 + "] 3/3  best "), lines
    assert handler.stream is terminal


def test_ctrl_c_ends_the_bars_line_and_gives_the_streams_back(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C in a trial: the bar's last line is ended before the message that says what
    became of the study, and sys.stdout, sys.stderr are the script's again."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        print(f"trial {trial.number}")
        if trial.number == 2:
            raise KeyboardInterrupt
        return x

    with pytest.raises(KeyboardInterrupt):
        train.optimize(n_trials=5, progress=True)
    assert sys.stdout is terminal and sys.stderr is terminal
    lines = rendered(terminal.getvalue())
    assert lines[:3] == ["trial 0", "trial 1", "trial 2"], lines
    assert lines[3].startswith("s  [" + "#" * 9 + "." * 15 + "] 2/5  eta "), lines
    assert lines[4].startswith("[hpotrack] study 's' interrupted: "), lines
    assert len(lines) == 5, lines


def test_a_handler_made_during_a_run_writes_above_the_next_runs_bar(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler made in a trial takes the sys.stderr of then, the first run's wrapper:
    the next run's bar must route it as well, not leave it writing past its line."""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # as in a script: not pytest's
    log = logging.getLogger("made-in-a-trial")
    monkeypatch.setattr(log, "handlers", [])
    monkeypatch.setattr(log, "level", logging.INFO)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        if not log.handlers:
            log.addHandler(logging.StreamHandler())
        log.info("fitted x=%.4f", x)
        return x

    train.optimize(n_trials=2, progress=True)
    train.optimize(n_trials=4, progress=True)
    lines = rendered(terminal.getvalue())
    fitted = [line for line in lines if "fitted" in line]
    assert fitted == [f"fitted x={t.params['x']:.4f}" for t in train.study.trials], lines
