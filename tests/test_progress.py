"""The progress bar: trials done / target, best so far, elapsed and ETA; silent off a TTY."""

from __future__ import annotations

import io
import logging
import sys
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.progress import ProgressBar, bar_total


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


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
    monkeypatch.setattr(ProgressBar, "line", lambda self: next(lines))
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
    line = ProgressBar(study, 10, enabled=True, max_budget=54).line()
    assert f"[{'#' * 12}{'.' * 12}] 27/54 epochs  3 trials" in line


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
    assert text.count("[hpotrack]") >= 1
    for message in text.split("[hpotrack]")[1:]:
        assert text[text.index(message) - len("[hpotrack]") - 1] == "\n"
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
    the message was written at the end of the bar's line. A message going to a file
    leaves the bar on its line."""
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
        assert text.count("\nWARNING ") == messages, text
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
    unstored: list[int] = []
    stream = Terminal()
    with ProgressBar(study, 10, stream=stream, unstored=unstored) as bar:
        for _ in range(50):
            unstored.append(0)
            bar.update()
        assert stream.getvalue().count("\r") == 1  # the first; the rest came too soon
        unstored.clear()  # the last draw reads the list then, not as it was at an update
    draws = stream.getvalue().split("\r")[1:]
    assert len(draws) == 2 and "4/10" in draws[0] and "3/10" in draws[1]
