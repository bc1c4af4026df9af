"""Declaring a study and reopening it: what a second declaration of a study name keeps,
changes or refuses (hpotrack.definition)."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack.definition import method_change
from tests.test_multifidelity import tuned


def _typed_interactively(db: Path) -> hp.TunedFunction:
    """The same declaration typed in a notebook or ``python -c``: a function no other
    process can import (it has no file)."""
    namespace: dict[str, Any] = {"hp": hp, "db": db}
    source = (
        "@hp.tune({'x': hp.Float(0.0, 1.0)}, study='s', db=db, seed=0)\n"
        "def train(x):\n"
        "    return x\n"
    )
    exec(compile(source, "<stdin>", "exec"), namespace)
    tuned: hp.TunedFunction = namespace["train"]
    return tuned


def test_a_manual_trial_typed_interactively_keeps_the_script_the_study_resumes_from(
    db: Path,
) -> None:
    """A manual call (or ``train.study``) from a notebook replaced the recorded script
    by a function without a file: `hpotrack resume` then said the function "was defined
    interactively" and could not run the study, though the script had not moved."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=2)
    recorded = hp.load_study("s", db=db).function
    assert recorded["path"] == str(Path(__file__).resolve())

    interactive = _typed_interactively(db)
    assert interactive(x=0.5) == 0.5  # stored as a trial of the study
    assert len(interactive.study.trials) == 3
    assert hp.load_study("s", db=db).function == recorded


def test_another_seed_says_which_seed_continues_the_study(db: Path) -> None:
    """A study first run without a seed, reopened with ``seed=0`` for reproducibility, was
    told only to take another name or delete its trials."""

    def declare(seed: int | None) -> hp.TunedFunction:
        @hp.tune({"x": hp.Float(0.0, 1.0)}, study="s", db=db, seed=seed)
        def train(x: float) -> float:
            return x

        return train

    stored = declare(None).optimize(n_trials=2).seed
    with pytest.raises(hp.StudyMismatchError) as raised:
        declare(0 if stored else 1).optimize(n_trials=3)
    assert f"(pass seed={stored}, or no seed, to continue it)" in str(raised.value)
    assert len(declare(stored).optimize(n_trials=3).trials) == 3


def test_an_option_stored_before_it_existed_is_no_change_when_given_as_it_ran(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A study stored before ``brackets`` ran asynchronous brackets: reopened with them,
    nothing changed (it logged "brackets None -> 'asynchronous'"); with synchronous
    ones, the change names what the study ran with."""
    tuned(db, hp.methods.Hyperband(brackets="asynchronous"), []).optimize(n_trials=5)
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE studies SET method = json_remove(method, '$.options.brackets')")
        stored = json.loads(connection.execute("SELECT method FROM studies").fetchone()[0])
    connection.close()
    assert "brackets" not in stored["options"]
    with caplog.at_level(logging.INFO, logger="hpotrack"):
        tuned(db, hp.methods.Hyperband(brackets="asynchronous"), []).optimize(n_trials=8)
    assert "method changed" not in caplog.text
    changed = method_change(stored, hp.methods.Hyperband().to_json())
    assert changed == "(hyperband: brackets 'asynchronous' -> 'synchronous')"


def test_an_unknown_name_lists_the_studies_quoted_and_says_how_many_more(db: Path) -> None:
    """With no close match, the message listed the first 10 studies unquoted and said
    nothing of the rest: "my study" read as two studies, and a name past the tenth looked
    absent from the file."""
    names = ["my study", "a, b", *(f"s{i:02}" for i in range(10))]
    for name in names:
        hp.tune({"x": hp.Float(0.0, 1.0)}, study=name, db=db, seed=0)(lambda x: x).study  # noqa: B018 - creates it
    with pytest.raises(hp.StudyNotFoundError) as raised:
        hp.load_study("zzzz", db=db)
    listed = ", ".join(map(repr, sorted(names)[:10]))
    assert str(raised.value).endswith(f"(studies: {listed}, and 2 more)")
