"""A method the user writes and registers (``@hp.methods.register``): what ``register``
and ``@hp.tune`` refuse, what the study loop refuses of its proposals, and the CLI on a
study of it where its code is not imported."""

from __future__ import annotations

import dataclasses
import json
import logging
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import MethodError
from hpotrack.loader import using_argv
from hpotrack.methods import registry as registry_module
from hpotrack.methods.base import Method, Proposal
from hpotrack.methods.history import History
from hpotrack.methods.registry import register
from hpotrack.records import Edge, TrialState

SPACE = {"x": hp.Float(0.0, 1.0), "k": hp.Choice(["a", "b"])}


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, type[Method]]:
    """A registry of this test's own: what it registers is gone afterwards."""
    own = dict(registry_module._REGISTRY)
    monkeypatch.setattr(registry_module, "_REGISTRY", own)
    return own


def sampled(history: History) -> dict[str, Any]:
    return history.space.decode(history.uniform(history.next_number, len(history.space)))


def _plain() -> type:
    class Plain(hp.methods.Method):
        name = "test-plain"

        def ask(self, history: History) -> Proposal:
            return Proposal(params=sampled(history))

    return Plain


def _unfrozen() -> type:
    @dataclasses.dataclass
    class Unfrozen(hp.methods.Method):
        name = "test-unfrozen"
        width: float = 1.0

        def ask(self, history: History) -> Proposal:
            return Proposal(params=sampled(history))

    return Unfrozen


def _nameless() -> type:
    @dataclasses.dataclass(frozen=True)
    class Nameless(hp.methods.Method):
        def ask(self, history: History) -> Proposal:
            return Proposal(params=sampled(history))

    return Nameless


def _random_again() -> type:
    @dataclasses.dataclass(frozen=True)
    class Greedy(hp.methods.Random):  # keeps the name "random"
        pass

    return Greedy


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_nameless, "method class Nameless needs a name, the tag a study stores it by: add "
                    "name = 'nameless' to its class body"),
        (_plain, "method class Plain must be a frozen dataclass of its options (a study "
                 "stores them and rebuilds the method from them): decorate it with "
                 "@dataclasses.dataclass(frozen=True) under @hp.methods.register"),
        (_unfrozen, "method class Unfrozen must be a frozen dataclass"),
        (_random_again, "method name 'random' is taken by a method of hpotrack: give class "
                        "tests.methods.test_custom._random_again.<locals>.Greedy a name of "
                        "its own (name = '...')"),
    ],
    ids=["no name", "not a dataclass", "not frozen", "a built-in's name"],
)  # fmt: skip
def test_register_refuses_a_class_a_study_could_not_store(
    make: Callable[[], type], expected: str
) -> None:
    """A name clash silently replaced the built-in (every `method="random"` study of the
    process then ran the user's class); the others were an AttributeError or a TypeError
    from dataclasses that never named the fix."""
    with pytest.raises(MethodError) as raised:
        register(make())  # type: ignore[type-var]
    assert str(raised.value).startswith(expected)
    assert type(hp.methods.resolve("random")) is hp.methods.Random


def _defined(name: str) -> type[Method]:
    """A method class defined in one place: calling this twice is a notebook cell run
    twice (a new class of the same qualified name)."""

    @dataclasses.dataclass(frozen=True)
    class Mine(hp.methods.Method):
        def ask(self, history: History) -> Proposal:
            return Proposal(params=sampled(history))

    Mine.name = name
    return Mine


def test_a_class_defined_again_replaces_itself_but_another_class_may_not() -> None:
    first = register(_defined("test-mine"))
    again = register(_defined("test-mine"))  # the cell run again
    assert type(hp.methods.resolve("test-mine")) is again is not first

    @dataclasses.dataclass(frozen=True)
    class Other(hp.methods.Method):
        name = "test-mine"

        def ask(self, history: History) -> Proposal:
            return Proposal(params=sampled(history))

    with pytest.raises(MethodError, match=r"'test-mine' is taken by class tests\.methods\."):
        register(Other)


@pytest.mark.parametrize(
    "value", [print, float("nan"), {1: 2}, object()], ids=["function", "nan", "int-keys", "object"]
)
def test_an_option_json_cannot_hold_is_refused_when_decorating(value: object) -> None:
    """It was stored as its repr (or null), and workers and resume rebuilt the method
    with that string in its place: another method than the one the script ran."""

    @register
    @dataclasses.dataclass(frozen=True)
    class Shaped(hp.methods.Method):
        name = "test-shaped"
        shape: object = None

        def ask(self, history: History) -> Proposal:
            return Proposal(params=sampled(history))

    with pytest.raises(MethodError) as raised:
        hp.tune(SPACE, method=Shaped(shape=value))
    assert str(raised.value).startswith(
        f"option shape={value!r} of method 'test-shaped' cannot be stored: a study stores "
        "its method's options as JSON"
    )
    hp.tune(SPACE, method=Shaped(shape={"sizes": [1, 2.5], "kind": None}))  # JSON: fine


def _asking(answer: Callable[[History], object]) -> type[Method]:
    @register
    @dataclasses.dataclass(frozen=True)
    class Asking(hp.methods.Method):
        name = "test-asking"

        def ask(self, history: History) -> Proposal:
            return answer(history)  # type: ignore[return-value]

    return Asking


@pytest.mark.parametrize(
    ("answer", "budget", "expected"),
    [
        (lambda h: None, None, "method 'test-asking': ask() returned None, not a Proposal; "
                               "return hp.methods.Proposal(params=...), or raise "
                               "hp.errors.SearchExhausted when nothing is left to propose"),
        (sampled, None, "method 'test-asking': ask() returned {'x': "),
        (lambda h: Proposal(params={"x": 5.0, "k": "a"}), None,
         "method 'test-asking' proposed trial 0 with values outside the study's space "
         "(`0.0 <= x <= 1.0` must hold, but got x=5.0); propose values of history.space"),
        (lambda h: Proposal(params={"x": 0.5}), None,
         "method 'test-asking' proposed trial 0 with values outside the study's space "
         "(missing hyperparameter(s) 'k')"),
        (lambda h: Proposal(params=sampled(h), parents=(Edge(5, "mutation"),)), None,
         "method 'test-asking' proposed trial 0 with parent Edge(parent=5, kind='mutation', "
         "step=None, detail=None): parents must be hp.Edge(parent, kind) of trials the "
         "study has (none yet)"),
        (lambda h: Proposal(params=sampled(h), budget=0), None,
         "`0 < budget` must hold, but method 'test-asking' proposed trial 0 with budget=0"),
        (lambda h: Proposal(params=sampled(h), budget=10), hp.Budget(1, 4),
         "`0 < budget <= 4` must hold, but method 'test-asking' proposed trial 0 with "
         "budget=10 (the max of the study's budget)"),
        (lambda h: Proposal(params=sampled(h), budget=True), None,
         "`0 < budget` must hold, but method 'test-asking' proposed trial 0 with budget=True"),
        (lambda h: Proposal(params=sampled(h), claim="once"), None,
         "method 'test-asking' proposed trial 1 with claim 'once', which trial 0 holds: a "
         "claim is unique within a study, so check history.is_claimed(claim) before "
         "proposing it"),
        (lambda h: Proposal(params=sampled(h), method="TPE"), None,
         "method 'test-asking' proposed trial 0 as made by method 'TPE', which is not a "
         "registered method's name: Proposal.method names the method the ask was handed "
         "to, one of ['auto', 'bayes', "),
    ],
    ids=["None", "a dict", "out of range", "a name missing", "a parent to come",
         "budget 0", "budget past the max", "budget True", "a claim held",
         "a method not registered"],
)  # fmt: skip
def test_a_bad_proposal_is_one_method_error_and_nothing_is_stored(
    db: Path, answer: Callable[[History], object], budget: hp.Budget | None, expected: str
) -> None:
    """Values outside the space were stored and run (x=5.0 of [0, 1], k='z' of a choice
    of two); a parent that does not exist was stored as lineage; None or a dict was an
    AttributeError inside the loop; a held claim a raw sqlite3.IntegrityError; a
    negative budget was the trial's budget."""

    @hp.tune(SPACE, method=_asking(answer)(), study="s", db=db, seed=0, budget=budget)
    def train(x: float, k: str) -> float:
        return x

    with pytest.raises(MethodError) as raised:
        train.optimize(n_trials=3)
    assert str(raised.value).startswith(expected)
    trials = hp.load_study("s", db=db).trials
    assert [t.state.value for t in trials] == ["complete"] * ("claim" in expected)


def test_a_method_that_hands_its_ask_to_another_stores_both_names(db: Path) -> None:
    """As auto does: the trial names the method the proposal says made it, and the
    study's method as the one that chose it; a proposal that names none is the study's
    method's own."""
    asking = _asking(
        lambda h: Proposal(params=sampled(h), method="random" if h.next_number else None)
    )

    @hp.tune(SPACE, method=asking(), study="s", db=db, seed=0)
    def train(x: float, k: str) -> float:
        return x

    trials = train.optimize(n_trials=3).trials
    assert [(t.method, t.chosen_by) for t in trials] == [
        ("test-asking", None),
        ("random", "test-asking"),
        ("random", "test-asking"),
    ]


def test_the_function_gets_proposed_values_as_the_space_has_them(db: Path) -> None:
    """numpy numbers a method computed reached the user's function as numpy numbers."""
    import numpy as np

    answer = lambda h: Proposal(params={"x": np.float32(0.5), "k": np.str_("b")})  # noqa: E731
    given: list[tuple[type, type]] = []

    @hp.tune(SPACE, method=_asking(answer)(), study="s", db=db, seed=0)
    def train(x: float, k: str) -> float:
        given.append((type(x), type(k)))
        return x

    train.optimize(n_trials=1)
    assert given == [(float, str)]
    assert hp.load_study("s", db=db).trials[0].params == {"x": 0.5, "k": "b"}


# -- the CLI on a study whose method its own script registers ------------------------

SCRIPT = textwrap.dedent(
    """
    import dataclasses
    import hpotrack as hp

    @hp.methods.register
    @dataclasses.dataclass(frozen=True)
    class Mine(hp.methods.Method):
        name = "test-script-method"
        refuses_enqueued = REFUSES
        width: float = 0.5

        def ask(self, history):
            n = history.next_number
            point = history.uniform(n, len(history.space)) * self.width
            return hp.methods.Proposal(params=history.space.decode(point))

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method=Mine(width=0.25), study="mine", seed=0,
             budget=BUDGET)
    def train(x, trial):
        FAIL
        return x

    if __name__ == "__main__":
        raise SystemExit("the main block must not run when hpotrack imports the script")
    """
)


def run_script(
    tmp_path: Path,
    registry: dict[str, type[Method]],
    refuses: str | None = None,
    fail: bool = False,
) -> Path:
    """Run the study of a script that registers its method, then forget the method, as
    a new `hpotrack` process (or a notebook) has never imported it; returns the db."""
    text = SCRIPT.replace("REFUSES", repr(refuses)).replace("FAIL", "1 / 0" if fail else "")
    text = text.replace("BUDGET", "hp.Budget(1, 3)" if fail else "None")
    db = tmp_path / "h.db"
    script_function(tmp_path / "job.py", text).run_study(db=db, n_trials=3)
    del registry["test-script-method"]
    return db


def script_function(script: Path, text: str) -> hp.TunedFunction:
    """``train`` of the script ``text``, written to ``script`` and run as ``python
    script`` would, but for its main block."""
    script.write_text(text)
    namespace: dict[str, object] = {"__name__": "__main__", "__file__": str(script)}
    exec(compile(text.replace('if __name__ == "__main__":', "if False:"), str(script), "exec"),
         namespace)  # fmt: skip
    train = namespace["train"]
    assert isinstance(train, hp.TunedFunction)
    return train


def invoke(db: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_export_and_import_a_study_whose_method_is_not_imported(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    """Both said "unknown method 'test-script-method'", so such a study could never be
    exported, nor an export of it loaded where the script is not imported."""
    db = run_script(tmp_path, registry)
    exported = invoke(db, "export", "mine")
    assert exported.exit_code == 0, exported.output
    method = json.loads(exported.output)["study"]["method"]
    assert method == {"name": "test-script-method", "options": {"width": 0.25}}
    (tmp_path / "mine.json").write_text(exported.output)
    for where, name in ((db, "copy"), (tmp_path / "other.db", "mine")):
        imported = invoke(where, "import", str(tmp_path / "mine.json"), "--study", name)
        assert imported.exit_code == 0, imported.output
        study = hp.load_study(name, db=where)
        assert (study.method_name, len(study.trials)) == ("test-script-method", 3)
        assert study.best.value == hp.load_study("mine", db=db).best.value
    listed = json.loads(invoke(db, "show", "--format", "json").output)
    assert [row["method"] for row in listed] == ["test-script-method"] * 2
    assert "test-script-method" not in registry  # nothing imported the script


def test_a_running_trial_of_a_method_not_imported_stays_failed_and_is_said(
    tmp_path: Path, registry: dict[str, type[Method]], caplog: pytest.LogCaptureFixture
) -> None:
    """Import queues a retry of a trial running when exported by the method's rules, which
    need its class: without it the import failed with "unknown method"; it now keeps the
    trial failed and says how to run it again."""
    db = run_script(tmp_path, registry)
    data = json.loads(invoke(db, "export", "mine").output)
    data["trials"][-1].update(state="running", value=None, finished=None)
    (tmp_path / "mine.json").write_text(json.dumps(data))
    with caplog.at_level(logging.WARNING, logger="hpotrack"):
        imported = invoke(tmp_path / "other.db", "import", str(tmp_path / "mine.json"))
    assert imported.exit_code == 0, imported.output
    trials = hp.load_study("mine", db=tmp_path / "other.db").trials
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 2 + [TrialState.FAILED]
    said = [r.getMessage() for r in caplog.records]
    assert any("1 trial(s) running when exported are not queued again" in m for m in said)


def test_enqueue_imports_the_script_that_registers_the_method(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    """It said "unknown method": whether the method runs queued trials is its class's."""
    db = run_script(tmp_path, registry)
    queued = invoke(db, "enqueue", "mine", "x=0.75")
    assert queued.exit_code == 0, queued.output
    assert queued.output == "enqueued trial 3 in study 'mine'\n"
    assert hp.load_study("mine", db=db).trials[3].params == {"x": 0.75}


def test_enqueue_imports_the_script_with_the_arguments_of_its_first_run(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    """Enqueue imported the script with no arguments: one whose module-level argparse
    requires some exited ("importing that failed"), and no trial could be queued."""
    text = SCRIPT.replace("REFUSES", "None").replace("FAIL", "").replace("BUDGET", "None")
    parsing = (
        "import argparse\nparser = argparse.ArgumentParser()\n"
        "parser.add_argument('--width', type=float, required=True)\nARGS = parser.parse_args()\n"
    )
    text = text.replace("import hpotrack as hp\n", f"import hpotrack as hp\n{parsing}", 1)
    db, script = tmp_path / "h.db", tmp_path / "job.py"
    with using_argv([str(script), "--width", "0.25"]):  # as `python job.py --width 0.25`
        script_function(script, text).run_study(db=db, n_trials=3)
    del registry["test-script-method"]
    queued = invoke(db, "enqueue", "mine", "x=0.75")
    assert queued.output == "enqueued trial 3 in study 'mine'\n"


def test_enqueue_of_a_method_that_refuses_queued_trials_says_why(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    db = run_script(tmp_path, registry, refuses="it proposes every trial itself")
    queued = invoke(db, "enqueue", "mine", "x=0.75")
    assert queued.exit_code != 0
    assert queued.output == (
        "Error: study 'mine' cannot queue trials: it proposes every trial itself\n"
    )
    assert len(hp.load_study("mine", db=db).trials) == 3


def test_enqueue_says_what_to_do_when_the_script_is_gone(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    db = run_script(tmp_path, registry)
    (tmp_path / "job.py").unlink()
    queued = invoke(db, "enqueue", "mine", "x=0.75")
    assert queued.exit_code != 0
    assert queued.output.startswith(
        "Error: cannot tell whether study 'mine' runs queued trials: its method "
        "'test-script-method' is one its own code registers, and importing that failed: "
        "the tuned function was defined in a script that no longer exists"
    )
    assert queued.output.endswith(
        "; queue the trial from Python where that code is imported (study.enqueue({...}))\n"
    )
    with pytest.raises(MethodError) as raised:  # from Python, where nothing imports it
        hp.load_study("mine", db=db).enqueue({"x": 0.5})
    assert str(raised.value).endswith(
        "; import the code that registers it first (the study runs "
        f"{(tmp_path / 'job.py').resolve()})"
    )


def test_best_of_a_study_without_a_complete_trial_says_so(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    """With a budget, `hpotrack best` asked the method how many trials a study needs
    and said "unknown method" instead of that no trial completed."""
    db = run_script(tmp_path, registry, fail=True)
    with pytest.raises(hp.NoCompleteTrial):
        hp.load_study("mine", db=db).best  # noqa: B018
    best = invoke(db, "best", "mine")
    assert best.exit_code != 0
    assert best.output.startswith("Error: study 'mine' has no complete trial")


def test_an_ask_that_raises_in_a_worker_process_says_where(
    tmp_path: Path, registry: dict[str, type[Method]]
) -> None:
    """With n_jobs=2 the run ended in "worker failed: KeyError('oops')": no line of the
    user's method said where (one process shows the whole traceback)."""
    text = SCRIPT.replace("REFUSES", "None").replace("FAIL", "").replace("BUDGET", "None")
    text = text.replace("n = history.next_number", "n = history.next_number\n" + " " * 8 + (
        "if n >= 2: raise KeyError('oops')"))  # fmt: skip
    script = tmp_path / "job.py"
    line = text.splitlines().index(" " * 8 + "if n >= 2: raise KeyError('oops')") + 1
    with pytest.raises(hp.HpotrackError) as raised:
        script_function(script, text).run_study(db=tmp_path / "h.db", n_trials=4, n_jobs=2)
    assert str(raised.value) == f"worker failed: KeyError: 'oops' (line {line} of {script})"
