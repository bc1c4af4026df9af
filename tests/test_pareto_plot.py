"""The pareto plot of studies of several objectives (ZDT1, Zitzler, Deb & Thiele 2000, in
three variables), read from the figure's artists: the front drawn is the study's
``best_trials``, in order along the staircase of the region it dominates, each axis its
objective's way; three and more objectives in pairs; the error for one objective; and
the kinds that draw one value per trial saying which objective they draw."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

import hpotrack as hp
from hpotrack import plots
from hpotrack.plots import PlotError
from hpotrack.plots.pareto_plot import MAX_PAIRED
from hpotrack.store import close_stores
from tests.test_plots import PNG, suptitle

SPACE = {"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0), "z": hp.Float(0.0, 1.0)}
TRIALS = 40


def zdt1(x: float, y: float, z: float) -> dict[str, float]:
    """ZDT1 in three variables (its front is y = z = 0), and a third objective that
    disagrees with both on part of it."""
    g = 1.0 + 9.0 * (y + z) / 2
    return {"f1": x, "f2": g * (1.0 - math.sqrt(x / g)), "f3": (x - 0.3) ** 2 + z}


def two_objectives(db: Path, name: str, directions: tuple[str, ...]) -> hp.Study:
    objectives = ("f1", "f2", "f3")[: len(directions)]
    tuned = hp.tune(SPACE, "random", study=name, db=db, seed=3, objective=objectives,
                    direction=directions)(zdt1)  # fmt: skip
    return tuned.optimize(n_trials=TRIALS, progress=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Studies of ZDT1: both minimized ("min"), the second maximized ("max"), the first
    maximized ("first_max"), three objectives ("three")."""
    path = tmp_path_factory.mktemp("pareto") / "p.db"
    two_objectives(path, "min", ("minimize", "minimize"))
    two_objectives(path, "max", ("minimize", "maximize"))
    two_objectives(path, "first_max", ("maximize", "minimize"))
    two_objectives(path, "three", ("minimize", "minimize", "maximize"))
    close_stores()
    return path


def scatters(ax: Axes) -> dict[str, PathCollection]:
    """The panel's scatters: "trials" (coloured by number) and "front"."""
    found = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(found) == 2, found
    return {"trials": found[0], "front": found[1]}


def panels(fig: Figure) -> list[Axes]:
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def staircase(ax: Axes) -> np.ndarray:
    (line,) = (line for line in ax.lines if len(line.get_xydata()))
    return np.asarray(line.get_xydata())


def losses(study: hp.Study, values: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(s * v for s, v in zip(study.optimizing.signs, values, strict=True))


@pytest.mark.parametrize("name", ["min", "max", "first_max"])
def test_the_front_drawn_is_the_studys_best_trials_joined_in_order(db: Path, name: str) -> None:
    study = hp.load_study(name, db=db)
    fig = plots.pareto(study)
    (ax,) = panels(fig)
    drawn = scatters(ax)
    front = [study.values(t) for t in study.best_trials]
    assert len(front) >= 2  # a front, not one trial
    assert drawn["front"].get_offsets().tolist() == [list(v) for v in front]
    every = [study.values(t) for t in study.trials]
    assert drawn["trials"].get_offsets().tolist() == [list(v) for v in every]
    # the staircase: rays from the worst values drawn, through the front along the first
    # objective from best to worst, each step first along f1 then along f2
    line = staircase(ax)
    along = sorted(front, key=lambda v: losses(study, v))
    assert line[1::2].tolist() == [list(v) for v in along]
    f1, f2 = np.array(every).T
    worst_f1, worst_f2 = (
        values.max() if direction == "minimize" else values.min()
        for values, direction in zip((f1, f2), study.directions, strict=True)
    )
    assert line[0].tolist() == [along[0][0], worst_f2]
    assert line[-1].tolist() == [worst_f1, along[-1][1]]
    for (_, y), (x_next, _), corner in zip(along, along[1:], line[2:-1:2], strict=False):
        assert corner.tolist() == [x_next, y]
    # the region it dominates: the staircase closed through the worst corner
    (region,) = (p for p in ax.patches if isinstance(p, Polygon))
    assert region.get_xy()[:-1].tolist() == [*line.tolist(), [worst_f1, worst_f2]]


def test_a_maximized_axis_steps_up_the_other_way(db: Path) -> None:
    """Along the front, a minimized second objective falls as the first gets worse; a
    maximized one rises, and the rays go to its lowest value, not its highest."""
    low = staircase(panels(plots.pareto(hp.load_study("min", db=db)))[0])
    high = staircase(panels(plots.pareto(hp.load_study("max", db=db)))[0])
    assert np.all(np.diff(low[1::2, 1]) <= 0) and np.all(np.diff(high[1::2, 1]) >= 0)
    assert np.all(np.diff(low[1::2, 0]) >= 0) and np.all(np.diff(high[1::2, 0]) >= 0)
    assert low[0, 1] > low[1, 1] and high[0, 1] < high[1, 1]  # the ray: up, then down


def test_labels_title_and_colours(db: Path) -> None:
    study = hp.load_study("max", db=db)
    fig = plots.pareto(study)
    (ax,) = panels(fig)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("f1 (minimize)", "f2 (maximize)")
    count = len(study.best_trials)
    assert ax.get_title() == (
        f"max: Pareto front of f1 and f2\n{count} trials on the front, of {TRIALS} complete"
    )
    numbers = scatters(ax)["trials"].get_array()
    assert numbers is not None and numbers.tolist() == list(range(TRIALS))
    (bar,) = (a for a in fig.axes if a.get_label() == "<colorbar>")
    assert bar.get_ylabel() == "trial"
    labels = ax.get_legend_handles_labels()[1]
    assert labels == [f"complete ({TRIALS})", f"Pareto front ({count})", "dominated region"]


def test_written_as_png_and_svg(db: Path, tmp_path: Path) -> None:
    study = hp.load_study("min", db=db)
    png = plots.save(study, "pareto", tmp_path / "p.png").read_bytes()
    assert png.startswith(PNG) and len(png) > 10_000
    svg = plots.save(study, "pareto", tmp_path / "p.svg").read_text()
    assert svg.count("<svg") == 1 and "Pareto front of f1 and f2" in svg


def test_three_objectives_are_drawn_in_pairs(db: Path) -> None:
    study = hp.load_study("three", db=db)
    fig = plots.pareto(study)
    drawn = panels(fig)
    labels = [(ax.get_xlabel(), ax.get_ylabel()) for ax in drawn]
    assert labels == [
        ("f1 (minimize)", "f2 (minimize)"),
        ("f1 (minimize)", "f3 (maximize)"),
        ("f2 (minimize)", "f3 (maximize)"),
    ]
    front = np.array([study.values(t) for t in study.best_trials])
    for ax, (i, j) in zip(drawn, [(0, 1), (0, 2), (1, 2)], strict=True):
        assert scatters(ax)["front"].get_offsets().tolist() == front[:, [i, j]].tolist()
        assert not [line for line in ax.lines if len(line.get_xydata())]  # no staircase
    assert f"{len(front)} trials on the front of all 3 objectives" in suptitle(fig)


def test_many_objectives_pair_the_first_few_and_say_which_are_left(tmp_path: Path) -> None:
    names = tuple(f"m{i}" for i in range(MAX_PAIRED + 1))

    @hp.tune(SPACE, "random", study="many", db=tmp_path / "m.db", seed=0, objective=names,
             direction=("minimize",) * len(names))  # fmt: skip
    def many(x: float, y: float, z: float) -> dict[str, float]:
        return {name: math.sin(i * x + y) + z for i, name in enumerate(names)}

    fig = plots.pareto(many.optimize(n_trials=8, progress=False))
    assert len(panels(fig)) == MAX_PAIRED * (MAX_PAIRED - 1) // 2
    assert f"not paired: m{MAX_PAIRED}" in suptitle(fig)


def test_a_front_of_one_trial_is_a_corner(tmp_path: Path) -> None:
    @hp.tune(SPACE, "random", study="one", db=tmp_path / "o.db", seed=0, objective=("a", "b"),
             direction=("minimize", "minimize"))  # fmt: skip
    def agree(x: float, y: float, z: float) -> dict[str, float]:
        return {"a": x, "b": 2 * x}

    study = agree.optimize(n_trials=6, progress=False)
    (best,) = study.best_trials
    a, b = study.values(best)
    worst = max(study.values(t) for t in study.trials)
    ax = panels(plots.pareto(study))[0]
    assert staircase(ax).tolist() == [[a, worst[1]], [a, b], [worst[0], b]]
    assert ax.get_title().endswith("1 trial on the front, of 6 complete")


def test_one_objective_is_one_error_naming_the_kinds_to_use(tmp_path: Path) -> None:
    @hp.tune(SPACE, "random", study="single", db=tmp_path / "s.db", seed=0)
    def single(x: float, y: float, z: float) -> float:
        return x

    study = single.optimize(n_trials=3, progress=False)
    with pytest.raises(PlotError) as raised:
        plots.pareto(study)
    assert str(raised.value) == (
        "the pareto plot needs a study of several objectives, but study 'single' optimizes "
        "one, value (minimize): plot it with kind history, slice, params or importance instead"
    )


def test_without_a_complete_trial_the_error_is_the_other_kinds(tmp_path: Path) -> None:
    @hp.tune(SPACE, "random", study="broken", db=tmp_path / "b.db", seed=0, max_failures=5,
             objective=("f1", "f2"), direction=("minimize", "minimize"))  # fmt: skip
    def broken(x: float, y: float, z: float) -> dict[str, float]:
        raise RuntimeError("no values")

    with pytest.raises(PlotError, match="has no trials yet"):
        plots.pareto(broken.study)
    study = broken.optimize(n_trials=3, progress=False)
    errors = []
    for draw in (plots.pareto, plots.params, plots.slices):
        with pytest.raises(PlotError) as raised:
            draw(study)
        errors.append(str(raised.value))
    assert errors == ["study 'broken' has no complete trial yet: nothing to plot"] * 3


def legend_labels(fig: Figure) -> list[str]:
    return [text.get_text() for legend in fig.legends for text in legend.get_texts()]


def test_the_kinds_of_one_value_say_they_draw_the_first_objective(db: Path) -> None:
    study = hp.load_study("max", db=db)
    first = "f1 (first of 2 objectives)"
    best = min(study.trials, key=lambda t: study.values(t)[0]).number
    history = plots.history(study)
    assert history.axes[0].get_ylabel() == first
    assert f"max: {first} per trial (minimize)" in history.axes[0].get_title()
    params = plots.params(study)
    bar = next(a for a in params.axes if a.get_label() == "<colorbar>")
    assert bar.get_ylabel() == first
    assert f"best f1 (#{best})" in [line.get_label() for line in params.axes[0].lines]
    slices = plots.slices(study)
    assert f"max: {first} by parameter (minimize)" in suptitle(slices)
    assert f"best f1 (#{best})" in legend_labels(slices)
    importance = plots.importance(study)
    assert f"share of the variance of {first} (main effect)" in importance.axes[0].get_xlabel()
    for kind in ("timeline", "pareto"):  # no kind reads study.best, which would raise
        assert isinstance(plots.figure(study, kind), Figure)


def test_one_objective_gets_no_note(tmp_path: Path) -> None:
    @hp.tune(SPACE, "random", study="single", db=tmp_path / "s.db", seed=0)
    def single(x: float, y: float, z: float) -> float:
        return x + y

    study = single.optimize(n_trials=8, progress=False)
    assert plots.history(study).axes[0].get_ylabel() == "value"
    keys = [line.get_label() for line in plots.params(study).axes[0].lines]
    assert any(key.startswith("best (#") for key in keys)
    assert suptitle(plots.slices(study)).startswith("single: value by parameter (minimize)")
