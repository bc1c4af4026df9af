"""Hyperopt's and Ray Tune's habits in a ported script get one error naming hpotrack's way
(they were bare AttributeErrors, or a "did you mean" pointing at the wrong thing), and
docs/porting.md's snippets run."""

from __future__ import annotations

import pkgutil
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.errors import CallError, MethodError, SpaceError
from hpotrack.methods import resolve

SPACE = {"x": hp.Float(0.0, 1.0)}
DOCS = Path(__file__).resolve().parents[1] / "docs" / "porting.md"


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("uniform", "hpotrack spells it hp.Float(low, high)"),
        ("loguniform", "hp.Float(low, high, log=True), with the bounds themselves"),
        ("quniform", "hp.Float(low, high, step=q), or hp.Int(low, high, step=q)"),
        ("qloguniform", "hp.Int(low, high, log=True)"),
        ("choice", "hp.Choice([...]) or a plain list; the function gets the option itself"),
        ("randint", "hp.Int(low, high), both bounds included: Hyperopt's"),
        ("normal", "hpotrack's spaces are bounded: hp.Float(low, high)"),
        ("fmin", "decorate the function, @hp.tune(space, method='tpe')"),
        ("tpe", "method='tpe' of @hp.tune"),
        ("Trials", "every trial is stored in the study's database"),
        ("STATUS_OK", "return the objective (a number, or a dict with objective= naming"),
        ("grid_search", "method='grid' runs every combination"),
        ("Tuner", "decorate the function"),
        ("ASHAScheduler", "method='sha' of @hp.tune, with budget=hp.Budget(min, max)"),
        ("HyperBandForBOHB", "method='bohb' of @hp.tune"),
        ("PopulationBasedTraining", "method='pbt'"),
    ],
)
def test_hyperopts_and_rays_names_on_the_module_say_hpotracks(name: str, hint: str) -> None:
    with pytest.raises(AttributeError) as raised:
        getattr(hp, name)
    assert str(raised.value).startswith(f"module 'hpotrack' has no attribute {name!r}; ")
    assert hint in str(raised.value)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("TrialPruned", "hpotrack spells it hp.Pruned: trial.report() raises it at a check"),
        ("create_study", "@hp.tune(space, study=..., db=..., direction=..., method=...)"),
        ("samplers", "hp.methods has the methods and hp.pruners the pruners"),
        ("visualization", "hp.plots draws a study"),
        ("delete_study", "on the command line, hpotrack delete STUDY"),
    ],
)
def test_optunas_names_on_the_module_say_hpotracks(name: str, hint: str) -> None:
    """``raise hp.TrialPruned()`` (Optuna's ``optuna.TrialPruned``) was a bare
    AttributeError, raised in the middle of a trial."""
    with pytest.raises(AttributeError) as raised:
        getattr(hp, name)
    assert str(raised.value).startswith(f"module 'hpotrack' has no attribute {name!r}; {hint}")


def test_the_hint_table_hides_no_public_name() -> None:
    assert not set(hp.PORTING) & (set(hp.__all__) | set(vars(hp)) - {"PORTING"})
    # an imported submodule is an attribute of the package: a module named choice.py made
    # hp.choice the module instead of the hint for Hyperopt's hp.choice
    assert not set(hp.PORTING) & {module.name for module in pkgutil.iter_modules(hp.__path__)}
    assert not hasattr(hp, "loguniform")  # still missing for hasattr and editors


@pytest.mark.parametrize(
    ("call", "expected"),
    [  # the old message's guess in a comment
        (lambda: hp.tune(SPACE, metric="loss"), "tune() takes no metric=: objective= names"),
        (lambda: hp.tune(SPACE, mode="max"), "tune() takes no mode=: direction= is"),  # method=?
        (lambda: hp.tune(SPACE, max_evals=9), "tune() takes no max_evals=: train.optimize(n_t"),
        (lambda: hp.tune(SPACE, scheduler=0), "tune() takes no scheduler=: early stopping is"),
        (lambda: hp.tune(SPACE, algo=0), "tune() takes no algo=: method= chooses the search"),
        (lambda: hp.tune(SPACE, param_space={}), "tune() takes no param_space=: the space is"),
        (lambda: hp.tune(SPACE, reduction_factor=3), "tune() takes no reduction_factor=: eta"),
    ],
)
def test_hyperopts_and_rays_arguments_say_what_hpotrack_takes(call: object, expected: str) -> None:
    with pytest.raises(CallError) as raised:
        call()  # type: ignore[operator]
    assert str(raised.value).startswith(expected)


def test_optimizes_hyperopt_and_ray_arguments_are_not_guessed_wrong(tmp_path: Path) -> None:
    train = hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)(lambda x: x)
    for keyword, expected in [
        ("trials", "every trial is stored in the study's database"),  # was n_trials=?
        ("num_samples", "train.optimize(n_trials=...) sets the number of trials"),
        ("time_budget_s", "timeout= of optimize() stops the search"),  # was max_budget=?
    ]:
        with pytest.raises(CallError) as raised:
            train.optimize(**{keyword: 1})
        assert str(raised.value).startswith(f"optimize() takes no {keyword}=: {expected}")
    assert train.study.trials == []


def test_an_unknown_argument_without_a_close_name_reads_as_one_sentence() -> None:
    with pytest.raises(CallError, match=r"^tune\(\) takes no colour=; it takes space, method"):
        hp.tune(SPACE, colour="red")  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("given", "hint"),
    [
        ("tpe.suggest", "; did you mean 'tpe'?"),
        ("rand.suggest", "; did you mean 'random'?"),
        ("anneal", "; did you mean 'evolution'?"),  # was 'manual'
        ("ASHAScheduler", "; did you mean 'sha'?"),
        ("HyperBandForBOHB", "; did you mean 'bohb'?"),  # was 'hyperband'
        ("HpBandSter", "; did you mean 'bohb'?"),  # was 'hyperband'
        ("PopulationBasedTraining", "; did you mean 'pbt'?"),
        ("HyperOptSearch", "; did you mean 'tpe'?"),
        ("grid_search", "; did you mean 'grid'?"),
        ("MedianStoppingRule", "; did you mean method=hp.methods.TPE(pruner='median')?"),
    ],
)
def test_hyperopts_and_rays_method_names_suggest_hpotracks(given: str, hint: str) -> None:
    with pytest.raises(MethodError) as raised:
        resolve(given)
    assert str(raised.value).startswith(f"unknown method {given!r}{hint} (known methods: auto,")


def test_a_hyperopt_loss_dict_is_an_objective_named_loss(tmp_path: Path) -> None:
    """A Hyperopt function's {"loss", "status"} with objective="loss": the status is stored
    as one more metric, and the loss is the value."""

    @hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0, objective="loss")
    def objective(x: float) -> dict[str, object]:
        return {"loss": x, "status": "ok"}

    (trial,) = objective.optimize(n_trials=1).trials
    assert trial.value == trial.metrics["loss"] and trial.metrics["status"] == "ok"


def test_a_function_taking_one_config_dict_is_told_to_take_keywords(tmp_path: Path) -> None:
    """Ray Tune's train(config), Hyperopt's objective(params)."""
    with pytest.raises(hp.TrialError) as raised:

        @hp.tune({"lr": hp.Float(1e-3, 1.0), "n": hp.Int(1, 3)}, db=tmp_path / "h.db")
        def train(config: dict[str, float], trial: hp.Trial) -> float:
            return config["lr"]

    assert str(raised.value).endswith(
        "; hpotrack passes each hyperparameter by name, not one dict: "
        "def train(**config) keeps 'config' a dict"
    )


def test_one_name_for_one_hyperparameter_is_not_told_to_take_a_dict(tmp_path: Path) -> None:
    """train(lr) for a space of learning_rate is a misnamed parameter: the one-dict advice
    (def train(**lr)) was wrong for it."""
    with pytest.raises(hp.TrialError) as raised:

        @hp.tune({"learning_rate": hp.Float(1e-3, 1.0)}, db=tmp_path / "h.db")
        def train(lr: float) -> float:
            return lr

    assert str(raised.value).endswith(
        "train() does not accept the hyperparameter(s) 'learning_rate': add them to its "
        "parameters (or **kwargs)"
    )


def test_reports_of_a_dict_or_by_keyword_say_one_metric_per_call(tmp_path: Path) -> None:
    """Ray Tune's report({"loss": ...}) and report(loss=...)."""
    said = []

    @hp.tune(SPACE, db=tmp_path / "h.db", study="s", seed=0)
    def train(x: float, trial: hp.Trial) -> float:
        for report in (
            lambda: trial.report({"loss": x, "acc": 1.0}, step=1),  # type: ignore[arg-type]
            lambda: hp.report(loss=x),  # type: ignore[call-arg]
            lambda: trial.report(x, step=1, loss=x),  # type: ignore[call-arg]
        ):
            with pytest.raises(hp.HpotrackError) as raised:
                report()
            said.append(f"{raised.value} ({isinstance(raised.value, TypeError)})")
        return x

    train(x=0.5)
    assert said == [  # a wrong call is still a TypeError (a CallError)
        "report() takes one metric per call, but got a dict {'loss': 0.5, 'acc': 1.0}: "
        "report(value, step, name='loss') for each (the objective without name=) (False)",
        "report() takes no loss=; it takes value, step, name, prune (True)",
        "report() takes no loss=; it takes value, step, name, prune (True)",
    ]


@pytest.mark.parametrize(
    "nested",
    [
        lambda: hp.Choice([{"type": "svm", "C": hp.Float(0.1, 10.0)}, {"type": "forest"}]),
        lambda: hp.Space({"model": ["svm", "forest"], "svm": {"C": hp.Float(0.1, 10.0)}}),
    ],
)
def test_a_hyperopt_nested_choice_is_told_to_use_when(nested: Callable[[], object]) -> None:
    """Hyperopt nests sub-space dicts in hp.choice; hpotrack's spaces are flat, with when=."""
    with pytest.raises(SpaceError) as raised:
        nested()
    assert str(raised.value).endswith(
        "; a choice among sub-spaces (Hyperopt's nested hp.choice) is written flat: a Choice "
        "of the branches' names, and each branch's parameters with when={'model': 'svm'} "
        "(docs/spaces.md, Conditional parameters)"
    )


def _quoted_messages() -> list[str]:
    """The messages docs/porting.md quotes, ("...") or with "...", outside code blocks."""
    text = " ".join(re.sub(r"```.*?```", "", DOCS.read_text(), flags=re.S).split())
    return [
        quote.removesuffix("...").strip()
        for quote in re.findall(r'(?:\(|with )"([^"`]{20,})"', text)
    ]


def test_the_messages_the_porting_page_quotes_are_hpotracks(tmp_path: Path) -> None:
    """Two had changed in the code and not on the page (a dict report said "report()
    needs a number")."""
    with pytest.raises(hp.TrialError) as raised:  # Hyperopt's objective(params)
        hp.tune({"lr": (1e-3, 1.0), "n": (1, 3)}, db=tmp_path / "h.db")(lambda params: 0.0)
    said = [str(raised.value)]

    def hyperopts(x: float) -> dict[str, object]:
        return {"loss": x, "status": "ok"}

    def rays(x: float, trial: hp.Trial) -> None:  # only reports, returns nothing
        trial.report(x, step=1)

    def a_dict_report(x: float, trial: hp.Trial) -> float:
        trial.report({"loss": 0.42}, step=1)  # type: ignore[arg-type]
        return x

    cases: list[tuple[Callable[..., object], str]] = [
        (hyperopts, "value"),
        (rays, "loss"),
        (a_dict_report, "loss"),
    ]
    for number, (fn, objective) in enumerate(cases):
        train = hp.tune(SPACE, db=tmp_path / "h.db", study=f"s{number}", objective=objective)
        (trial,) = train(fn).optimize(n_trials=1).trials
        said.append(" ".join(str(trial.error).split()))
    quoted = _quoted_messages()
    assert len(quoted) == 4, quoted
    for quote in quoted:
        assert any(quote in message for message in said), (quote, said)


def _snippets() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)


@pytest.mark.parametrize("number", range(len(_snippets())))
def test_the_porting_pages_snippets_run(number: int, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(_snippets()[number])
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "target of" in done.stderr and done.stdout.startswith("{")
