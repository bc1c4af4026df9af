"""hpotrack in IPython, as a notebook's kernel runs it: cells run by a real
``InteractiveShell`` (no Jupyter kernel needed), what a mistake shows, and ``fig.show()``."""

from __future__ import annotations

import json
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
from traitlets.config import Config

import hpotrack as hp
from hpotrack import plots
from hpotrack.cli import cli
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


KERNEL = ["/env/lib/python3.11/site-packages/ipykernel_launcher.py", "-f", "/run/kernel-1.json"]


def provenance_lines(db: Path, study: str) -> list[str]:
    """The Provenance section of ``hpotrack trial STUDY 0``."""
    shown = CliRunner().invoke(cli, ["--db", str(db), "trial", study, "0"])
    assert shown.exit_code == 0, shown.output
    return shown.output.split("\nProvenance\n")[1].splitlines()


def run_in_cells(shell: InteractiveShell, study: str) -> None:
    source = TUNED.replace("LAYERS", "4").replace("REPORTED", "lr")
    assert shell.run_cell(source.replace("db=DB", f"db=DB, study={study!r}")).success
    assert shell.run_cell("train.optimize(n_trials=1)").success


def test_a_run_from_a_notebooks_cells_says_so_not_that_the_launcher_was_its_script(
    shell: InteractiveShell, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook's trials listed the kernel's launcher (``ipykernel_launcher.py -f
    kernel-....json``) as their argv, as if it were the user's script: the run records
    that IPython cells ran it, with the notebook's file when the kernel was told it
    (Jupyter Server's JPY_SESSION_NAME), and shows the launcher as the shell's argv."""
    monkeypatch.setattr(sys, "argv", KERNEL)
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/tuning.ipynb")
    run_in_cells(shell, "told")
    monkeypatch.delenv("JPY_SESSION_NAME")
    run_in_cells(shell, "untold")
    launcher = f"  shell argv   {' '.join(KERNEL)}"
    told = provenance_lines(db, "told")
    assert "  ran in       notebook /home/me/tuning.ipynb (its cells, in an IPython kernel)" in told
    assert launcher in told and not any(line.startswith("  argv ") for line in told)
    untold = provenance_lines(db, "untold")
    assert "  ran in       IPython cells (a notebook's kernel, or the ipython prompt)" in untold
    assert launcher in untold
    data = CliRunner().invoke(cli, ["--db", str(db), "trial", "told", "0", "--format", "json"])
    provenance = json.loads(data.output)["provenance"]
    assert provenance["ran_in"].startswith("notebook /home/me/tuning.ipynb")
    assert provenance["argv"] == " ".join(KERNEL) and provenance["script_argv"] is None


def test_a_script_the_shell_runs_records_its_own_command_line(
    shell: InteractiveShell, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``%run train.py --fast`` in a notebook (or ``ipython train.py``) runs a script: its
    command line is the script's, as in a terminal, and no cells are named."""
    monkeypatch.setattr(sys, "argv", KERNEL)
    script = tmp_path / "train.py"
    script.write_text(
        "import hpotrack as hp\n"
        f"@hp.tune({{'x': hp.Float(0.0, 1.0)}}, study='script', db={str(db)!r})\n"
        "def train(x):\n    return x\n"
        "train.optimize(n_trials=1)\n"
    )
    assert shell.run_line_magic("run", f"{script} --fast") is None
    lines = provenance_lines(db, "script")
    assert f"  argv         {script} --fast" in lines
    assert not any(line.startswith(("  ran in", "  shell argv")) for line in lines)


def test_the_worker_processes_of_a_notebook_record_its_cells_too(
    shell: InteractiveShell, db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``n_jobs`` workers are spawned processes, where no shell runs and ``sys.argv`` is
    the kernel's launcher again: they record the cells of the notebook that started them."""
    (tmp_path / "nbjob.py").write_text(
        "import hpotrack as hp\n"
        f"@hp.tune({{'x': hp.Float(0.0, 1.0)}}, method='random', study='jobs', db={str(db)!r})\n"
        "def train(x):\n    return x\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "argv", KERNEL)
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/tuning.ipynb")
    assert shell.run_cell("import nbjob\nnbjob.train.optimize(n_trials=4, n_jobs=2)").success
    with closing(sqlite3.connect(db)) as conn:
        runs = [json.loads(argv) for (argv,) in conn.execute("SELECT argv FROM runs")]
    notebook = {"argv": KERNEL, "ipython": {"notebook": "/home/me/tuning.ipynb"}}
    assert len(runs) >= 2 and all(run == notebook for run in runs)  # each worker's run
