"""``hpotrack resume``: re-import the recorded function and continue the study."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.limits import NO_STOPS, Stops
from hpotrack.loader import using_argv

SCRIPT = textwrap.dedent(
    """
    import hpotrack as hp

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="script", seed=0)
    def train(x):
        return x

    if __name__ == "__main__":
        raise SystemExit("the main block must not run on resume")
    """
)


def make_study(tmp_path: Path, n_trials: int = 3, text: str = SCRIPT) -> tuple[Path, Path]:
    """A study whose function lives in a script file, started with ``n_trials`` as
    ``python job.py`` would (``sys.argv`` is the file alone, not pytest's)."""
    script = tmp_path / "job.py"
    script.write_text(text)
    db = tmp_path / "h.db"
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(script)}
    code = compile(text.replace('if __name__ == "__main__":', "if False:"), str(script), "exec")
    with using_argv([str(script)]):
        exec(code, namespace)
        train = namespace["train"]
        assert isinstance(train, hp.TunedFunction)
        train.run_study(db=db, n_trials=n_trials)
    return script, db


def in_process(db: Path, *args: str) -> Result:
    """``hpotrack --db DB ARGS...`` run in this process by click's runner."""
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def invoke(db: Path, *args: str) -> tuple[int, str]:
    result = in_process(db, "resume", *args)
    return result.exit_code, result.output


def test_resume_continues_to_a_new_target_without_running_the_main_block(tmp_path: Path) -> None:
    _, db = make_study(tmp_path)
    code, output = invoke(db, "script", "--n-trials", "7")
    assert code == 0, output
    assert "7 trials (7 complete)" in output
    assert len(hp.load_study("script", db=db).trials) == 7


CHECKPOINTED = textwrap.dedent(
    """
    import sys
    import hpotrack as hp

    class State:
        def __init__(self, epoch):
            self.epoch = epoch

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="states", seed=0,
             db=sys.argv[1] if __name__ == "__main__" else None, budget=hp.Budget(1, 9))
    def train(x, trial):
        state = trial.load_checkpoint() or State(0)
        assert state.epoch == trial.steps.start - 1, (state.epoch, trial.steps)
        for epoch in trial.steps:
            state.epoch = epoch
            trial.save_checkpoint(state, step=epoch)
            trial.report(x + 1 / epoch, step=epoch)
        return x

    if __name__ == "__main__":
        train.optimize(n_trials=6)
    """
)


def test_resume_loads_checkpoints_of_a_class_the_script_defines(tmp_path: Path) -> None:
    """Run as ``python job.py``, the script pickled ``__main__.State``; resume imports it
    under another name, and unpickling failed ("Can't get attribute 'State' on
    <module '__main__'>"): every promotion of an earlier trial failed."""
    script, db = tmp_path / "job.py", tmp_path / "h.db"
    script.write_text(CHECKPOINTED)
    subprocess.run([sys.executable, str(script), str(db)], check=True, capture_output=True)
    code, output = invoke(db, "states", "--n-trials", "30")
    assert code == 0, output
    trials = hp.load_study("states", db=db).trials
    assert not [t for t in trials if t.state is hp.TrialState.FAILED], output
    assert any(t.origin == "promoted" and t.parents[0].parent < 6 for t in trials)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--n-trials", "9" * 23), "is not a whole number at most 9,223,372,036,854,775,807"),
        (("--jobs", "3000000"), "'3000000' is not a whole number at most 256"),
        (("--jobs", "0"), "'0' is not a whole number >= 1"),
        (("--timeout", "nan"), "'nan' is not a number > 0"),
        (("--max-budget", "nan"), "'nan' is not a number > 0"),
    ],
)
def test_resume_refuses_numbers_out_of_range(
    tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    """A huge --n-trials failed storing it (OverflowError); --jobs 3000000 built three
    million process objects before failing."""
    _, db = make_study(tmp_path)
    code, output = invoke(db, "script", *args)
    assert code == 2 and message in output and "Traceback" not in output


def test_resume_a_study_run_with_python_m_from_its_project(tmp_path: Path) -> None:
    """`python -m pkg.mod` recorded __main__ and the file; resume ran the file as a script,
    where `import pkg` fails. The default study name is `pkg.mod.f`, as when imported (it
    was `mod.f`, after the file)."""
    package = tmp_path / "proj" / "pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text("def offset():\n    return 0.5\n")
    (package / "mod.py").write_text(
        textwrap.dedent(
            """
            import hpotrack as hp
            from pkg.helper import offset

            @hp.tune({"x": hp.Float(0.0, 1.0)}, seed=0)
            def f(x):
                return (x - offset()) ** 2

            if __name__ == "__main__":
                f.optimize(n_trials=2)
            """
        )
    )
    db = tmp_path / "h.db"

    def in_project(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HPOTRACK_DB": str(db)}
        command = [sys.executable, *args]
        return subprocess.run(command, cwd=package.parent, env=env, capture_output=True, text=True)

    first = in_project("-m", "pkg.mod")
    assert first.returncode == 0, first.stderr
    assert hp.load_study("pkg.mod.f", db=db).function["module"] == "pkg.mod"
    done = cli_process(db, "resume", "pkg.mod.f", "--n-trials", "4")  # from the tests' folder
    assert done.returncode == 0, done.stderr
    assert [t.state.value for t in hp.load_study("pkg.mod.f", db=db).trials] == ["complete"] * 4
    imported = in_project("-c", "from pkg.mod import f; print(f.definition.name)")
    assert imported.stdout.strip() == "pkg.mod.f", imported.stderr


@pytest.mark.parametrize("call", ["train.optimize(n_trials=3)", "train(x=0.5)"])
def test_a_module_level_call_in_the_script_is_refused_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """Resume imports the script: a module-level optimize() ran a whole search again
    (from another folder: into that folder's ./hpotrack.db), a manual call stored
    another manual trial. Now nothing runs and the line of the call is named."""
    text = SCRIPT.replace("if __name__", f"{call}\n\nif __name__")
    script, db = make_study(tmp_path, text=text.replace(call, "pass"))
    script.write_text(text)  # the call added after the study was made
    before = hp.load_study("script", db=db).records()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, output = invoke(db, "script", "--n-trials", "9")
    assert code == 2 and output.count("\n") == 1, output
    line = text.splitlines().index(call) + 1
    assert f"line {line} of {script} calls " in output
    assert 'put the call under `if __name__ == "__main__":`' in output
    assert hp.load_study("script", db=db).records() == before
    assert not list(elsewhere.iterdir())


def test_resume_at_the_target_runs_nothing_and_says_so(tmp_path: Path) -> None:
    _, db = make_study(tmp_path)
    code, output = invoke(db, "script")
    assert code == 0 and "3 trials" in output


def cli_process(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``hpotrack --db DB ARGS...`` in a process of its own (its log lines on stderr)."""
    code = "from hpotrack.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "--db", str(db), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        ((), "nothing to run (pass a larger --n-trials to extend the study)"),
        (("--jobs", "2"), "nothing to run (pass a larger --n-trials to extend the study)"),
        (
            ("--n-trials", "9", "--max-budget", "20"),
            "the --max-budget of 20 is spent; nothing to run (pass a larger --max-budget",
        ),
    ],
    ids=["target", "target-in-workers", "max-budget"],
)
def test_resume_with_nothing_to_run_names_the_options(
    tmp_path: Path, args: tuple[str, ...], hint: str
) -> None:
    """The library's hint names optimize()'s arguments (n_trials); resume's, its own
    options, also in worker processes. One trial of 9 epochs: "1 trial", "9 epochs"."""
    epochs = SCRIPT.replace("seed=0)", 'seed=0, budget=hp.Budget(1, 9, name="epochs"))')
    _, db = make_study(tmp_path, n_trials=1, text=epochs)
    if "--max-budget" in args:  # 27 epochs trained, more than 20
        assert invoke(db, "script", "--n-trials", "3")[0] == 0
    done = cli_process(db, "resume", "script", *args)
    assert done.returncode == 0, done.stderr
    assert hint in done.stderr and "n_trials" not in done.stderr, done.stderr
    assert "max_budget" not in done.stderr
    if "--max-budget" not in args:
        assert done.stdout.startswith("study 'script': 1 trial (1 complete); 9 epochs trained")


BUDGETED = textwrap.dedent(
    """
    import hpotrack as hp

    @hp.tune({"x": [0.1, 0.2]}, method="grid", study="script", seed=0,
             budget=hp.Budget(1, 9, name="epochs"))
    def train(x):
        return x

    if __name__ == "__main__":
        train.optimize(max_budget=9)
    """
)


def test_resume_without_a_target_names_max_budget_for_a_study_with_a_budget(
    tmp_path: Path,
) -> None:
    """A study run with ``optimize(max_budget=...)`` (examples/bohb_mlp.py) stores no
    target: resume goes on with the last run's max_budget, and without it (--no-stops)
    runs until Ctrl-C, and its hint named only --n-trials."""
    (tmp_path / "job.py").write_text(BUDGETED)
    subprocess.run([sys.executable, "job.py"], cwd=tmp_path, check=True, capture_output=True)
    spent = cli_process(tmp_path / "hpotrack.db", "resume", "script")
    assert spent.returncode == 0, spent.stderr
    assert "resuming with the stops of the study's last run: --max-budget 9 (" in spent.stderr
    assert "nothing to run (pass a larger --max-budget to train more)" in spent.stderr
    done = cli_process(tmp_path / "hpotrack.db", "resume", "script", "--no-stops")
    assert done.returncode == 0, done.stderr  # the grid's last cell
    hint = "no stored target: running until the method is exhausted or Ctrl-C"
    stops = "--max-budget in epochs, or --patience in trials without improvement"
    assert f"{hint} (pass --n-trials to set one, {stops})" in done.stderr


def test_resume_max_budget_runs_until_the_trials_trained_that_many_epochs(
    tmp_path: Path,
) -> None:
    epochs = SCRIPT.replace("seed=0)", 'seed=0, budget=hp.Budget(1, 9, name="epochs"))')
    _, db = make_study(tmp_path, text=epochs)  # 3 trials of 9 epochs: 27 trained
    code, output = invoke(db, "script", "--n-trials", "100", "--max-budget", "40")
    assert code == 0, output
    assert "5 trials (5 complete); 45 epochs trained" in output
    assert [t.trained for t in hp.load_study("script", db=db).trials] == [9] * 5


def test_resume_patience_stops_once_that_many_trials_went_by_without_improving(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    by_number = SCRIPT.replace("def train(x):\n    return x", "def train(x, trial):\n"
                               "    return [3, 1, 2, 2, 2, 2, 2, 2][trial.number]")  # fmt: skip
    _, db = make_study(tmp_path, text=by_number)  # best: trial 1; trial 2 since
    code, output = invoke(db, "script", "--n-trials", "8", "--patience", "3")
    assert code == 0, output
    assert "5 trials (5 complete); best 1 (trial 1)" in output
    assert "the 3 complete trials since: the --patience of 3 is spent" in caplog.text
    code, output = invoke(db, "script", "--n-trials", "8", "--patience", "3")
    assert code == 0, output
    assert "nothing to run (pass a larger --patience to search on)" in caplog.text
    code, output = invoke(db, "script", "--patience", "0")
    assert code == 2 and "Invalid value for '--patience'" in output
    assert len(hp.load_study("script", db=db).trials) == 5


def test_resume_goes_on_with_the_stops_of_the_last_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A resume not given the stops again (after a crash, say) ran past the patience of
    the run it continues; now it takes each stop it is not given from the last run,
    saying so, and --no-stops leaves them out. ``show`` says what resume will use."""
    by_number = SCRIPT.replace("def train(x):\n    return x", "def train(x, trial):\n"
                               "    return [3, 1, 2, 2, 2, 2, 2, 2][trial.number]")  # fmt: skip
    _, db = make_study(tmp_path, text=by_number)  # best: trial 1; trial 2 since
    code, output = invoke(
        db, "script", "--n-trials", "8", "--patience", "3", "--trial-timeout", "1.5"
    )
    assert code == 0 and "5 trials (5 complete)" in output, output
    assert (
        "stops of the last run: --patience 3 --trial-timeout 1.5\n"
        in in_process(db, "show", "script").output
    )
    code, output = invoke(db, "script", "--n-trials", "8")
    assert code == 0, output
    assert (
        "resuming with the stops of the study's last run: --patience 3 --trial-timeout 1.5 "
        "(flags give others; --no-stops leaves them out)\n"
    ) in output
    assert "nothing to run (pass a larger --patience to search on)" in caplog.text
    code, output = invoke(db, "script", "--n-trials", "8", "--patience", "4")
    assert code == 0 and "6 trials (6 complete)" in output, output
    assert "the study's last run: --trial-timeout 1.5 (flags" in output
    assert hp.load_study("script", db=db).last_stops == Stops(patience=4, trial_timeout=1.5)
    code, output = invoke(db, "script", "--n-trials", "8", "--no-stops")
    assert code == 0 and "8 trials (8 complete)" in output, output
    assert "resuming with the stops" not in output
    assert hp.load_study("script", db=db).last_stops == NO_STOPS
    assert "stops of the last run" not in in_process(db, "show", "script").output


@pytest.mark.parametrize(
    ("kept", "in_thread", "problem"),
    [
        (
            Stops(max_budget=9.0),
            False,
            "--max-budget counts the steps trials train (e.g. epochs), but the function of "
            "study 'script' declares no budget",
        ),
        (
            Stops(trial_timeout=5.0),
            True,
            "--trial-timeout stops a trial with SIGALRM, which only the main thread receives: "
            "run hpotrack resume from the main thread, or with --jobs 2 or more",
        ),
    ],
)
def test_resume_says_a_stop_of_the_last_run_it_cannot_use_is_that_runs(
    tmp_path: Path, kept: Stops, in_thread: bool, problem: str
) -> None:
    """A stop kept from the last run that this resume cannot use (the function declares
    no budget now; a trial_timeout off the main thread) was refused as if the user had
    passed the flag (--max-budget, --trial-timeout), with optimize()'s fixes (n_jobs=2)
    and without the one flag that leaves it out."""
    _, db = make_study(tmp_path)
    hp.load_study("script", db=db).remember_stops(kept)
    results: list[Result] = []

    def resume() -> None:
        results.append(in_process(db, "resume", "script", "--n-trials", "4"))

    if in_thread:
        thread = threading.Thread(target=resume)
        thread.start()
        thread.join()
    else:
        resume()
    (result,) = results
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    error = result.output.splitlines()[-1]
    flags = "--max-budget 9" if kept.max_budget else "--trial-timeout 5"
    assert error.startswith(
        f"Error: the stops of the last run of study 'script' cannot be used now ({flags}): "
        f"{problem}"
    ), error
    assert error.endswith("; --no-stops leaves them out"), error
    assert len(hp.load_study("script", db=db).trials) == 3  # nothing ran
    code, output = invoke(db, "script", "--n-trials", "4", "--no-stops")
    assert code == 0 and "4 trials (4 complete)" in output, output


def test_resume_good_enough_stops_once_a_trial_is_that_good(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    by_number = SCRIPT.replace("def train(x):\n    return x", "def train(x, trial):\n"
                               "    return [3, 2, 2, 1.5, 1, 0][trial.number]")  # fmt: skip
    _, db = make_study(tmp_path, n_trials=2, text=by_number)
    code, output = invoke(db, "script", "--n-trials", "6", "--good-enough", "1.5")
    assert code == 0, output
    assert "4 trials (4 complete); best 1.5 (trial 3)" in output
    assert "has trial 3 at 1.5, as good as --good-enough 1.5: the search is done" in caplog.text
    for bad in ("nan", "inf", "x"):
        code, output = invoke(db, "script", "--good-enough", bad)
        assert code == 2 and f"Invalid value for '--good-enough': '{bad}' is not a finite" in output
    assert len(hp.load_study("script", db=db).trials) == 4


def test_resume_of_a_study_with_no_feasible_trial_says_so(tmp_path: Path) -> None:
    """Every trial completes, none meets the constraint: the summary says that, not
    that no trial completed."""
    impossible = SCRIPT.replace(
        "seed=0)", 'seed=0,\n          constraints=hp.Constraint("x", at_least=2.0))'
    ).replace("return x", 'return {"value": x, "x": x}')
    _, db = make_study(tmp_path, text=impossible)
    code, output = invoke(db, "script", "--n-trials", "4")
    assert code == 0, output
    assert "4 trials (4 complete); none meets the constraints (2 <= x)" in output
    several = impossible.replace(
        "seed=0,",
        'seed=0, objective=("value", "x"),\n          direction=("minimize", "maximize"),',
    )
    (tmp_path / "mo").mkdir()
    _, db = make_study(tmp_path / "mo", text=several)
    code, output = invoke(db, "script", "--n-trials", "4")
    assert code == 0, output
    assert "4 trials (4 complete); none meets the constraints (2 <= x)" in output


def test_resume_max_budget_without_a_budget_is_a_clear_error(tmp_path: Path) -> None:
    _, db = make_study(tmp_path)
    code, output = invoke(db, "script", "--max-budget", "40")
    assert code == 2 and "Traceback" not in output
    assert "function of study 'script' declares no budget: pass budget=hp.Budget" in output
    assert len(hp.load_study("script", db=db).trials) == 3


def test_resume_max_budget_without_a_budget_names_resumes_options(tmp_path: Path) -> None:
    """The error named optimize()'s arguments ("max_budget counts ..., or stop by n_trials
    or timeout"), options resume does not have."""
    _, db = make_study(tmp_path)
    code, output = invoke(db, "script", "--max-budget", "40")
    assert code == 2 and output.startswith("Error: --max-budget counts the steps"), output
    assert output.rstrip().endswith("or stop by --n-trials or --timeout"), output


def test_a_moved_script_is_a_clear_error_naming_function(tmp_path: Path) -> None:
    script, db = make_study(tmp_path)
    moved = tmp_path / "moved.py"
    shutil.move(script, moved)
    code, output = invoke(db, "script", "--n-trials", "5")
    assert code == 2
    assert "Traceback" not in output and "--function" in output and "job.py" in output
    code, output = invoke(db, "script", "--n-trials", "5", "--function", f"{moved}:train")
    assert code == 0, output
    assert len(hp.load_study("script", db=db).trials) == 5


def test_a_study_run_interactively_says_why_it_cannot_be_resumed(tmp_path: Path) -> None:
    # `python -c` records no file, as a notebook cell or IPython does: there is nothing
    # to import, which used to read "a script that no longer exists (None)"
    code = (
        "import hpotrack as hp\n"
        "@hp.tune({'x': hp.Float(0.0, 1.0)}, study='typed', db='h.db')\n"
        "def train(x):\n"
        "    return x\n"
        "train.optimize(n_trials=2)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True, capture_output=True)
    exit_code, output = invoke(tmp_path / "h.db", "typed", "--n-trials", "3")
    assert exit_code == 2
    assert "Traceback" not in output and "None" not in output
    assert "defined interactively" in output and "move it to a file" in output


def test_function_option_errors(tmp_path: Path) -> None:
    _, db = make_study(tmp_path)
    assert invoke(db, "script", "--function", "nocolon")[0] == 2
    code, output = invoke(db, "script", "--function", f"{tmp_path / 'nope.py'}:train")
    assert code == 2 and "no file" in output
    (tmp_path / "plain.py").write_text("def train(x):\n    return x\n")
    code, output = invoke(db, "script", "--function", f"{tmp_path / 'plain.py'}:train")
    assert code == 2 and "not decorated" in output


@pytest.mark.parametrize(
    ("main_block", "fix"),
    [
        (
            "    @hp.tune({'x': (0.0, 1.0)}, study='guarded', db='h.db')\n"
            "    def train(x):\n        return x\n",
            "so define train at module level, outside that block; pass --function",
        ),
        (
            "    train = hp.tune({'x': (0.0, 1.0)}, study='guarded', db='h.db')(fit)\n",
            "so apply @hp.tune to it at module level, outside that block; or pass --function",
        ),
    ],
    ids=["defined", "decorated"],
)
def test_a_function_tuned_under_the_main_guard_cannot_be_resumed_and_says_why(
    tmp_path: Path, main_block: str, fix: str
) -> None:
    """resume imports the script without its main block: it said "cannot be found (no
    'train')" or "is not decorated with @hp.tune", and pointed only at --function."""
    script = tmp_path / "job.py"
    script.write_text(
        "import hpotrack as hp\n"
        "def fit(x):\n    return x\n"
        f"if __name__ == '__main__':\n{main_block}    train.optimize(n_trials=2)\n"
    )
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, capture_output=True)
    code, output = invoke(tmp_path / "h.db", "guarded", "--n-trials", "3")
    assert code == 2 and "Traceback" not in output
    assert 'without running its `if __name__ == "__main__":` block' in output
    assert fix in output, output
    assert len(hp.load_study("guarded", db=tmp_path / "h.db").trials) == 2


def test_unknown_study_suggests_a_close_name(tmp_path: Path) -> None:
    _, db = make_study(tmp_path)
    code, output = invoke(db, "scrip")
    assert code == 2 and "did you mean 'script'" in output


def test_a_script_that_fails_to_import_is_one_clear_line(tmp_path: Path) -> None:
    """A syntax error, an exception at import, a missing module: one line naming the
    file and the line, exit code 2, no traceback; the study is untouched. The line is
    the user's, not Python's library's where the error was raised ("line 322 of <frozen
    codecs>" for a file read as UTF-8 that is not; json's decoder for bad JSON); a
    syntax error's names the file too."""
    _, db = make_study(tmp_path)
    (tmp_path / "notes.txt").write_bytes(b"caf\xe9\n")  # Latin-1
    broken = {
        "syntax.py": ("x = 1\ndef train(:\n", "SyntaxError: invalid syntax (line 2 of {})"),
        "raises.py": (
            "x = 1\nraise RuntimeError('boom at import')\n",
            "boom at import (line 2 of {})",
        ),
        "missing.py": ("import no_such_module_hpotrack\n", "No module named"),
        "decodes.py": (
            f"x = 1\nnotes = open({str(tmp_path / 'notes.txt')!r}, encoding='utf-8').read()\n",
            "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9 in position 3: "
            "invalid continuation byte (line 2 of {})",
        ),
        "parses.py": ("import json\n\nsettings = json.loads('{')\n", "(char 1) (line 3 of {})"),
        "calls.py": (
            "def setup():\n    raise ValueError('bad')\n\nsetup()\n",
            "ValueError: bad (line 2 of {})",
        ),
    }
    for name, (text, expected) in broken.items():
        (tmp_path / name).write_text(text)
        code, output = invoke(db, "script", "--function", f"{tmp_path / name}:train")
        assert code == 2 and "Traceback" not in output, output
        assert expected.format(tmp_path / name) in output and name in output, output
        # the fix is in the file (or its environment), not in another --function
        assert output.startswith("Error: cannot resume study 'script': running"), output
        assert "pass --function" not in output, output
    assert len(hp.load_study("script", db=db).trials) == 3


def test_a_study_from_a_folder_named_in_latin_1_imports_and_resumes(tmp_path: Path) -> None:
    """Its function's path holds a lone surrogate (``caf\\udce9``, a byte that was not
    UTF-8): it exported, but import refused the whole study ("path must be a string of
    valid Unicode text"). The path is kept, and resume imports the function by it."""
    folder = tmp_path / os.fsdecode(b"caf\xe9")
    folder.mkdir()
    script, db = make_study(folder)
    exported, copy = tmp_path / "s.json", tmp_path / "copy.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "export", "script", "-o", str(exported)])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["--db", str(copy), "import", str(exported)])
    assert result.exit_code == 0, result.output
    assert hp.load_study("script", db=copy).function["path"] == str(script)
    code, output = invoke(copy, "script", "--n-trials", "5")
    assert code == 0, output
    assert len(hp.load_study("script", db=copy).trials) == 5


def test_a_misspelled_function_name_says_which_name(tmp_path: Path) -> None:
    script, db = make_study(tmp_path)
    code, output = invoke(db, "script", "--function", f"{script}:trian")
    assert code == 2 and "no 'trian'" in output and "inside another function" not in output


def test_a_function_declared_differently_is_refused_without_advice_to_delete(
    tmp_path: Path,
) -> None:
    _, db = make_study(tmp_path)
    other = tmp_path / "other.py"
    other.write_text(SCRIPT.replace("hp.Float(0.0, 1.0)", "hp.Float(0.0, 2.0)"))
    code, output = invoke(db, "script", "--n-trials", "5", "--function", f"{other}:train")
    assert code == 2 and "Traceback" not in output
    assert "--function declares study 'script' differently" in output, output
    assert "'x'" in output and "delete" not in output
    assert len(hp.load_study("script", db=db).trials) == 3


HALVING = textwrap.dedent(
    """
    import hpotrack as hp

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=hp.methods.SHA(eta=3), study="script",
             seed=0, budget=hp.Budget(1, 9, name="epochs"))
    def train(x, trial):
        for epoch in trial.steps:
            trial.report(x + 1 / epoch, step=epoch)
        return x
    """
)


def test_a_script_whose_eta_was_edited_is_refused_naming_the_eta_to_keep(tmp_path: Path) -> None:
    """The study's trials stopped at eta=3's rungs; the edited script's eta=2 would rank
    them at other ones. The advice is the script's to follow: not --function."""
    script, db = make_study(tmp_path, 12, HALVING)
    script.write_text(HALVING.replace("SHA(eta=3)", "SHA(eta=2)"))
    code, output = invoke(db, "script", "--n-trials", "20")
    assert code == 2 and "Traceback" not in output and len(output.strip().splitlines()) == 1
    assert "cannot go on with eta=2: its trials were checked at the rungs of eta=3" in output
    assert "Keep eta=3 (method=hp.methods.SHA(eta=3)) to continue it" in output
    assert "--function" not in output and len(hp.load_study("script", db=db).trials) == 12


def test_the_installed_command_imports_function_modules_from_the_current_folder(
    tmp_path: Path,
) -> None:
    """`--function jobmod:train` names a module in the folder the command runs in, as
    `python -m` would find it; a console script does not put that folder on the path."""
    exe = shutil.which("hpotrack")
    if exe is None:
        pytest.skip("the hpotrack entry point is not installed (pip install -e .)")
    _, db = make_study(tmp_path)
    (tmp_path / "jobmod.py").write_text(SCRIPT)
    done = subprocess.run(
        [exe, "--db", str(db), "resume", "script", "--n-trials", "5", "--function", "jobmod:train"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(hp.load_study("script", db=db).trials) == 5


def test_ctrl_c_during_resume_says_how_to_continue(tmp_path: Path) -> None:
    """Not click's bare "Aborted!": the running trial is queued again, and the line
    says the command that continues."""
    hangs = SCRIPT.replace("def train(x):", "def train(x, trial):").replace(
        "    return x",
        "    import time\n    time.sleep(60 if trial.number == 3 else 0.05)\n    return x",
    )
    _, db = make_study(tmp_path, n_trials=1, text=hangs)
    code = "from hpotrack.cli import main; main()"
    run = subprocess.Popen(
        [sys.executable, "-c", code, "--db", str(db), "resume", "script", "--n-trials", "500"],
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60  # then trial 3 runs (in its sleep: not between trials)
    while time.monotonic() < deadline:
        trials = hp.load_study("script", db=db).trials
        if len(trials) == 4 and trials[3].state is hp.TrialState.RUNNING:
            break
        time.sleep(0.05)
    time.sleep(0.2)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "Aborted!" not in err
    assert "Interrupted; any trial the interruption stopped runs again first." in err
    assert err.rstrip().endswith("Continue with: hpotrack resume script")
    queued = [t for t in hp.load_study("script", db=db).trials if t.origin == "retried"]
    assert len(queued) == 1


def test_functions_tuned_without_the_decorator_syntax_run_in_workers_and_resume(
    tmp_path: Path,
) -> None:
    """``tpe = hp.tune(...)(objective)`` (one objective, two studies to compare) records
    ``objective``, the undecorated function: worker processes and resume failed with
    "is not decorated with @hp.tune". They now find the tuned global wrapping it."""
    script = tmp_path / "compare.py"
    script.write_text(
        textwrap.dedent(
            """
            import hpotrack as hp

            def objective(x):
                return (x - 0.3) ** 2

            space = {"x": hp.Float(0.0, 1.0)}
            tpe = hp.tune(space, method="tpe", study="cmp-tpe", db="h.db", seed=0)(objective)
            rnd = hp.tune(space, method="random", study="cmp-random", db="h.db", seed=0)(
                objective
            )

            if __name__ == "__main__":
                tpe.optimize(n_trials=4, n_jobs=2)
                rnd.optimize(n_trials=4, n_jobs=2)
            """
        )
    )
    first = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    db = tmp_path / "h.db"
    for name in ("cmp-tpe", "cmp-random"):
        done = cli_process(db, "resume", name, "--n-trials", "6")
        assert done.returncode == 0, done.stderr
        study = hp.load_study(name, db=db)
        assert [t.state.value for t in study.trials] == ["complete"] * 6
        assert study.method.name == {"cmp-tpe": "tpe", "cmp-random": "random"}[name]


def test_resume_a_study_whose_script_registers_its_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hpotrack` has not imported the script before resume imports it: opening the
    study to find the script failed with "unknown method", so it could never resume."""
    from hpotrack.methods import registry

    text = SCRIPT.replace(
        "@hp.tune({",
        "import dataclasses\n\n"
        "@hp.methods.register\n"
        "@dataclasses.dataclass(frozen=True)\n"
        "class Mine(hp.methods.Random):\n"
        "    name = 'test-mine-resume'\n\n"
        "@hp.tune(method=Mine(), space={",
    )
    _, db = make_study(tmp_path, text=text)
    monkeypatch.delitem(registry._REGISTRY, "test-mine-resume")  # as in a new `hpotrack`
    code, output = invoke(db, "script", "--n-trials", "5")
    assert code == 0, output
    assert "5 trials (5 complete)" in output


ARGUMENTS = textwrap.dedent(
    """
    import argparse
    import hpotrack as hp

    parser = argparse.ArgumentParser()
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--data", default="small")
    args = parser.parse_args()

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="args", db="h.db", seed=0)
    def train(x):
        return {"value": x + args.offset, "data": args.data}

    if __name__ == "__main__":
        train.optimize(n_trials=2)
    """
)


def started_with_arguments(tmp_path: Path, *args: str) -> Path:
    """The database of study "args", started as ``python job.py ARGS...``: its module
    parses them with argparse, whose defaults are another objective (offset 0, data
    "small")."""
    (tmp_path / "job.py").write_text(ARGUMENTS)
    command = [sys.executable, "job.py", *args]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return tmp_path / "h.db"


def ran_with(db: Path, numbers: range) -> set[tuple[bool, str]]:
    """(value >= 100, data) of the given trials: which arguments their script had."""
    trials = hp.load_study("args", db=db).trials
    return {((trials[n].value or 0) >= 100, trials[n].metrics["data"]) for n in numbers}


def test_resume_gives_the_script_the_arguments_its_first_run_was_started_with(
    tmp_path: Path,
) -> None:
    """Resume imported the script with no arguments: its module-level argparse took its
    defaults, and the resumed trials silently optimized another objective (offset 0 on
    data "small"), here, in worker processes, and after a resume of a resume."""
    db = started_with_arguments(tmp_path, "--offset", "100", "--data", "two words")
    assert ran_with(db, range(2)) == {(True, "two words")}
    argv = list(sys.argv)
    code, output = invoke(db, "args", "--n-trials", "4")
    assert code == 0, output
    said = "resuming with the arguments of the study's first run: --offset 100 --data 'two words'"
    assert f"{said} (--args gives others)\n" in output
    assert sys.argv == argv
    done = cli_process(db, "resume", "args", "--n-trials", "8", "--jobs", "2")
    assert done.returncode == 0, done.stderr
    assert said in done.stderr
    assert ran_with(db, range(2, 8)) == {(True, "two words")}


@pytest.mark.parametrize(
    ("given", "expected"),
    [("--offset 100 --data 'from args'", (True, "from args")), ("", (False, "small"))],
    ids=["others", "none"],
)
def test_resume_args_gives_the_script_other_arguments(
    tmp_path: Path, given: str, expected: tuple[bool, str]
) -> None:
    db = started_with_arguments(tmp_path, "--data", "big")
    code, output = invoke(db, "args", "--n-trials", "3", "--args", given)
    assert code == 0 and "resuming with" not in output, output
    assert ran_with(db, range(2)) == {(False, "big")} and ran_with(db, range(2, 3)) == {expected}


def test_a_study_first_run_by_another_program_resumes_without_its_arguments(
    tmp_path: Path,
) -> None:
    """A study first run by a program that imported the script (pytest, a notebook's
    kernel, a driver) recorded that program's arguments: they were never the script's,
    and resume gave them to it (pytest's own `-k ...` to the script's argparse)."""
    db = started_with_arguments(tmp_path, "--data", "big")
    with closing(sqlite3.connect(db)) as conn, conn:
        argv = json.dumps([str(tmp_path / "driver.py"), "--data", "big"])
        conn.execute("UPDATE runs SET argv = ?", (argv,))
    code, output = invoke(db, "args", "--n-trials", "3")
    assert code == 0 and "resuming with" not in output, output
    assert ran_with(db, range(2, 3)) == {(False, "small")}


def test_resume_args_that_cannot_be_split_is_one_line(tmp_path: Path) -> None:
    db = started_with_arguments(tmp_path)
    code, output = invoke(db, "args", "--n-trials", "3", "--args", "--data 'big")
    assert code == 2 and output.count("\n") == 1 and "Traceback" not in output, output
    assert "Invalid value for '--args': \"--data 'big\" cannot be split into arguments" in output
    assert "no closing quotation" in output and len(hp.load_study("args", db=db).trials) == 2


def test_resume_gives_arguments_stored_joined_by_spaces_split_at_spaces(tmp_path: Path) -> None:
    """A run stored before argv was a JSON list kept its words joined by spaces: split at
    spaces again (exact but for a word that held a space), and resume says so."""
    db = started_with_arguments(tmp_path)
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE runs SET argv = 'job.py --offset 100 --data big'")
    code, output = invoke(db, "args", "--n-trials", "3")
    assert code == 0, output
    said = "first run (stored by an older hpotrack: split at spaces): --offset 100 --data big"
    assert said in output
    assert ran_with(db, range(2, 3)) == {(True, "big")}


def test_a_script_refusing_the_first_runs_arguments_names_them_and_args(tmp_path: Path) -> None:
    """The script changed since the study started and refuses its arguments: the error
    names them, and --args to give others."""
    db = started_with_arguments(tmp_path, "--data", "big")
    (tmp_path / "job.py").write_text(ARGUMENTS.replace("data", "corpus"))
    code, output = invoke(db, "args", "--n-trials", "3")
    assert code == 2 and "Traceback" not in output, output
    assert "exited (SystemExit: 2) when imported with the arguments --data big" in output
    assert output.rstrip().endswith("or pass the script others with --args")
    code, output = invoke(db, "args", "--n-trials", "3", "--args", "--corpus big")
    assert code == 0, output
    trials = hp.load_study("args", db=db).trials
    assert [t.metrics.get("corpus") for t in trials] == [None, None, "big"]


def shown_run(db: Path, number: int) -> tuple[dict[str, str | None], str]:
    """Trial ``number``'s provenance as ``hpotrack trial --format json`` gives it, and
    the Provenance section of its table (read in this process: what is shown is what the
    runs stored, whatever process reads it)."""
    data = in_process(db, "trial", "args", str(number), "--format", "json")
    table = in_process(db, "trial", "args", str(number))
    assert data.exit_code == 0 and table.exit_code == 0, data.output + table.output
    return json.loads(data.stdout)["provenance"], table.stdout.split("\nProvenance\n")[1]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_resumed_trial_records_the_resume_command_and_the_scripts_arguments(
    tmp_path: Path, jobs: str
) -> None:
    """A resumed trial's argv was the script's, replayed by resume (the first run's
    arguments): ``hpotrack trial`` showed it as if ``python job.py ...`` had run it
    again. It shows the command that ran it, and what that gave the script, in this
    process and in the workers of --jobs (whose sys.argv is the script's too)."""
    db = started_with_arguments(tmp_path, "--offset", "100", "--data", "two words")
    done = cli_process(db, "resume", "args", "--n-trials", "4", "--jobs", jobs)
    assert done.returncode == 0, done.stderr
    script = f"{tmp_path / 'job.py'} --offset 100 --data 'two words'"
    command = f"--db {db} resume args --n-trials 4 --jobs {jobs}"
    pids = {t.pid for t in hp.load_study("args", db=db).trials[2:]}
    for number in (2, 3):
        provenance, table = shown_run(db, number)
        assert provenance["argv"] == f"-c {command}"  # cli_process runs `python -c ...`
        assert provenance["script_argv"] == script
        shown = f"argv -c {command} script argv {script} run started"
        assert "".join(shown.split()) in "".join(table.split())  # lines wrap at 80 columns
        assert provenance["pid"] in pids
    provenance, table = shown_run(db, 0)  # the first run's: its own command line
    assert provenance["argv"] == "job.py --offset 100 --data 'two words'"
    assert provenance["script_argv"] is None and "script argv" not in table


def test_resume_of_a_study_first_run_by_resume_gives_the_script_those_arguments(
    tmp_path: Path,
) -> None:
    """A study whose first run was a resume (imported from an export without runs, then
    resumed with --args): a later resume finds the arguments that run gave the script,
    not resume's own command line."""
    db = started_with_arguments(tmp_path, "--data", "big")
    export = json.loads(in_process(db, "export", "args").stdout)
    del export["runs"]
    for trial in export["trials"]:
        trial.pop("run", None)
    (tmp_path / "export.json").write_text(json.dumps(export))
    copy = tmp_path / "copy.db"
    assert in_process(copy, "import", str(tmp_path / "export.json")).exit_code == 0
    args = ("--args", "--offset 100 --data 'from args'")
    assert cli_process(copy, "resume", "args", "--n-trials", "3", *args).returncode == 0
    done = cli_process(copy, "resume", "args", "--n-trials", "4")
    assert done.returncode == 0, done.stderr
    said = "resuming with the arguments of the study's first run: --offset 100 --data 'from args'"
    assert said in done.stderr
    assert ran_with(copy, range(2, 4)) == {(True, "from args")}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_script_printing_what_the_terminal_cannot_encode_resumes_with_any_jobs(
    tmp_path: Path, jobs: str
) -> None:
    """``hpotrack`` escapes what its output's encoding cannot write (a study named
    "日本" on a Latin-1 terminal); the worker processes of --jobs 2 wrote strictly, so
    a script printing that name failed each trial there (UnicodeEncodeError) and ran
    with --jobs 1."""
    printing = SCRIPT.replace("    return x\n", "    print('trial of 日本')\n    return x\n")
    _, db = make_study(tmp_path, text=printing)
    command = ["--db", str(db), "resume", "script", "--n-trials", "5", "--jobs", jobs]
    done = subprocess.run(
        [sys.executable, "-c", "from hpotrack.cli import main; main()", *command],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count(b"trial of \\u65e5\\u672c\n") == 2, done.stdout
    assert [t.state for t in hp.load_study("script", db=db).trials] == [hp.TrialState.COMPLETE] * 5


FAILING_METHOD = textwrap.dedent(
    """
    import dataclasses, os
    import hpotrack as hp

    @hp.methods.register
    @dataclasses.dataclass(frozen=True)
    class Failing(hp.methods.Random):
        name = "test-failing-ask"

        def ask(self, history, *args, **kwargs):
            if os.environ.get("FAIL") == "decode":
                b"\\xff".decode("utf-8")
            if os.environ.get("FAIL") == "value":
                raise ValueError("no proposal")
            return super().ask(history, *args, **kwargs)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=Failing(), study="failing", db="h.db", seed=0)
    def train(x):
        return x

    if __name__ == "__main__":
        train.optimize(n_trials=1)
    """
)


FAILURES = {  # FAIL=...: the last line of what resume says
    "decode": "UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff in position 0",
    "value": "ValueError: no proposal",
}


def test_a_unicode_error_in_the_users_method_is_said_as_its_other_errors(tmp_path: Path) -> None:
    """resume caught every UnicodeError as "names must be valid Unicode text: 'utf-8'
    codec can't decode byte 0xff": one raised by the study's own method code named no
    name, nor the file that raised it. It is said as a ValueError there is: the user's
    error, with where in their code it was raised. (One study, resumed once per error:
    a resume that fails to ask leaves it as it was.)"""
    (tmp_path / "job.py").write_text(FAILING_METHOD)
    first = subprocess.run([sys.executable, "job.py"], cwd=tmp_path, capture_output=True)
    assert first.returncode == 0, first.stderr
    command = ["--db", "h.db", "resume", "failing", "--n-trials", "2"]
    for fail, last_line in FAILURES.items():
        done = subprocess.run(
            [sys.executable, "-c", "from hpotrack.cli import main; main()", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "FAIL": fail},
            check=False,
        )
        assert done.returncode != 0 and "names must be valid Unicode text" not in done.stderr
        assert last_line in done.stderr and str(tmp_path / "job.py") in done.stderr, done.stderr
        assert len(hp.load_study("failing", db=tmp_path / "h.db").trials) == 1
