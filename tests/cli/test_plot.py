"""``hpotrack plot`` (issue 9) and the progress indicator of long commands (plot, export,
import): silent off a terminal, shown on one."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack import progress
from hpotrack.cli import cli
from hpotrack.cli.plot import _missing_glyphs
from hpotrack.progress import Counter
from hpotrack.store import close_stores
from tests.test_checkpoints import pbt
from tests.test_pareto_plot import TRIALS, two_objectives
from tests.test_plots import PNG, random_study


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random study with reports ("random"), a PBT study ("p"), one of two objectives
    ("front", the second maximized) and one without trials."""
    path = tmp_path_factory.mktemp("cli-plot") / "h.db"
    random_study(path)
    pbt(path).optimize(progress=False)
    two_objectives(path, "front", ("minimize", "maximize"))

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="empty", db=path)
    def empty(x: float) -> float:
        return x

    assert not empty.study.trials
    close_stores()
    return path


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error:") and result.stderr.count("\n") == 1, result.stderr
    assert fragment in result.stderr and result.stdout == ""


def test_plot_draws_the_history_by_default(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "h.png"
    result = invoke(db, "plot", "random", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote the history plot of study 'random' (24 trials) to {target}\n"
    assert result.stderr == ""  # no progress bar off a terminal
    assert target.read_bytes().startswith(PNG) and target.stat().st_size > 10_000


def test_plot_another_kind(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "l.png"
    result = invoke(db, "plot", "p", "--kind", "lineage", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("wrote the lineage plot of study 'p'")
    assert target.read_bytes().startswith(PNG)


def test_plot_slice(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "s.png"
    result = invoke(db, "plot", "random", "--kind", "slice", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote the slice plot of study 'random' (24 trials) to {target}\n"
    assert target.read_bytes().startswith(PNG) and target.stat().st_size > 10_000


def test_plot_timeline(db: Path, tmp_path: Path) -> None:
    target = tmp_path / "t.png"
    result = invoke(db, "plot", "random", "--kind", "timeline", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote the timeline plot of study 'random' (24 trials) to {target}\n"
    assert target.read_bytes().startswith(PNG) and target.stat().st_size > 10_000
    assert "timeline    each trial as a bar" in invoke(db, "plot", "--help").stdout


@pytest.mark.parametrize("suffix", ["png", "svg"])
def test_plot_pareto(db: Path, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"front.{suffix}"
    result = invoke(db, "plot", "front", "--kind", "pareto", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"wrote the pareto plot of study 'front' ({TRIALS} trials) to {target}\n"
    )
    if suffix == "png":
        assert target.read_bytes().startswith(PNG) and target.stat().st_size > 10_000
    else:
        drawn = target.read_text()
        count = len(hp.load_study("front", db=db).best_trials)
        assert f"{count} trials on the front" in drawn and "f2 (maximize)" in drawn
    assert "pareto      several objectives" in invoke(db, "plot", "--help").stdout


@pytest.mark.parametrize("kind", ["history", "slice", "params", "importance", "timeline"])
def test_the_other_kinds_plot_a_study_of_two_objectives(
    db: Path, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / f"{kind}.png"
    result = invoke(db, "plot", "front", "--kind", kind, "-o", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().startswith(PNG)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["nope"], "no study named 'nope'"),
        (["empty"], "study 'empty' has no trials yet"),
        (["empty", "--kind", "slice"], "study 'empty' has no trials yet"),
        (["empty", "--kind", "timeline"], "study 'empty' has no trials yet"),
        (["random", "--kind", "lineage"], "no lineage to plot: no trial has a parent"),
        (["empty", "--kind", "pareto"], "needs a study of several objectives, but study "),
        (["random", "--kind", "pareto"], "plot it with kind history, slice, params or "),
    ],
)
def test_plot_mistakes_are_one_line(
    db: Path, tmp_path: Path, args: list[str], fragment: str
) -> None:
    one_line_error(invoke(db, "plot", *args, "-o", str(tmp_path / "x.png")), fragment)
    assert list(tmp_path.iterdir()) == []


def test_plot_file_mistakes_are_one_line(db: Path, tmp_path: Path) -> None:
    gif, lost = tmp_path / "x.gif", tmp_path / "no" / "x.png"
    one_line_error(invoke(db, "plot", "p", "-o", str(gif)), "name it .png, .pdf or .svg")
    one_line_error(invoke(db, "plot", "p", "-o", str(lost)), "does not exist")
    result = invoke(db, "plot", "p", "--kind", "pie", "-o", str(gif))
    assert result.exit_code == 2 and "'pie' is not one of 'history', 'curves'" in result.stderr
    result = invoke(db, "plot", "p")
    assert result.exit_code == 2 and "Missing option '-o' / '--output'" in result.stderr


def test_characters_the_font_lacks_are_one_note(tmp_path: Path) -> None:
    """matplotlib warns once per missing character and draw, with its source line (30
    lines for a Chinese name): the command says it in one line on stderr instead."""
    matplotlib = pytest.importorskip("matplotlib")

    @hp.tune({"学习率": hp.Float(0.0, 1.0)}, study="学习", objective="损失", db=tmp_path / "u.db")
    def train(**params: float) -> dict[str, float]:
        return {"损失": params["学习率"]}

    train.optimize(n_trials=4, progress=False)
    target = tmp_path / "u.png"
    with (
        matplotlib.rc_context({"font.family": ["DejaVu Sans"]}),  # ships with matplotlib
        warnings.catch_warnings(record=True) as seen,
    ):
        warnings.simplefilter("always")
        result = invoke(tmp_path / "u.db", "plot", "学习", "--kind", "params", "-o", str(target))
    assert result.exit_code == 0, result.output
    assert [str(w.message) for w in seen if "Glyph" in str(w.message)] == []
    note, _, fix = result.stderr.partition(": those characters show as boxes in ")
    assert note.startswith("note: the font DejaVu Sans cannot draw ")
    assert set("学习率损失") <= set(note)
    assert fix == f"{target}; to draw them, add a font that has them to matplotlib's " + (
        "font.family (in a matplotlibrc file)\n"
    )
    assert target.read_bytes().startswith(PNG)


def test_the_glyph_warning_of_matplotlib_before_3_9_is_the_same_one_note(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """matplotlib 3.7 and 3.8 (which the plots extra allows) say "missing from current
    font." without naming it: the note names the font they draw with."""
    matplotlib = pytest.importorskip("matplotlib")
    old = "Glyph {} ({}) missing from current font."
    seen = [
        warnings.WarningMessage(old.format(ord(c), name), UserWarning, "text.py", 1)
        for c, name in [("学", r"\N{CJK UNIFIED IDEOGRAPH-5B66}"), ("习", "...")]
    ]
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning passed on as it came would raise
        _missing_glyphs(seen, Path("u.png"))
    assert capsys.readouterr().err.startswith("note: the font DejaVu Sans cannot draw 学习: ")


def test_a_study_without_curves(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="flat", db=tmp_path / "f.db", seed=0)
    def flat(x: float) -> float:
        return x

    flat.optimize(n_trials=6, progress=False)
    result = invoke(tmp_path / "f.db", "plot", "flat", "--kind", "curves", "-o", "x.png")
    one_line_error(result, "has no intermediate values to plot: report them with trial.report")


def test_without_matplotlib_the_message_names_the_extra(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    result = invoke(db, "plot", "p", "-o", str(tmp_path / "x.png"))
    one_line_error(
        result, 'plots need matplotlib, which is not installed: pip install "hpotrack[plots]"'
    )


# --- progress ----------------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make stderr look like a terminal to the progress indicator, shown at once."""
    monkeypatch.setattr(progress, "is_terminal", lambda stream: True)
    monkeypatch.setattr(Counter, "DELAY_S", 0.0)


def test_long_commands_are_silent_off_a_terminal(db: Path, tmp_path: Path) -> None:
    exported = tmp_path / "p.json"
    for where, args in (
        (db, ["plot", "p", "--kind", "lineage", "-o", str(tmp_path / "l.png")]),
        (db, ["export", "p", "-o", str(exported)]),
        (db, ["export", "p", "--format", "csv"]),
        (tmp_path / "copy.db", ["import", str(exported), "--study", "q"]),
    ):
        result = invoke(where, *args)
        assert result.exit_code == 0, result.output
        assert result.stderr == "", args


@pytest.mark.usefixtures("terminal")
def test_long_commands_show_progress_on_a_terminal(db: Path, tmp_path: Path) -> None:
    n = len(hp.load_study("p", db=db).trials)
    result = invoke(db, "plot", "p", "--kind", "lineage", "-o", str(tmp_path / "l.png"))
    assert result.exit_code == 0, result.output
    assert f"\rplot lineage  [{'#' * 24}] {n}/{n}  elapsed 0:0" in result.stderr
    assert result.stderr.endswith("\n") and result.stdout.startswith("wrote the lineage plot")
    exported = tmp_path / "p.jsonl"
    result = invoke(db, "export", "p", "--format", "jsonl", "-o", str(exported))
    assert result.exit_code == 0 and f"export jsonl  [{'#' * 24}] {2 * n}/{2 * n}" in result.stderr
    result = invoke(tmp_path / "copy.db", "import", str(exported), "--study", "q")
    assert result.exit_code == 0 and f"import  [{'#' * 24}] {2 * n}/{2 * n}" in result.stderr
    result = invoke(db, "export", "p")  # to stdout: the bar is on stderr only
    assert (
        result.exit_code == 0 and result.stdout.startswith("{") and "export json" in result.stderr
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_counter_counts_on_a_terminal_only() -> None:
    shown = Terminal()
    with Counter("work", 10, stream=shown) as counter:
        counter.advance(4)
        assert counter.line().startswith(f"work  [{'#' * 9}{'.' * 15}] 4/10  elapsed 0:00  eta ")
        counter.advance(100)  # never past the total
        counter.draw()
    assert "10/10" in shown.getvalue() and "eta" not in shown.getvalue().split("\r")[-1]
    quick = Terminal()
    with Counter("quick", 10, stream=quick) as counter:  # done before DELAY_S: nothing shown
        counter.advance(10)
    assert quick.getvalue() == ""
    hidden = io.StringIO()
    with Counter("work", 10, stream=hidden, enabled=None) as counter:
        counter.advance(10)
        counter.draw()
    assert hidden.getvalue() == ""


# --- the installed executable ------------------------------------------------------------------


def test_the_installed_executable_plots(db: Path, tmp_path: Path) -> None:
    exe = shutil.which("hpotrack") or pytest.skip("no hpotrack executable: pip install -e .")
    env = {**os.environ, "HPOTRACK_DB": str(db)}
    target = tmp_path / "p.png"
    done = subprocess.run(
        [exe, "plot", "p", "--kind", "params", "-o", str(target)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and target.read_bytes().startswith(PNG)
    n = len(hp.load_study("p", db=db).trials)
    assert done.stdout == f"wrote the params plot of study 'p' ({n} trials) to {target}\n"
