"""``hp.import_study``: an import from Python, of what ``hpotrack import`` reads (an
export, an Optuna database or journal) and of an ``optuna.Study`` object, in memory too."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack.transfer import export_to_file

optuna = pytest.importorskip("optuna")


def objective(trial: Any) -> float:
    """Every kind of parameter, a conditional one, reports, a numeric user attribute,
    a failure and prunes (the median pruner after 4 trials)."""
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 4)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    width = trial.suggest_int("width", 8, 64, step=8) if kind == "b" else 0
    if trial.number == 5:
        raise ValueError("diverged")
    loss = lr * 10 + layers + width / 100
    for step in range(1, 4):
        trial.report(loss + 1 / step, step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    trial.set_user_attr("seconds", 0.5)
    return loss


def run_in_memory() -> Any:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name="memory",
        sampler=optuna.samplers.TPESampler(seed=0),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=0),
    )
    study.enqueue_trial({"lr": 0.01, "layers": 2, "kind": "a"})
    study.optimize(objective, n_trials=16, catch=(ValueError,))
    return study


def described(study: hp.Study) -> list[tuple[Any, ...]]:
    """What an import keeps of each trial, comparable across two imports."""
    return [
        (t.number, t.state, t.params, t.value, t.metrics, t.origin, study.curve(t.number))
        for t in study.trials
    ]


def test_an_optuna_study_in_memory_imports_as_its_database_file_does(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    memory = run_in_memory()
    states = {t.state.name for t in memory.trials}
    assert {"COMPLETE", "PRUNED", "FAIL"} <= states  # the cases the import must carry
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.copy_study(from_study_name="memory", from_storage=memory._storage, to_storage=url)
    db = tmp_path / "h.db"
    with caplog.at_level(logging.INFO, logger="hpotrack"):
        from_object = hp.import_study(memory, db=db)
    from_file = hp.import_study(tmp_path / "optuna.db", study="from-file", db=db)
    assert from_object.name == "memory" and len(from_object.trials) == 16
    assert described(from_object) == described(from_file)
    assert from_object.space == from_file.space
    assert from_object.trials[0].origin == "enqueued"
    best = memory.best_trial
    assert (from_object.best.number, from_object.best.value) == (best.number, best.value)
    assert "imported Optuna study 'memory' as 'memory'" in caplog.text
    assert "@hp.tune(space, study='memory'" in caplog.text


def test_an_export_imports_from_python_as_from_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        return x

    study = train.optimize(n_trials=5)
    exported = tmp_path / "s.json"
    export_to_file(study, "json", exported)
    copy = hp.import_study(exported, study="copy", db=tmp_path / "other.db")
    assert copy.name == "copy" and copy.db_path == tmp_path / "other.db"
    assert described(copy) == described(study)


@pytest.mark.parametrize(
    ("source", "options", "words"),
    [
        (42, {}, "reads a file (an hpotrack export, an Optuna database or journal) or an "),
        ("missing.json", {}, "missing.json"),
        ("memory", {"from_study": "memory"}, "from_study= chooses a study of an Optuna file"),
        ("plain.json", {"from_study": "x"}, "(from_study=) chooses a study of an Optuna"),
        ("bad.json", {}, "bad.json: "),
    ],
)
def test_what_cannot_be_imported_is_one_error_and_stores_nothing(
    tmp_path: Path, source: Any, options: dict[str, Any], words: str
) -> None:
    (tmp_path / "plain.json").write_text("{}", encoding="utf-8")
    (tmp_path / "bad.json").write_text('{"format": "hpotrack-study", "version": 9}')
    if source == "memory":
        source = optuna.create_study(study_name="memory")
    elif isinstance(source, str):
        source = tmp_path / source
    db = tmp_path / "h.db"
    with pytest.raises(hp.HpotrackError) as raised:
        hp.import_study(source, db=db, **options)
    assert words in str(raised.value)
    assert not db.exists() or _no_studies(db)


def _no_studies(db: Path) -> bool:
    from hpotrack.store import open_store

    return not open_store(db, must_exist=True).list_studies()


def test_constraints_func_values_in_memory_import_as_from_the_copied_database(
    tmp_path: Path,
) -> None:
    """In memory Optuna keeps ``constraints_func``'s values as a tuple, which its database
    gives back as a list: both are the study's constraints."""

    def constraints(frozen: Any) -> list[float]:
        return [frozen.user_attrs["excess"], -1.0]

    def objective(trial: Any) -> tuple[float, float]:
        x = trial.suggest_float("x", -1.0, 1.0)
        trial.set_user_attr("excess", x)
        return x * x, 1.0 - x

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():  # experimental in Optuna 3, deprecated in Optuna 5
        warnings.simplefilter("ignore")
        sampler = optuna.samplers.NSGAIISampler(constraints_func=constraints, seed=0)
    memory = optuna.create_study(
        study_name="limited", directions=["minimize", "minimize"], sampler=sampler
    )
    memory.optimize(objective, n_trials=4)
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.copy_study(from_study_name="limited", from_storage=memory._storage, to_storage=url)
    db = tmp_path / "h.db"
    from_object = hp.import_study(memory, db=db)
    from_file = hp.import_study(tmp_path / "optuna.db", study="from-file", db=db)
    assert [c.metric for c in from_object.constraints] == ["constraint_0", "constraint_1"]
    assert from_object.constraints == from_file.constraints
    assert described(from_object) == described(from_file)
    excess = memory.trials[0].user_attrs["excess"]
    assert from_object.trials[0].metrics["constraint_0"] == excess


class OptunaThreeTwoStudy:
    """An ``optuna.Study`` as Optuna 3.2's is seen: ``set_metric_names`` stores the names
    in a study system attribute, and ``Study`` has no ``metric_names`` to read them."""

    def __init__(self, study: Any) -> None:
        self._wrapped = study

    def __getattr__(self, name: str) -> Any:
        if name == "metric_names":
            raise AttributeError(name)
        return getattr(self._wrapped, name)


OptunaThreeTwoStudy.__name__ = "Study"
OptunaThreeTwoStudy.__module__ = "optuna.study.study"


@pytest.mark.filterwarnings("ignore:optuna.study.study.Study.set_metric_names is experimental")
def test_metric_names_of_an_optuna_study_without_the_metric_names_property(
    tmp_path: Path,
) -> None:
    memory = optuna.create_study(study_name="named", directions=["minimize", "maximize"])
    memory.set_metric_names(["loss", "accuracy"])
    memory.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), 3)
    imported = hp.import_study(OptunaThreeTwoStudy(memory), db=tmp_path / "h.db")
    assert imported.objectives == ("loss", "accuracy")
    assert set(imported.trials[0].metrics) == {"loss", "accuracy"}


def test_an_import_into_an_existing_study_is_refused_naming_study_and_stores_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused whichever way the database is given (str, Path, ``HPOTRACK_DB``), saying
    how to choose another name from Python; the import under another name works."""
    memory = optuna.create_study(study_name="twice")
    memory.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPOTRACK_DB", str(tmp_path / "env.db"))
    first = hp.import_study(memory)
    assert first.db_path == tmp_path / "env.db"
    for db in (None, "env.db", tmp_path / "env.db"):
        with pytest.raises(hp.HpotrackError, match=r"'twice' already exists in .*\(study= from"):
            hp.import_study(memory, db=db)
    again = hp.import_study(memory, study="twice-2", db="env.db")
    assert again.db_path == tmp_path / "env.db"
    assert len(hp.load_study("twice", db=tmp_path / "env.db").trials) == 2
