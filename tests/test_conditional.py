"""Conditional parameters (``when=``): definition and its errors, the encoding every method
shares (decode drops, encode fills, grids per branch), models, stored studies, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import hpotrack as hp
from hpotrack.cli import cli
from hpotrack.errors import SpaceError, TrialError
from hpotrack.methods.base import Proposal
from hpotrack.methods.bayes import Features
from hpotrack.methods.evolution import _Genes
from hpotrack.methods.history import History
from hpotrack.methods.parzen import Dimensions, ParzenEstimator
from hpotrack.plots.params_plot import INACTIVE_ROW
from hpotrack.records import TrialState
from hpotrack.space import Choice, Param, Space, param_from_json
from hpotrack.space_rules import INACTIVE
from hpotrack.testing.driver import record
from hpotrack.testing.method_suite import CONDITIONAL_SPACE
from hpotrack.transfer import export_study, write_export
from hpotrack.transfer.format import VERSION
from tests.test_space import choices, encoding_tolerance, few, floats, grid_params, ints, kind

SVC = {
    "kernel": hp.Choice(["linear", "rbf", "poly"]),
    "c": hp.Float(1e-3, 1e3, log=True),
    "gamma": hp.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"}),
    "degree": hp.Int(2, 5, when={"kernel": ["poly"]}),
}


# --- definitions ------------------------------------------------------------------------------


def test_when_is_stored_checked_and_shown() -> None:
    gamma = hp.Float(1e-4, 1.0, log=True, when={"kernel": "rbf"})
    assert gamma.when == (("kernel", ("rbf",)),)
    assert repr(gamma) == "Float(0.0001, 1.0, log=True, when={'kernel': ['rbf']})"
    assert gamma.to_json()["when"] == {"kernel": ["rbf"]}
    assert param_from_json(gamma.to_json()) == gamma
    assert "when" not in hp.Float(0.0, 1.0).to_json()  # stored studies keep their JSON
    assert hp.Choice([1], when={"a": True}) != hp.Choice([1], when={"a": 1})  # typed alike
    assert hp.Choice([1], when={"a": [1]}) == hp.Choice([1], when={"a": 1})
    assert hash(hp.Choice([1], when={"a": [1]})) == hash(hp.Choice([1], when={"a": 1}))
    space = Space(SVC)
    assert Space.from_json(json.loads(json.dumps(space.to_json()))) == space


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"kernel": ["rbf"], "gamma": hp.Float(0, 1, when={"kernal": "rbf"})},
            "parameter 'gamma': `when` names 'kernal', which is not a parameter of the "
            "space; did you mean 'kernel'?",
        ),
        (
            {"kernel": ["rbf"], "gamma": hp.Float(0, 1, when={"zzz": "rbf"})},
            "`when` names 'zzz', which is not a parameter of the space (the space has 'kernel')",
        ),
        (  # the only parameter: the hint named no other ("the space has )")
            {"gamma": hp.Float(0, 1, when={"kernel": "rbf"})},
            "parameter 'gamma': `when` names 'kernel', which is not a parameter of the space: "
            "add 'kernel' to the space, as a hp.Choice([...]) of its options",
        ),
        (
            {"kernel": ["linear", "rbf"], "gamma": hp.Float(0, 1, when={"kernel": "rfb"})},
            "parameter 'gamma': `when` gives a value 'kernel' never takes: kernel='rfb' is "
            "not one of the options ['linear', 'rbf']",
        ),
        (
            {"layers": hp.Int(1, 3), "units3": hp.Int(8, 64, when={"layers": 3})},
            "parameter 'units3': `when` names 'layers', which is Int(1, 3): a condition's "
            "parent must be a hp.Choice",
        ),
        (
            {"a": hp.Choice([1], when={"a": 1})},
            "parameter 'a': `when` names the parameter itself",
        ),
        (
            {
                "x": hp.Float(0, 1),
                "a": hp.Choice([1, 2], when={"b": 1}),
                "b": hp.Choice([1, 2], when={"a": 2}),
            },
            "parameter 'a': `when` conditions form a cycle ('a' -> 'b' -> 'a', each depending "
            "on the next); each chain of conditions must end at a parameter without `when`",
        ),
    ],
)
def test_space_definition_errors(definition: dict[str, Any], message: str) -> None:
    with pytest.raises(SpaceError) as caught:
        Space(definition)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({}, "`when` must be a non-empty dict of parameter name -> value(s), but got when={}"),
        ("kernel", "`when` must be a non-empty dict"),
        ({"kernel": []}, "`when` gives no value for 'kernel': list at least one"),
        ({"kernel": [[1]]}, "unsupported value type list"),
    ],
)
def test_when_errors(when: object, message: str) -> None:
    with pytest.raises(SpaceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        hp.Float(0.0, 1.0, when=when)  # type: ignore[arg-type]


def test_when_is_a_keyword_only_option() -> None:
    with pytest.raises(SpaceError, match=r"takes at most 4 positional argument\(s\)"):
        hp.Float(0.0, 1.0, False, None, {"k": 1})  # type: ignore[misc]
    with pytest.raises(SpaceError, match="did you mean 'when'"):
        hp.Int(1, 2, whenn={"k": 1})  # type: ignore[call-arg]


# --- the encoding -----------------------------------------------------------------------------


def test_decode_drops_inactive_parameters_and_encode_fills_them() -> None:
    space = Space(SVC)
    assert space.decode([0.1, 0.5, 0.9, 0.9]) == {"kernel": "linear", "c": 1.0}
    assert space.decode([0.5, 0.5, 0.5, 0.9]) == {
        "kernel": "rbf",
        "c": 1.0,
        "gamma": pytest.approx(0.01),
    }
    assert space.decode([0.9, 0.5, 0.9, 0.9]) == {"kernel": "poly", "c": 1.0, "degree": 5}
    u = space.encode({"kernel": "linear", "c": 1.0})
    assert u[2] == u[3] == INACTIVE
    rows = [{"kernel": "linear", "c": 1.0}, {"kernel": "poly", "c": 1.0, "degree": 2}]
    assert np.array_equal(space.encode_many(rows), np.vstack([space.encode(r) for r in rows]))
    assert space.inactive_mask(space.encode_many(rows)).tolist() == [
        [False, False, True, True],
        [False, False, True, False],
    ]


def test_validate_refuses_inactive_values_and_wants_active_ones() -> None:
    space = Space(SVC)
    with pytest.raises(SpaceError) as caught:
        space.validate({"kernel": "linear", "c": 1.0, "gamma": 0.1})
    assert str(caught.value) == (
        "hyperparameter 'gamma' applies only when kernel is 'rbf', but got "
        "kernel='linear': leave 'gamma' out"
    )
    with pytest.raises(SpaceError, match=r"^missing hyperparameter\(s\) 'gamma'$"):
        space.validate({"kernel": "rbf", "c": 1.0})
    with pytest.raises(SpaceError, match="applies only when kernel is 'rbf': give 'kernel' too"):
        space.validate({"gamma": 0.1}, partial=True)
    with pytest.raises(SpaceError, match="applies only when kernel is 'rbf'"):
        space.encode({"kernel": "poly", "c": 1.0, "degree": 2, "gamma": 0.1})
    assert space.validate({"kernel": "poly", "c": 1, "degree": 3.0}) == {
        "kernel": "poly",
        "c": 1.0,
        "degree": 3,
    }
    assert space.validate({"gamma": 0.1, "kernel": "rbf"}, partial=True) == {
        "kernel": "rbf",
        "gamma": 0.1,
    }


def test_a_chain_of_conditions() -> None:
    space = CONDITIONAL_SPACE  # tol exists when shrink is True, shrink when kernel is poly
    poly = {"kernel": "poly", "C": 1.0, "degree": 2, "coef0": 0.5, "shrink": True}
    assert space.validate({**poly, "tol": 1e-3})["tol"] == 1e-3
    assert space.inactive({**poly, "kernel": "rbf", "gamma": 0.1}) >= {"shrink", "tol"}
    with pytest.raises(SpaceError, match="'shrink' applies only when kernel is 'poly'"):
        space.validate({"kernel": "rbf", "C": 1.0, "gamma": 0.1, "coef0": 0.5, "shrink": True})
    assert space.missing({"kernel": "poly"}) == ["C", "degree", "coef0", "shrink"]


def test_keys_tell_an_inactive_parameter_from_any_value() -> None:
    space = Space({"k": ["a", "b"], "x": hp.Choice([None, 1], when={"k": "a"})})
    keys = {space.key(p) for p in ({"k": "b"}, {"k": "a", "x": None}, {"k": "a", "x": 1})}
    assert len(keys) == 3


def test_grid_enumerates_each_branch_once() -> None:
    space = Space(SVC)
    # linear: 3 c; rbf: 3 c x 3 gamma; poly: 3 c x 3 degrees (not 3 x 3 x 3 per kernel)
    assert space.grid_size(3) == 3 + 9 + 9
    cells = [space.grid_cell(i, 3) for i in range(space.grid_size(3))]
    assert len({space.key(cell) for cell in cells}) == len(cells)
    assert all(space.validate(cell) == cell and space.on_grid(cell, 3) for cell in cells)
    assert sum(cell["kernel"] == "linear" for cell in cells) == 3
    history = hp.methods.History(space, "minimize", 0)
    method = hp.methods.Grid(grid_points=3)
    assert method.trials_left(history) == 21


@st.composite
def conditional_spaces(draw: st.DrawFn, kinds: st.SearchStrategy[Param]) -> Space:
    """Spaces of 2 to 6 parameters, each after the first conditional on an earlier
    Choice (chains included) with some probability."""
    definition: dict[str, Param] = {}
    for i in range(draw(st.integers(2, 6))):
        param = draw(kinds)
        parents = [name for name, p in definition.items() if isinstance(p, Choice)]
        if parents and draw(st.booleans()):
            parent = draw(st.sampled_from(parents))
            options = cast_choice(definition[parent]).options
            chosen = draw(st.lists(st.sampled_from(options), min_size=1, unique_by=kind))
            param = dataclasses.replace(param, when={parent: chosen})
        definition[f"p{i}"] = param
    return Space(definition)


def cast_choice(param: Param) -> Choice:
    assert isinstance(param, Choice)
    return param


@few
@given(conditional_spaces(st.one_of(floats(), ints(), choices)), st.data())
def test_conditional_encode_decode_round_trips(space: Space, data: st.DataObject) -> None:
    u = data.draw(st.lists(st.floats(0.0, 1.0), min_size=len(space), max_size=len(space)))
    params = space.decode(u)
    assert set(params) == set(space) - space.inactive(params)
    assert space.validate(params) == params
    point = space.encode(params)
    assert space.key(space.decode(point)) == space.key(params)
    mask = space.inactive_mask(point)[0]
    assert [name for name, off in zip(space, mask, strict=True) if off] == [
        name for name in space if name not in params
    ]
    assert all(point[mask] == INACTIVE)
    # numpy's vectorised log (encode_many) may differ from math.log (encode) by an ulp
    tolerance = np.array([encoding_tolerance(p) for p in space.values()])
    assert (np.abs(space.encode_many([params])[0] - point) <= tolerance).all()
    assert Space.from_json(json.loads(json.dumps(space.to_json()))) == space


@few
@given(conditional_spaces(grid_params), st.integers(2, 3))
def test_conditional_grids_hold_every_configuration_once(space: Space, g: int) -> None:
    size = space.grid_size(g)
    cells = [space.grid_cell(i, g) for i in range(size)]
    assert len({space.key(cell) for cell in cells}) == size
    assert all(space.validate(cell) == cell for cell in cells)
    # the same as listing the full product and keeping its distinct active parts
    full = Space({n: dataclasses.replace(p, when=None) for n, p in space.items()})
    distinct = {
        space.key(space.drop_inactive(full.grid_cell(i, g))) for i in range(full.grid_size(g))
    }
    assert distinct == {space.key(cell) for cell in cells}


# --- models -----------------------------------------------------------------------------------


def test_parzen_ignores_inactive_coordinates() -> None:
    """An observation's kernel is uniform where its parameter was inactive, and a
    point's inactive coordinates are not scored."""
    space = Space({"k": ["a", "b"], "x": hp.Float(0.0, 1.0, when={"k": "a"})})
    inactive = space.encode_many([{"k": "b"}] * 20)  # x sits at 0.5 in the encoding
    estimator = ParzenEstimator(inactive, Dimensions.of(space))
    x = estimator.sample(np.random.default_rng(0), 2000)[:, 1]
    assert 0.4 < float(np.mean(np.abs(x - 0.5) > 0.25)) < 0.6  # uniform, not piled at 0.5
    mixed = space.encode_many([{"k": "b"}] * 5 + [{"k": "a", "x": 0.1}] * 5)
    fitted = ParzenEstimator(mixed, Dimensions.of(space))
    density = fitted.log_pdf([[0.75, 0.1], [0.75, 0.9], [0.25, 0.1], [0.25, 0.9]])
    assert density[0] == pytest.approx(density[1])  # k=b: x does not exist
    assert density[2] > density[3] + 1.0  # k=a: x fitted on the trials with x, near 0.1


def test_gp_features_hold_inactive_coordinates_constant() -> None:
    features = Features(Space(SVC))
    rows = features.of_unit(np.array([[0.1, 0.3, 0.2, 0.9], [0.1, 0.3, 0.8, 0.1]]))
    assert np.array_equal(rows[0], rows[1])  # linear: gamma and degree do not exist


def test_evolution_mutates_a_gene_the_parent_keeps_active() -> None:
    """A forced mutation that changed only an inactive gene would give the parent back."""
    space = Space(
        {
            "k": ["a", "b"],
            **{f"x{i}": hp.Float(0.0, 1.0, when={"k": "a"}) for i in range(5)},
            "y": hp.Float(0.0, 1.0),
        }
    )
    method, genes = hp.methods.Evolution(mutation_rate=1e-9), _Genes(space, 1e-9)
    parent = space.encode({"k": "b", "y": 0.3})
    for seed in range(40):
        child = method._mutate(parent, genes, np.random.default_rng(seed), force=True)
        assert space.decode(child) != space.decode(parent), seed


TWO_BRANCHES = Space(
    {
        "k": ["a", "b"],
        "x": hp.Float(0.0, 1.0, when={"k": "a"}),
        "y": hp.Float(0.0, 1.0, when={"k": "b"}),
        "z": hp.Float(0.0, 1.0),
    }
)


def evolution_children(method: hp.methods.Evolution, members: list[dict[str, Any]]) -> list[Any]:
    """What ``method`` proposes next, from 80 seeds, after ``members`` completed in order
    (the first one best)."""
    children = []
    for seed in range(80):
        history = History(TWO_BRANCHES, "minimize", seed)
        for number, params in enumerate(members):
            history.update(record(number, Proposal(params), TrialState.COMPLETE, float(number)))
        children.append(method.ask(history).params)
    return children


def test_evolution_crosses_only_the_genes_both_parents_have() -> None:
    """A gene one parent leaves inactive is a placeholder (the middle of the range), not a
    value: crossing it with the other parent's would pull that parent's value to the
    middle. Here every member keeps its branch's value in 0.95..0.99, so a child keeps it
    unless mutated (mutation_rate=0.05, small polynomial steps) or made unlike a member
    by widening mutations."""
    members = [
        {"k": "a", "x": 0.95 + i / 500, "z": i / 20}
        if i % 2
        else {"k": "b", "y": 0.95 + i / 500, "z": i / 20}
        for i in range(20)
    ]
    method = hp.methods.Evolution(population=20, crossover_rate=1.0, mutation_rate=0.05)
    children = evolution_children(method, members)
    values = [child["x" if child["k"] == "a" else "y"] for child in children]
    pulled = [round(v, 3) for v in values if v < 0.9]
    assert len(pulled) <= 12, pulled  # 7 of 80; without filling the placeholders 25


def test_evolution_draws_a_gene_its_mutation_activates() -> None:
    """A mutation that moves a child to branch ``b`` activates ``y``, which every parent
    left inactive: it is drawn, not left at the placeholder (the middle of the range)."""
    members = [{"k": "a", "x": 0.5 + i / 50, "z": i / 20} for i in range(20)]
    method = hp.methods.Evolution(population=20, crossover_rate=0.0, mutation_rate=0.5)
    switched = [child["y"] for child in evolution_children(method, members) if child["k"] == "b"]
    assert len(switched) >= 10
    near_middle = sum(abs(y - 0.5) < 0.05 for y in switched)
    assert near_middle <= len(switched) // 4, switched  # without drawing: 33 of 40


# --- studies ----------------------------------------------------------------------------------


def tuned_svc(db: Path, method: str = "random") -> hp.TunedFunction[Any]:
    @hp.tune(SVC, method=method, study="svc", db=db, seed=0)
    def train(
        kernel: str, c: float, gamma: float | None = None, degree: int | None = None
    ) -> float:
        assert (gamma is not None) == (kernel == "rbf")
        assert (degree is not None) == (kernel == "poly")
        return abs(math.log10(c)) + (gamma or 0.0) + (degree or 0)

    return train


def test_a_study_stores_and_passes_only_active_parameters(tmp_path: Path) -> None:
    train = tuned_svc(tmp_path / "c.db")
    study = train.optimize(n_trials=12)
    assert all(t.state.value == "complete" for t in study.trials)  # the asserts held
    for trial in hp.load_study("svc", db=tmp_path / "c.db").trials:
        assert set(trial.params) == set(SVC) - Space(SVC).inactive(trial.params)
    frame = study.to_dataframe()
    columns = [c for c in frame.columns if c.startswith("param_")]
    assert columns == ["param_kernel", "param_c", "param_gamma", "param_degree"]
    linear = frame[frame.param_kernel == "linear"]
    assert len(linear) and linear.param_gamma.isna().all() and linear.param_degree.isna().all()
    assert train(kernel="linear", c=1.0) == 0.0
    with pytest.raises(SpaceError, match="leave 'gamma' out"):
        train(kernel="linear", c=1.0, gamma=0.1)
    with pytest.raises(SpaceError, match=r"got none for 'gamma'.*train\(kernel='rbf', c=1.0, "):
        train(kernel="rbf", c=1.0)


def test_enqueue_draws_only_what_the_given_values_keep_active(tmp_path: Path) -> None:
    study = tuned_svc(tmp_path / "c.db").study
    poly = study.enqueue({"kernel": "poly"})
    assert set(study.trial(poly).params) == {"kernel", "c", "degree"}
    with pytest.raises(SpaceError, match="give 'kernel' too"):
        study.enqueue({"gamma": 0.1})
    with pytest.raises(SpaceError, match="applies only when kernel is 'rbf'"):
        study.enqueue({"kernel": "poly", "gamma": 0.1})


def test_a_function_without_a_default_for_a_conditional_parameter_is_refused() -> None:
    with pytest.raises(TrialError) as caught:

        @hp.tune(SVC, db=":memory:")
        def train(kernel: str, c: float, gamma: float, degree: int = 2) -> float:
            return c

    assert str(caught.value).endswith(
        ".<locals>.train() requires 'gamma', which the space makes conditional (`when=`): a "
        "trial where it is inactive does not pass it; give it a default, e.g. "
        "def train(..., gamma=None)"
    )

    @hp.tune(SVC, db=":memory:")
    def with_kwargs(kernel: str, c: float, **rest: Any) -> float:
        return c


def test_grid_study_runs_each_configuration_once(tmp_path: Path) -> None:
    db = tmp_path / "g.db"

    @hp.tune(SVC, method=hp.methods.Grid(grid_points=3), study="g", db=db)
    def train(kernel: str, c: float, gamma: float = 0.0, degree: int = 0) -> float:
        return c + gamma + degree

    study = train.optimize()
    assert len(study.trials) == 21
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 21


def test_export_and_import_carry_the_conditions(tmp_path: Path) -> None:
    tuned_svc(tmp_path / "c.db").optimize(n_trials=6)
    data = export_study(hp.load_study("svc", db=tmp_path / "c.db"))
    assert data["version"] == VERSION
    assert data["study"]["space"]["gamma"]["when"] == {"kernel": ["rbf"]}
    path = tmp_path / "svc.json"
    with path.open("w") as out:
        write_export(hp.load_study("svc", db=tmp_path / "c.db"), "json", out)
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "d.db"), "import", str(path)])
    assert result.exit_code == 0, result.output
    copy = hp.load_study("svc", db=tmp_path / "d.db")
    assert copy.space == Space(SVC)
    assert [t.params for t in copy.trials] == [t["params"] for t in data["trials"]]


def test_cli_shows_blank_cells_and_refuses_inactive_values(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    train = tuned_svc(db)
    train.study.enqueue({"kernel": "linear", "c": 1.0})
    train.study.enqueue({"kernel": "rbf", "c": 1.0, "gamma": 0.5})
    train.optimize(n_trials=2)
    runner = CliRunner()
    table = runner.invoke(cli, ["--db", str(db), "show", "svc"]).output.splitlines()
    header = table[1].split()
    assert header[3:7] == ["kernel", "c", "gamma", "degree"]
    linear = next(line for line in table if " linear " in line)
    for name in ("gamma", "degree"):  # blank cells, not "-" or "None"
        start = table[1].index(f" {name} ")
        assert linear[start : start + len(name) + 2].strip() == "", linear
    rows = runner.invoke(cli, ["--db", str(db), "show", "svc", "--format", "csv"]).output
    assert "complete,0.0,linear,1.0,,," in rows
    shown = json.loads(
        runner.invoke(cli, ["--db", str(db), "show", "svc", "--format", "json"]).output
    )
    assert "gamma" not in shown[0] and shown[1]["gamma"] == 0.5  # inactive: no key
    refused = runner.invoke(cli, ["--db", str(db), "enqueue", "svc", "kernel=poly", "gamma=0.1"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "hyperparameter 'gamma' applies only when kernel is 'rbf'" in refused.output
    queued = runner.invoke(cli, ["--db", str(db), "enqueue", "svc", "kernel=linear"])
    assert queued.output.endswith("(c drawn at random)\n"), queued.output
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    shown_by_process = subprocess.run(
        [sys.executable, "-m", "hpotrack", "--db", str(db), "trial", "svc", "0"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert "kernel  linear" in shown_by_process
    assert "gamma   inactive (kernel='linear')" in shown_by_process


CHAIN = {  # c when b is True, b when a is "y": a chain, under a Choice with the option None
    "a": hp.Choice(["x", "y", None]),
    "b": hp.Choice([True, False], when={"a": "y"}),
    "c": hp.Float(0.0, 1.0, step=0.25, when={"b": True}),
}
CHAIN_TRIALS = [{"a": None}, {"a": "y", "b": True, "c": 0.5}, {"a": "y", "b": False}]


def chain_study(db: Path) -> None:
    """Study "chain" of :data:`CHAIN_TRIALS`, in that order, run to completion."""

    @hp.tune(CHAIN, method="manual", study="chain", db=db)
    def train(a: str | None, b: bool | None = None, c: float | None = None) -> float:
        return 0.0 if a is None else 1.0 + (c or 0.0)  # trial 0 is the best

    for params in CHAIN_TRIALS:
        train.study.enqueue(params)
    train.optimize(n_trials=len(CHAIN_TRIALS))


def test_show_and_export_never_show_inactive_like_the_option_none(tmp_path: Path) -> None:
    """Trial 0 has a=None (an option) and b, c inactive: JSON leaves their keys out and
    has null for a; a table and CSV (show's and export's) have blank cells and None."""
    db = tmp_path / "c.db"
    chain_study(db)
    run = CliRunner().invoke
    shown = json.loads(run(cli, ["--db", str(db), "show", "chain", "--format", "json"]).output)
    assert [{k: row[k] for k in CHAIN if k in row} for row in shown] == CHAIN_TRIALS
    csvs = [
        run(cli, ["--db", str(db), "show", "chain", "--format", "csv"]).output,
        run(cli, ["--db", str(db), "export", "chain", "--format", "csv"]).output,
    ]
    for text, prefix in zip(csvs, ("", "param_"), strict=True):
        rows = list(csv.DictReader(io.StringIO(text)))
        cells = [[row[prefix + name] for name in CHAIN] for row in rows]
        assert cells == [["None", "", ""], ["y", "True", "0.5"], ["y", "False", ""]], text
    table = run(cli, ["--db", str(db), "show", "chain"]).output.splitlines()
    header, rule, first = table[1], table[2], table[3]
    spans = {header[m.start() : m.end()].strip(): m.span() for m in re.finditer("-+", rule)}
    assert [first[slice(*spans[name])].strip() for name in CHAIN] == ["None", "", ""], table
    trial = run(cli, ["--db", str(db), "trial", "chain", "0"]).output
    assert "  a  None\n  b  inactive (a=None)\n  c  inactive (b inactive)\n" in trial, trial
    best = run(cli, ["--db", str(db), "best", "chain"]).output
    assert best.endswith("  a  None\n  b  inactive (a=None)\n  c  inactive (b inactive)\n")
    data = json.loads(run(cli, ["--db", str(db), "trial", "chain", "2", "--format", "json"]).output)
    assert data["params"] == {"a": "y", "b": False}
    text = run(cli, ["--db", str(db), "trial", "chain", "2"]).output
    assert "  b  False\n  c  inactive (b=False)\n" in text, text


def test_a_parameter_given_without_its_chain_names_every_parent_to_give(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    chain_study(db)
    refused = CliRunner().invoke(cli, ["--db", str(db), "enqueue", "chain", "c=0.5"])
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert refused.output == (
        "Error: hyperparameter 'c' applies only when b is True, and 'b' only when a is 'y': "
        "give 'a' and 'b' too\n"
    )
    study = hp.load_study("chain", db=db)
    with pytest.raises(SpaceError, match=r"applies only when b is True: give 'b' too$"):
        study.enqueue({"a": "y", "c": 0.5})  # a given: only b is missing
    assert study.trial(study.enqueue({"a": "y", "b": True})).params["c"] in (0, 0.25, 0.5, 0.75, 1)


def test_plots_read_a_conditional_parameter_where_it_is_active(tmp_path: Path) -> None:
    """Among rbf trials gamma is all that varies the objective; over every trial the
    kernel's offset dominates, and gamma, constant elsewhere, would look minor."""
    pytest.importorskip("matplotlib")
    from hpotrack.plots import importance, importance_values, params

    @hp.tune(SVC, study="imp", db=tmp_path / "i.db", seed=0)
    def train(kernel: str, c: float, gamma: float = 1.0, degree: int = 0) -> float:
        return (100.0 if kernel != "rbf" else 0.0) + math.log10(gamma)

    study = train.optimize(n_trials=90)
    shares = importance_values(study)
    assert list(shares) == list(SVC) and all(0 <= m <= 1 for m, _ in shares.values())
    assert shares["gamma"][0] > 0.8, shares
    assert shares["degree"] == (0.0, 0.0)  # the objective does not vary with it at all
    importance(study)
    lines = params(study).axes[0].collections[0].get_segments()  # the trials' lines
    # each line crosses an inactive parameter's axis at its "inactive" mark, not at 0.5
    marks = sorted(int(np.sum(line[:, 1] == INACTIVE_ROW)) for line in lines)
    assert marks == sorted(len(SVC) - len(t.params) for t in study.trials)


def test_importance_says_when_too_few_trials_had_a_parameter(tmp_path: Path) -> None:
    """c is active in one trial of eight, b in two: no share can be told there, and an
    empty bar labelled "(where active)" read as "no effect"."""
    pytest.importorskip("matplotlib")
    from hpotrack.plots import importance

    @hp.tune(CHAIN, method="manual", study="few", db=tmp_path / "f.db")
    def train(a: str | None, b: bool | None = None, c: float | None = None) -> float:
        return {"x": 1.0, "y": 2.0, None: 3.0}[a] + (c or 0.0)

    plain = [{"a": a} for a in ("x", None, "x", None, "x", None)]
    for params in [*plain, {"a": "y", "b": True, "c": 0.5}, {"a": "y", "b": False}]:
        train.study.enqueue(params)
    study = train.optimize(n_trials=8)
    labels = {t.get_text() for t in importance(study).axes[0].get_yticklabels()}
    assert labels == {"a", "b (active in 2 trials: too few)", "c (active in 1 trial: too few)"}
