"""Plots of studies with constraints, read from the figures' artists: the best so far,
the best mark and the Pareto front follow the trials that meet the constraints
(``study.best``, ``study.best_trials``), trials that miss one are drawn hollow under one
legend key, and with none that meets them no best is drawn and the title says why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure

import hpotrack as hp
from hpotrack import plots
from hpotrack.plots.common import MISSES, misses_label
from hpotrack.records import TrialRecord, TrialState
from hpotrack.store import close_stores
from tests.test_pareto_plot import panels, staircase
from tests.test_plots import suptitle

SPACE = {"x": hp.Float(0.0, 2.0), "y": hp.Float(0.0, 1.0)}
TRIALS = 24
SMALL = hp.Constraint("size", at_most=0.8)  # the best loss, at x = 1.5, is too big
IMPOSSIBLE = hp.Constraint("size", at_most=-1.0)  # size is x, never below 0


def bowl(x: float, y: float) -> dict[str, float]:
    """A loss least at (1.5, 0) and a size that is x: the constraint cuts the bowl."""
    return {"loss": (x - 1.5) ** 2 + y, "size": x}


def trade_off(x: float, y: float) -> dict[str, float]:
    """Two objectives that disagree along x (y only makes both worse), a third that
    prefers a large y, and a size."""
    return {"f1": x + y, "f2": (2.0 - x) ** 2 + y, "f3": y * x, "size": x}


def one_objective(db: Path, name: str, constraint: hp.Constraint, method: str) -> hp.Study:
    tuned = hp.tune(SPACE, method, study=name, db=db, seed=5, objective="loss",
                    constraints=[constraint])(bowl)  # fmt: skip
    return tuned.optimize(n_trials=TRIALS, progress=False)


def several_objectives(
    db: Path, name: str, constraint: hp.Constraint, objectives: tuple[str, ...] = ("f1", "f2")
) -> hp.Study:
    directions = ("minimize",) * len(objectives)
    tuned = hp.tune(SPACE, "random", study=name, db=db, seed=5, objective=objectives,
                    direction=directions, constraints=[constraint])(trade_off)  # fmt: skip
    return tuned.optimize(n_trials=TRIALS, progress=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Studies: "small" (random, some trials too big), "none" (no trial meets its
    constraint), "evolution" (parents, for the lineage graph), "pair" and "pair_none"
    (two objectives), "three" (three objectives)."""
    path = tmp_path_factory.mktemp("constrained") / "c.db"
    one_objective(path, "small", SMALL, "random")
    one_objective(path, "none", IMPOSSIBLE, "random")
    one_objective(path, "evolution", SMALL, "evolution")
    several_objectives(path, "pair", SMALL)
    several_objectives(path, "pair_none", IMPOSSIBLE)
    several_objectives(path, "three", SMALL, ("f1", "f2", "f3"))
    close_stores()
    return path


def load(db: Path, name: str) -> hp.Study:
    return hp.load_study(name, db=db)


def misses(study: hp.Study) -> list[TrialRecord]:
    """The complete trials that miss a constraint (at least one, or the test would not
    tell them apart)."""
    found = [t for t in study.trials if t.state is TrialState.COMPLETE]
    missing = [t for t in found if not study.is_feasible(t)]
    assert (missing and len(missing) < len(found)) or study.name.endswith("none")
    return missing


def hollow_points(ax: Axes, label: str = MISSES) -> list[list[float]]:
    """The offsets of the scatter(s) drawn hollow, whose label starts with ``label``
    (legend keys aside, "_" for the ones without a key of their own)."""
    found = [
        c
        for c in ax.collections
        if isinstance(c, PathCollection) and c.get_label().startswith((label, "_"))
        and len(c.get_offsets()) and not len(c.get_facecolor())
    ]  # fmt: skip
    assert found
    return sorted(point for c in found for point in c.get_offsets().tolist())


def dominates(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Whether ``a`` is at least as good as ``b`` on both (minimized) objectives and
    better on one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and a != b


def keys(ax: Axes) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def best_lines(ax: Axes) -> list[str]:
    """The labels of the params figure's best lines (its axes are unlabelled lines)."""
    return [str(line.get_label()) for line in ax.lines if line.get_label().startswith("best")]


def figure_keys(fig: Figure) -> list[str]:
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def test_the_history_follows_the_best_trial_that_meets_the_constraints(db: Path) -> None:
    study = load(db, "small")
    missing = misses(study)
    best = study.best
    assert min(t.value for t in missing if t.value is not None) < best.value  # they differ
    ax = plots.history(study).axes[0]
    (line,) = [line for line in ax.get_lines() if line.get_label() == "best so far"]
    assert line.get_ydata()[-1] == best.value
    meets = [t for t in study.trials if t.state is TrialState.COMPLETE and study.is_feasible(t)]
    firsts = [min(meets[: i + 1], key=lambda t: t.value or 0.0).value for i in range(len(meets))]
    assert list(line.get_ydata()[: len(meets)]) == firsts  # never a value that misses
    assert line.get_xdata()[0] == meets[0].number
    assert hollow_points(ax) == sorted([t.number, t.value] for t in missing)
    (filled,) = [c for c in ax.collections if c.get_label().startswith("complete")]
    assert filled.get_offsets().tolist() == [[t.number, t.value] for t in meets]
    assert keys(ax) == [f"complete ({len(meets)})", misses_label(len(missing)), "best so far"]
    assert ax.get_title().endswith("\nsubject to size <= 0.8")


def test_the_slice_marks_the_best_that_meets_the_constraints(db: Path) -> None:
    study = load(db, "small")
    missing = misses(study)
    best = study.best
    fig = plots.slices(study)
    x_panel = fig.axes[0]
    (ring,) = [c for c in x_panel.collections if c.get_label() == "best"]
    assert ring.get_offsets().tolist() == [[best.params["x"], best.value]]
    assert hollow_points(x_panel) == sorted([t.params["x"], t.value] for t in missing)
    meets = TRIALS - len(missing)
    assert figure_keys(fig) == [
        f"complete ({meets})",
        misses_label(len(missing)),
        f"best (#{best.number})",
    ]
    assert suptitle(fig).endswith("\nsubject to size <= 0.8")


def test_the_params_best_line_and_the_dashed_lines_that_miss(db: Path) -> None:
    study = load(db, "small")
    missing = misses(study)
    fig = plots.params(study)
    ax = fig.axes[0]
    assert best_lines(ax) == [f"best (#{study.best.number})"]
    (dashed,) = [c for c in ax.collections if c.get_label() == misses_label(len(missing))]
    assert len(dashed.get_segments()) == len(missing)
    (coloured,) = [c for c in ax.collections if isinstance(c, LineCollection)
                   and c.get_array() is not None]  # fmt: skip
    values = coloured.get_array()
    assert values is not None and len(values) == TRIALS - len(missing)
    assert sorted(values.tolist()) == sorted(t.value for t in study.trials if study.is_feasible(t))
    assert ax.get_title().endswith("\nsubject to size <= 0.8")


def test_the_lineage_graph_draws_trials_that_miss_hollow(db: Path) -> None:
    study = load(db, "evolution")
    missing = misses(study)
    assert any(t.parents for t in study.trials)
    ax = plots.lineage(study).axes[0]
    assert misses_label(len(missing)) in keys(ax)
    assert hollow_points(ax) == sorted([t.number, t.value] for t in missing)
    complete = len([t for t in study.trials if t.state is TrialState.COMPLETE])
    assert f"complete ({complete - len(missing)})" in keys(ax)
    assert ax.get_title().endswith("\nsubject to size <= 0.8")


def test_with_no_trial_that_meets_them_no_best_is_drawn_and_the_title_says_why(
    db: Path,
) -> None:
    study = load(db, "none")
    assert not study.best_trials and len(misses(study)) == TRIALS
    note = "no trial meets the constraints yet (size <= -1)"
    history = plots.history(study).axes[0]
    assert keys(history) == [misses_label(TRIALS)]  # no best so far, no empty "complete"
    assert history.get_title().endswith(f"\n{note}")
    slices = plots.slices(study)
    assert figure_keys(slices) == [misses_label(TRIALS)]
    assert not [c for ax in slices.axes for c in ax.collections if c.get_label() == "best"]
    assert suptitle(slices).endswith(f"\n{note}")
    params = plots.params(study).axes[0]
    assert not best_lines(params) and params.get_title().endswith(f"\n{note}")


def test_the_pareto_front_is_that_of_the_trials_that_meet_the_constraints(db: Path) -> None:
    study = load(db, "pair")
    missing = misses(study)
    front = [list(study.values(t)) for t in study.best_trials]
    fig = plots.pareto(study)
    (ax,) = panels(fig)
    (rings,) = [c for c in ax.collections if c.get_label().startswith("Pareto front")]
    assert rings.get_offsets().tolist() == front
    assert all(study.is_feasible(t) for t in study.best_trials)
    every = [study.values(t) for t in study.trials]
    undominated = [t for t in missing if not any(dominates(v, study.values(t)) for v in every)]
    assert undominated  # on the front of every trial: the constraint changes it
    assert hollow_points(ax, "_") == sorted(list(study.values(t)) for t in missing)
    assert staircase(ax)[1::2].tolist() == sorted(front)
    assert keys(ax) == [
        f"complete ({TRIALS - len(missing)})",
        misses_label(len(missing)),
        f"Pareto front ({len(front)})",
        "dominated region",
    ]
    assert ax.get_title().endswith(f"of {TRIALS} complete\nsubject to size <= 0.8")


def test_a_pareto_plot_without_a_trial_that_meets_them_has_no_front(db: Path) -> None:
    study = load(db, "pair_none")
    (ax,) = panels(plots.pareto(study))
    assert keys(ax) == [misses_label(TRIALS)]
    assert not ax.patches and not [line for line in ax.lines if len(line.get_xydata())]
    points = np.array(hollow_points(ax, "_"))
    assert points.shape == (TRIALS, 2)
    assert ax.get_title().endswith("\nno trial meets the constraints yet (size <= -1)")
    assert ax.get_title().split("\n")[1].startswith("0 trials on the front")


def test_objectives_in_pairs_ring_the_front_of_the_trials_that_meet_them(db: Path) -> None:
    study = load(db, "three")
    missing = misses(study)
    front = np.array([study.values(t) for t in study.best_trials])
    fig = plots.pareto(study)
    for ax, (i, j) in zip(panels(fig), [(0, 1), (0, 2), (1, 2)], strict=True):
        (rings,) = [c for c in ax.collections if c.get_label().startswith("Pareto front")]
        assert rings.get_offsets().tolist() == front[:, [i, j]].tolist()
        drawn = hollow_points(ax, "_")
        assert drawn == sorted([study.values(t)[i], study.values(t)[j]] for t in missing)
    assert misses_label(len(missing)) in figure_keys(fig)
    assert suptitle(fig).endswith("\nsubject to size <= 0.8")
