"""hpotrack in IPython, as a notebook's kernel runs it: cells run by a real
``InteractiveShell`` (no Jupyter kernel needed), what a mistake shows, and ``fig.show()``."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

import hpotrack as hp
from hpotrack import plots
from hpotrack.plots import PlotError

ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def shell(monkeypatch: pytest.MonkeyPatch, db: Path) -> Iterator[InteractiveShell]:
    """An IPython shell whose cells see ``db``; what it replaces in ``sys`` (its own
    ``__main__``, the hooks) is put back after."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    for hook in ("displayhook", "excepthook"):
        monkeypatch.setattr(sys, hook, getattr(sys, hook))
    config = Config()
    config.HistoryManager.enabled = False
    running = InteractiveShell.instance(config=config)
    running.user_ns["DB"] = str(db)
    yield running
    InteractiveShell.clear_instance()


def shown(shell: InteractiveShell, cell: str, capsys: pytest.CaptureFixture[str]) -> str:
    """What the cell prints, its traceback included, without colours."""
    capsys.readouterr()
    shell.run_cell(cell)
    return ANSI.sub("", capsys.readouterr().out)


TUNED = """
import hpotrack as hp
@hp.tune({"lr": hp.Float(1e-4, 1e-1, log=True), "layers": hp.Int(1, LAYERS)}, db=DB)
def train(lr, layers):
    hp.report(REPORTED, step=1)
    return lr * layers
"""


def define(shell: InteractiveShell, layers: int = 4, reported: str = "lr") -> None:
    result = shell.run_cell(TUNED.replace("LAYERS", str(layers)).replace("REPORTED", reported))
    assert result.success


def test_a_mistake_shows_the_cells_line_and_the_message_not_hpotracks_frames(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reopening a study with another space showed ~60 lines of hpotrack's internals
    (arguments.py, tune.py, definition.py) above the line that says what to do."""
    define(shell)
    assert shell.run_cell("train.optimize(n_trials=2)").success
    define(shell, layers=8)  # the decorator cell changed and run again
    text = shown(shell, "train.optimize(n_trials=3)", capsys)
    assert "----> 1 train.optimize(n_trials=3)" in text
    assert "StudyMismatchError: study 'main.train' already exists" in text
    assert "parameter 'layers' was Int(1, 4), now Int(1, 8)" in text
    assert "hpotrack/" not in text, text
    assert len(hp.load_study("main.train", db=shell.user_ns["DB"]).trials) == 2


def test_the_users_own_function_stays_in_the_traceback(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    define(shell, reported='"oops"')
    text = shown(shell, "train(lr=0.01, layers=2)", capsys)
    assert "----> 1 train(lr=0.01, layers=2)" in text
    assert re.search(r'----> \d     hp\.report\("oops", step=1\)', text)  # the line to fix
    assert "TrialError: report() needs a number, but got 'oops'" in text
    assert "hpotrack/" not in text, text


def test_a_parameter_type_keeps_its_generated_init_out_of_the_traceback(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dataclass's ``__init__`` is hpotrack's code too, though its file is <string>."""
    text = shown(shell, "import hpotrack as hp\nhp.Float(3, 1)", capsys)
    assert "SpaceError: `low < high` must hold, but got low=3.0, high=1.0" in text
    assert "<string>" not in text and "hpotrack/" not in text, text


def test_xmode_verbose_shows_hpotracks_frames_too(
    shell: InteractiveShell, capsys: pytest.CaptureFixture[str]
) -> None:
    shell.run_line_magic("xmode", "Verbose")
    text = shown(shell, "import hpotrack as hp\nhp.Float(3, 1)", capsys)
    assert "hpotrack/params.py" in text


def test_outside_ipython_the_rendered_traceback_leaves_out_hpotracks_frames(
    db: Path,
) -> None:
    with pytest.raises(hp.errors.StorageError) as caught:
        hp.load_study("x", db=db)
    text = "\n".join(caught.value._render_traceback_())
    assert __file__ in text and "hpotrack/" not in text, text
    assert text.endswith(f"StorageError: no database at {db}: pass db=PATH (or set "
                         "HPOTRACK_DB) to the file your study wrote")  # fmt: skip


def drawn(db: Path) -> plots.Figure:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    return plots.history(train.optimize(n_trials=3))


def test_fig_show_displays_the_figure_in_a_notebook(shell: InteractiveShell, db: Path) -> None:
    """``fig.show()``, a plotly and pyplot habit, raised matplotlib's AttributeError
    ("works only for figures managed by pyplot") for every hpotrack figure."""
    figure = drawn(db)
    with capture_output() as captured:
        figure.show()
    (output,) = captured.outputs
    assert output.data["image/png"].startswith(b"\x89PNG")


def test_fig_show_where_no_image_can_be_shown_says_how_to_see_it(
    shell: InteractiveShell, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figure = drawn(db)
    monkeypatch.setattr(shell.display_formatter, "active_types", ["text/plain"])  # a terminal
    with pytest.raises(PlotError, match=r'only in a notebook .*fig\.savefig\("plot\.png"\)'):
        figure.show()
    InteractiveShell.clear_instance()  # a script: no shell at all
    with pytest.raises(PlotError, match="no window opens"):
        figure.show()
