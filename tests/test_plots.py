"""Plots (issue 9): every kind drawn for real studies (random with reports and failures,
successive halving with rungs, PBT), the fANOVA importance against known answers, the
errors, and the message without matplotlib."""

from __future__ import annotations

import hashlib
import os
import sys
import time
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection, QuadMesh
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.quiver import Quiver
from matplotlib.text import Text

import hpotrack as hp
from hpotrack import plots
from hpotrack.checkpoints import source_edge
from hpotrack.errors import MissingDependency
from hpotrack.importance import ESTIMATOR, Leaves, fanova, main_effects
from hpotrack.plots import KIND_COLOURS, PlotError, curves_plot, lineage_plot, params_plot
from hpotrack.plots import common as plot_common
from hpotrack.plots.common import drawn_points
from hpotrack.provenance import hostname
from hpotrack.records import Edge, TrialRecord, TrialState
from hpotrack.store import close_stores, open_store
from tests.test_checkpoints import pbt
from tests.test_processes import run_source
from tests.test_recovery import _study_with_a_running_trial, dead_pid, insert_running_trial

PNG = b"\x89PNG\r\n\x1a\n"
STUDIES = ("random", "sha", "p")
SPACE = {
    "x": hp.Float(-2.0, 2.0),
    "lr": hp.Float(1e-4, 1e-1, log=True),
    "opt": hp.Choice(["adam", "sgd", "rms"]),
}


def suptitle(fig: Figure) -> str:
    """The figure's title over its panels (``Figure.get_suptitle`` is matplotlib 3.8's;
    the package supports 3.7)."""
    if hasattr(fig, "get_suptitle"):
        return str(fig.get_suptitle())
    title = getattr(fig, "_suptitle", None)
    return "" if title is None else str(title.get_text())


def random_study(db: Path) -> hp.Study:
    """Random search with 10 reports per trial; every 7th trial fails."""

    @hp.tune(SPACE, method="random", study="random", db=db, seed=1, max_failures=10)
    def train(x: float, lr: float, opt: str, trial: hp.Trial) -> float:
        if trial.number % 7 == 3:
            raise RuntimeError("diverged")
        for step in range(1, 11):
            trial.report((x - 0.5) ** 2 + 1.0 / step + (0.1 if opt == "sgd" else 0.0), step)
        return (x - 0.5) ** 2 + 0.1 + (0.1 if opt == "sgd" else 0.0)

    return train.optimize(n_trials=24, progress=False)


def sha_study(db: Path) -> hp.Study:
    """Successive halving over Budget(1, 9): rungs at 1, 3 and 9; with seed 4 three
    stopped first arrivals are promoted later."""

    @hp.tune(SPACE, method="sha", study="sha", db=db, seed=4, budget=hp.Budget(1, 9))
    def train(x: float, lr: float, opt: str, trial: hp.Trial) -> float:
        loss = 0.0
        for step in range(1, trial.budget + 1):
            loss = (x - 0.5) ** 2 + 1.0 / step
            trial.report(loss, step=step)
        return loss

    return train.optimize(n_trials=24, progress=False)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One database with the three studies and one of two objectives, "front" (made once:
    the module's tests only read it)."""
    from tests.test_pareto_plot import two_objectives  # which imports this module

    path = tmp_path_factory.mktemp("plots") / "h.db"
    random_study(path)
    sha_study(path)
    pbt(path).optimize(progress=False)  # study "p": 4 members x 3 segments
    two_objectives(path, "front", ("minimize", "maximize"))
    close_stores()
    return path


def study(db: Path, name: str) -> hp.Study:
    return hp.load_study(name, db=db)


def png(path: Path) -> bytes:
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000, (path, len(data))
    return data


def population_or_random(kind: str) -> str:
    """The PBT study, but for importance, which its 4 members' few segments at one step do
    not support (values at different steps are not compared): the random one; for
    pareto, which needs several objectives, the study of two."""
    return {"importance": "random", "pareto": "front"}.get(kind, "p")


@pytest.mark.parametrize("kind", plots.KINDS)
def test_every_kind_is_a_png(db: Path, tmp_path: Path, kind: str) -> None:
    opened, target = study(db, population_or_random(kind)), tmp_path / f"{kind}.png"
    counted: list[int] = []
    assert plots.save(opened, kind, target, progress=counted.append) == target
    png(target)
    assert sum(counted) == len(opened.trials)  # what a progress bar is told
    assert list(tmp_path.iterdir()) == [target]  # no temporary file left


def test_different_studies_give_different_images_and_a_study_the_same(
    db: Path, tmp_path: Path
) -> None:
    images = [png(plots.save(study(db, n), "history", tmp_path / f"{n}.png")) for n in STUDIES]
    assert len({hashlib.sha256(image).digest() for image in images}) == 3
    again = plots.save(study(db, "p"), "history", tmp_path / "again.png")
    assert again.read_bytes() == images[-1]  # reproducible, e.g. the README's picture


def test_svg_by_suffix(db: Path, tmp_path: Path) -> None:
    svg = plots.save(study(db, "random"), "importance", tmp_path / "i.SVG").read_text()
    assert svg.count("<svg") == 1


@pytest.mark.parametrize("kind", plots.KINDS)
def test_every_kind_shows_itself_as_an_image_in_a_notebook(db: Path, kind: str) -> None:
    """IPython displays an object's ``_repr_png_``: a Figure made without pyplot has none
    (matplotlib's formatter is only registered by ``%matplotlib inline`` or pyplot), so
    ``plots.history(study)`` at the end of a cell showed ``<Figure size 800x480 ...>``."""
    drawn = plots.figure(study(db, population_or_random(kind)), kind)
    assert isinstance(drawn, Figure)
    image = drawn._repr_png_()
    assert image.startswith(PNG) and len(image) > 10_000


def test_a_random_study_has_no_lineage_to_plot(db: Path) -> None:
    with pytest.raises(PlotError, match="has no lineage to plot: no trial has a parent"):
        plots.lineage(study(db, "random"))


def test_history_marks_failed_trials_and_follows_the_best(db: Path) -> None:
    opened = study(db, "random")
    ax = plots.history(opened).axes[0]
    labels = ax.get_legend_handles_labels()[1]
    failed = sum(t.state is TrialState.FAILED for t in opened.trials)
    assert failed and f"failed ({failed})" in labels and "best so far" in labels
    best = next(line for line in ax.get_lines() if line.get_label() == "best so far")
    assert best.get_ydata()[-1] == opened.best.value
    assert list(best.get_ydata()) == sorted(best.get_ydata(), reverse=True)  # minimize


def test_history_says_which_trials_have_not_ended(db: Path) -> None:
    """Plotted while the study runs: their numbers are on the axis with nothing at
    them, so the title says why."""
    opened = study(db, "random")
    assert "\n" not in plots.history(opened).axes[0].get_title()
    opened.enqueue({})
    opened.enqueue({})
    assert plots.history(opened).axes[0].get_title().endswith("\n2 queued: not drawn yet")


@pytest.mark.parametrize("draw", [plots.history, plots.lineage])
def test_a_legend_over_many_points_goes_below_the_axes(
    db: Path, monkeypatch: pytest.MonkeyPatch, draw: Callable[[hp.Study], Figure]
) -> None:
    """matplotlib's "best" place for a legend is weighed against every point drawn, at
    each layout pass and draw: 2 of the 6 s of CPU of plotting 100,000 trials' history.
    Past BEST_PLACE_POINTS points the legend goes below the axes, with the same keys."""
    opened = study(db, "sha")  # promotions: the lineage graph draws edges, so a legend
    few = draw(opened)
    inside = few.axes[0].get_legend()
    assert inside is not None and not few.legends
    monkeypatch.setattr(plot_common, "BEST_PLACE_POINTS", drawn_points(few.axes[0]) - 1)
    many = draw(opened)
    assert many.axes[0].get_legend() is None
    (below,) = many.legends
    assert [t.get_text() for t in below.get_texts()] == [t.get_text() for t in inside.get_texts()]


def test_history_of_failed_trials_only_makes_up_no_value_axis(tmp_path: Path) -> None:
    """Every trial failed: the axis was labelled "value" from -0.04 to 0.04, values no
    trial had, with the failed marks under it."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="bad", db=tmp_path / "b.db", max_failures=9)
    def f(x: float) -> float:
        raise RuntimeError("no GPU")

    opened = f.optimize(n_trials=3, progress=False)
    ax = plots.history(opened).axes[0]
    assert len(ax.get_yticks()) == 0
    assert ax.get_title().endswith("\nno trial has a value to draw")
    assert ax.get_legend_handles_labels()[1] == ["failed (3)"]


def test_history_counts_the_diverged_pruned_trials_it_cannot_draw(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="sha", study="d", db=tmp_path / "d.db",
             seed=3, budget=hp.Budget(1, 9))  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for epoch in trial.steps:
            trial.report(float("inf") if x > 0.5 else x + 1 / epoch, step=epoch)
        return x

    opened = f.optimize(n_trials=12)
    diverged = sum(t.state is TrialState.PRUNED and t.params["x"] > 0.5 for t in opened.trials)
    drawn = sum(t.state is TrialState.PRUNED and t.params["x"] <= 0.5 for t in opened.trials)
    labels = plots.history(opened).axes[0].get_legend_handles_labels()[1]
    assert diverged and f"pruned ({drawn}; {diverged} diverged, not drawn)" in labels


@pytest.mark.parametrize("kind", ["history", "curves", "params", "slice"])
def test_values_beyond_the_float_range_of_an_axis_are_counted_not_drawn(
    tmp_path: Path, kind: str
) -> None:
    """A run that blew up to ±1e308 is finite, but no axis spans it: matplotlib failed
    drawing one. Such values are left out like NaN; when nothing else is left, one error."""

    def study_of(blow_up: float) -> hp.Study:
        @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="b", seed=0,
                 db=tmp_path / f"b{blow_up}.db", budget=hp.Budget(1, 3))  # fmt: skip
        def f(x: float, trial: hp.Trial) -> float:
            value = (1e308 if x > 0.5 else -1e308) if x > blow_up else x
            for epoch in trial.steps:
                trial.report(value, step=epoch)
            return value

        return f.optimize(n_trials=10)

    mixed = study_of(0.3)
    beyond = sum(abs(t.value or 0) > 1e300 for t in mixed.trials)
    assert 0 < beyond < 10
    target = tmp_path / f"{kind}.png"
    plots.save(mixed, kind, target)
    assert target.read_bytes().startswith(PNG)
    if kind == "history":
        labels = plots.history(mixed).axes[0].get_legend_handles_labels()[1]
        assert f"complete ({10 - beyond}; {beyond} diverged, not drawn)" in labels
    if kind == "slice":
        subtitle = suptitle(plots.slices(mixed))
        assert subtitle.endswith(f"not drawn: {beyond} diverged (NaN, infinite or beyond ±1e300)")
    with pytest.raises(PlotError, match=r"diverged .*beyond ±1e300"):
        plots.save(study_of(-1.0), kind, tmp_path / "none.png")


@pytest.mark.parametrize("working_from", [6, None], ids=["first six fail", "all fail"])
def test_every_failed_trial_is_within_the_axis(tmp_path: Path, working_from: int | None) -> None:
    """Failed trials are marked at the bottom, drawn in axis coordinates: the x range
    must still cover them when they come first, or when nothing else is drawn."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="f", db=tmp_path / "f.db",
             seed=0, max_failures=20)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        if working_from is None or trial.number < working_from:
            raise ValueError("boom")
        return x

    opened = f.optimize(n_trials=12 if working_from else 3)
    low, high = plots.history(opened).axes[0].get_xlim()
    numbers = [t.number for t in opened.trials]
    assert low < min(numbers) and max(numbers) < high


def test_curves_mark_the_rung_budgets_and_where_trials_were_pruned(db: Path) -> None:
    opened = study(db, "sha")
    ax = plots.curves(opened).axes[0]
    rungs = [line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert rungs == [1.0, 3.0, 9.0]
    labels = ax.get_legend_handles_labels()[1]
    pruned = sum(t.state is TrialState.PRUNED for t in opened.trials)
    assert pruned and f"pruned ({pruned})" in labels and "pruned here" in labels


def test_params_has_an_axis_per_parameter_and_the_objective(db: Path) -> None:
    ax = plots.params(study(db, "random")).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "lr", "opt", "value"]
    texts = {t.get_text() for t in ax.texts}
    assert {"adam", "sgd", "rms", "0.0001", "0.1", "-2", "2"} <= texts


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
def test_params_draws_the_best_trials_on_top(tmp_path: Path, direction: str) -> None:
    """Drawn in trial order, 5,000 lines hid the good ones under whichever came later:
    the region of good values could not be seen."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="order", db=tmp_path / "o.db",
             seed=0, direction=direction)  # fmt: skip
    def train(x: float) -> float:
        return x

    opened = train.optimize(n_trials=30, progress=False)
    ax = plots.params(opened).axes[0]
    (lines,) = [c for c in ax.collections if c.get_array() is not None]
    drawn = list(lines.get_array())
    assert drawn == sorted(drawn, reverse=direction == "minimize")  # the best last
    assert drawn[-1] == opened.best.value


def test_the_params_colour_bar_is_opaque_however_faint_the_lines(tmp_path: Path) -> None:
    """Over 100 trials the lines are drawn faint, and the colour bar took their alpha:
    its whole scale was pale."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="many", db=tmp_path / "m.db",
             seed=0)  # fmt: skip
    def train(x: float) -> float:
        return x

    fig = plots.params(train.optimize(n_trials=101, progress=False))
    fig.canvas.draw()
    (lines,) = [c for c in fig.axes[0].collections if c.get_array() is not None]
    (scale,) = [c for c in fig.axes[1].collections if isinstance(c, QuadMesh)]
    assert (lines.get_alpha() or 1.0) < 1.0
    assert all(scale.get_facecolor()[:, 3] == 1.0)


def test_params_of_a_constant_objective_has_no_made_up_colour_range(tmp_path: Path) -> None:
    """Every trial at 1.0 drew a colour bar from 0.96 to 1.04 and labelled the objective's
    axis 1 at both ends."""

    @hp.tune(SPACE, method="random", study="flat", db=tmp_path / "f.db", seed=3)
    def train(x: float, lr: float, opt: str) -> float:
        return 1.0

    fig = plots.params(train.optimize(n_trials=5, progress=False))
    assert len(fig.axes) == 1  # no colour bar
    assert [t.get_text() for t in fig.axes[0].texts].count("1") == 1


def test_params_of_an_objective_spanning_decades_spreads_it_on_a_log_scale(
    tmp_path: Path,
) -> None:
    """Values from 1e-12 to 1e12 (as history draws them, on a log axis) ran every line
    but the largest few into the bottom of the objective's axis, all one colour."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="wide", db=tmp_path / "w.db",
             seed=0)  # fmt: skip
    def train(x: float) -> float:
        return float(10 ** (24 * x - 12))

    fig = plots.params(train.optimize(n_trials=20, progress=False))
    ax = fig.axes[0]
    (lines,) = [c for c in ax.collections if c.get_array() is not None]
    ends = [segment[-1, 1] for segment in lines.get_segments()]
    xs = [segment[0, 1] for segment in lines.get_segments()]
    assert np.corrcoef(xs, ends)[0, 1] > 0.99  # the objective's axis follows x's, evenly
    assert type(lines.norm).__name__ == "LogNorm"
    assert "log scale: value" in ax.get_title()


def test_a_choice_of_many_options_is_labelled_readably(tmp_path: Path) -> None:
    """A Choice of 60 options wrote 60 labels over one another: one black bar."""
    options = [f"option_{i}" for i in range(60)]

    @hp.tune({"c": options}, method="random", study="many", db=tmp_path / "m.db", seed=0)
    def train(c: str) -> float:
        return float(options.index(c))

    fig = plots.params(train.optimize(n_trials=20, progress=False))
    ax = fig.axes[0]
    labels = sorted(
        (t for t in ax.texts if t.get_position()[0] < 0.5), key=lambda t: t.get_position()[1]
    )
    assert 8 <= len(labels) <= 16 and labels[0].get_text() == "option_0"
    inside_and_apart(fig, labels)


@pytest.mark.parametrize(
    "names",
    [
        [f"a_rather_long_option_name_number_{i:02d}" for i in range(30)],  # alike at the start
        [f"experiment_config_{name}_final" for name in ("alpha", "beta", "gamma")],  # and end
    ],
)
def test_long_options_that_differ_late_are_labelled_apart(tmp_path: Path, names: list[str]) -> None:
    """Cut at their end, 30 options named "a_rather_long_option_name_number_00" to
    "_29" were every one labelled "a_rather_lo…": which line went where was lost."""

    @hp.tune({"c": names}, method="random", study="long", db=tmp_path / "l.db", seed=0)
    def train(c: str) -> float:
        return float(names.index(c))

    ax = plots.params(train.optimize(n_trials=12, progress=False)).axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_position()[0] < 0.5]
    assert len(labels) == min(len(names), 15)  # of 30, every other one
    assert len(set(labels)) == len(labels), labels
    assert all(len(label) <= params_plot.LABEL_CHARS for label in labels)


def test_a_populations_best_is_what_hpotrack_best_says(tmp_path: Path) -> None:
    """A model that overfits after step 2: its segments ending at step 2 hold the lowest
    values, but the members trained on from them. The history's best so far and the
    params' best line showed such a mid-run segment; ``hpotrack best`` (and the lineage
    plot) the best of what the members ended with."""

    from tests.workloads import overfitting_population

    opened = overfitting_population(tmp_path / "o.db", "over")
    best = opened.best
    assert best.budget == 6 and min(t.value for t in opened.trials if t.value) < best.value
    history = plots.history(opened).axes[0]
    (line,) = [line for line in history.lines if line.get_label().startswith("best so far")]
    assert line.get_ydata()[-1] == best.value
    labels = plots.params(opened).legends[0].get_texts()
    assert [t.get_text() for t in labels] == [f"best (#{best.number})"]


def test_the_pbt_lineage_has_a_lane_per_member_and_an_arrow_per_exploit(db: Path) -> None:
    opened = study(db, "p")
    fig = plots.lineage(opened)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"member {m}" for m in range(4)]
    exploits = sum(e.kind == "exploited" for t in opened.trials for e in t.parents)
    (arrows,) = [c for c in ax.collections if type(c).__name__ == "Quiver"]
    assert exploits and exploits == arrows.N
    assert f"4 members, {len(opened.trials)} segments" in ax.get_title()


def test_a_study_without_a_population_gets_the_parent_graph(db: Path) -> None:
    opened = study(db, "sha")
    promoted = sum(e.kind == "promoted" for t in opened.trials for e in t.parents)
    assert promoted
    ax = plots.lineage(opened).axes[0]
    assert f"promoted ({promoted})" in ax.get_legend_handles_labels()[1]


def test_the_importance_title_names_the_estimator(db: Path) -> None:
    ax = plots.importance(study(db, "random")).axes[0]
    assert ESTIMATOR in ax.get_title() and "fANOVA" in ESTIMATOR


# --- importance ----------------------------------------------------------------------------------


def test_importance_finds_the_one_parameter_that_matters(tmp_path: Path) -> None:
    @hp.tune(SPACE, method="random", study="one", db=tmp_path / "i.db", seed=3)
    def train(x: float, lr: float, opt: str) -> float:
        return (x - 0.3) ** 2

    shares = plots.importance_values(train.optimize(n_trials=40, progress=False))
    assert list(shares) == ["x", "lr", "opt"]
    assert shares["x"][0] > 0.9
    assert shares["lr"][0] < 0.03 and shares["opt"][0] < 0.03


def test_importance_error_bars_stay_between_0_and_1(tmp_path: Path) -> None:
    """A share is between 0 and 1, but mean ± standard deviation over the trees ran past
    both, and the axis cut the bars off mid-way (no cap at their end)."""

    @hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, method="random",
             study="few", db=tmp_path / "i.db", seed=3)  # fmt: skip
    def train(x: float, y: float) -> float:
        return x

    study = train.optimize(n_trials=10, progress=False)
    shares = plots.importance_values(study)
    (bars,) = [c for c in plots.importance(study).axes[0].collections if c.get_segments()]
    ends = {float(segment[0, 1]): segment[:, 0] for segment in bars.get_segments()}
    (x, y) = (ends[1.0], ends[0.0])  # drawn from the least share up
    (x_mean, x_std), (y_mean, y_std) = shares["x"], shares["y"]
    assert x_mean + x_std > 1 and x.tolist() == pytest.approx([x_mean - x_std, 1])
    assert y_mean - y_std < 0 and y.tolist() == pytest.approx([0, y_mean + y_std])


def test_importance_of_a_constant_objective_is_one_clear_error(tmp_path: Path) -> None:
    """It drew empty bars, "interactions and the rest: 100%"."""

    @hp.tune(SPACE, method="random", study="flat", db=tmp_path / "i.db", seed=3)
    def train(x: float, lr: float, opt: str) -> float:
        return 1.0

    study = train.optimize(n_trials=6, progress=False)
    with pytest.raises(PlotError, match=r"needs the objective to vary, but all 6 complete "
                       r"trials of study 'flat' have the value 1"):  # fmt: skip
        plots.importance(study)


def test_fanova_matches_the_sobol_indices_of_an_additive_function() -> None:
    """y = x0 + 0.5 x1 on the uniform cube: main effects 1/12 and 0.25/12 of 1.25/12."""
    x = np.random.default_rng(0).random((300, 3))
    mean, std = fanova(x, x[:, 0] + 0.5 * x[:, 1], n_trees=16, seed=0)
    assert mean == pytest.approx([0.8, 0.2, 0.0], abs=0.05)
    assert std.shape == (3,) and (std < 0.05).all()


def test_fanova_shares_do_not_change_with_the_scale_of_the_values() -> None:
    """Values near the float limit (a run that blew up) overflowed its sums of squares:
    every share came out 0."""
    x = np.random.default_rng(0).random((200, 2))
    y = x[:, 0] + 0.5 * x[:, 1]
    small, _ = fanova(x, y, n_trees=8, seed=0)
    huge, _ = fanova(x, y * 1e300, n_trees=8, seed=0)
    assert huge == pytest.approx(small, abs=1e-3) and small.sum() > 0.9


def test_fanova_leaves_interactions_out_of_the_main_effects() -> None:
    """y = (x0 - 1/2)(x1 - 1/2): every marginal is flat, all the variance is interaction
    (a finite forest finds a little main effect in the noise of its splits)."""
    x = np.random.default_rng(1).random((300, 2))
    mean, _ = fanova(x, (x[:, 0] - 0.5) * (x[:, 1] - 0.5), n_trees=16, seed=0)
    assert mean.sum() < 0.25


def test_main_effects_of_a_hand_made_tree() -> None:
    """Two leaves split at x0 = 0.25 (values 0 and 1): x0 is all the variance."""
    tree = Leaves(
        lo=np.array([[0.0, 0.0], [0.25, 0.0]]),
        hi=np.array([[0.25, 1.0], [1.0, 1.0]]),
        value=np.array([0.0, 1.0]),
    )
    assert main_effects(tree) == pytest.approx([1.0, 0.0])
    constant = Leaves(tree.lo, tree.hi, np.array([2.0, 2.0]))
    assert main_effects(constant) is None


def test_fanova_of_a_constant_objective_is_zero() -> None:
    mean, std = fanova(np.random.default_rng(2).random((20, 2)), np.ones(20))
    assert mean.tolist() == [0.0, 0.0] and std.tolist() == [0.0, 0.0]


# --- errors ------------------------------------------------------------------------------------


def test_errors_say_what_is_missing(db: Path, tmp_path: Path) -> None:
    @hp.tune(SPACE, study="quiet", db=tmp_path / "q.db", seed=0)
    def quiet(x: float, lr: float, opt: str) -> float:
        return x

    empty = quiet.study
    with pytest.raises(PlotError, match="has no trials yet"):
        plots.history(empty)
    quiet.optimize(n_trials=3, progress=False)
    with pytest.raises(PlotError, match=r"no intermediate values to plot: report them"):
        plots.curves(quiet.study)
    with pytest.raises(PlotError, match="at least 6 complete trials; study 'quiet' has 3"):
        plots.importance(quiet.study)
    with pytest.raises(PlotError, match="no lineage to plot"):
        plots.lineage(quiet.study)
    with pytest.raises(PlotError, match=r"has no intermediate values of 'loss' \(it has 'value'"):
        plots.curves(study(db, "random"), metric="loss")
    with pytest.raises(PlotError, match="unknown plot kind 'pie'"):
        plots.figure(quiet.study, "pie")
    with pytest.raises(PlotError, match=r"name it \.png, \.pdf or \.svg"):
        plots.save(quiet.study, "history", tmp_path / "h.gif")
    with pytest.raises(PlotError, match=r"the folder .* does not exist"):
        plots.save(quiet.study, "history", tmp_path / "nowhere" / "h.png")
    (tmp_path / "file").touch()  # it said "the folder .../file does not exist"
    with pytest.raises(PlotError, match=r"the folder .*file is a file, not a folder"):
        plots.save(quiet.study, "history", tmp_path / "file" / "h.png")


def test_curves_of_a_study_whose_trials_have_not_run_do_not_ask_for_reports(
    tmp_path: Path,
) -> None:
    """Only queued trials: the error told the user to call trial.report, which the
    function may well do once a trial runs."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="later", db=tmp_path / "l.db")
    def f(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        return x

    f.study.enqueue({"x": 0.5})
    with pytest.raises(PlotError) as raised:
        plots.curves(f.study)
    assert str(raised.value) == (
        "study 'later' has no intermediate values yet: its 1 trial is queued or running and "
        "none has reported one"
    )


def test_without_matplotlib_the_error_names_the_extra(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    for kind in plots.KINDS:
        with pytest.raises(ImportError, match=r'pip install "hpotrack\[plots\]"'):
            plots.save(study(db, "p"), kind, tmp_path / "x.png")
        with pytest.raises(MissingDependency, match="matplotlib, which is not installed"):
            plots.kinds.DRAW[kind](study(db, "p"))
    assert plots.importance_values(study(db, "random"))  # numbers need no matplotlib


def test_a_continued_trials_curve_is_joined_where_it_started() -> None:
    """Trial 1 was promoted from 0 at step 3 and resumed its checkpoint: its line starts
    at 0's point at step 3. Trial 2, promoted too, trained again from step 1: not joined."""
    promoted = (Edge(0, "promoted", step=3),)
    trials = [
        TrialRecord(0, TrialState.PRUNED, {}),
        TrialRecord(1, TrialState.COMPLETE, {}, parents=promoted),
        TrialRecord(2, TrialState.COMPLETE, {}, parents=promoted),
    ]
    found = {
        0: [(1, 0.9), (2, 0.8), (3, 0.7)],
        1: [(4, 0.6), (5, 0.5)],
        2: [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)],
    }

    def point_at(number: int, step: int) -> tuple[int, float] | None:
        before = [point for point in found[number] if point[0] <= step]
        return before[-1] if before else None

    def joined(number: int) -> list[tuple[int, float]]:
        points = plots._joined(trials[number], np.array(found[number], float), point_at)
        return [(int(step), float(value)) for step, value in points]

    assert joined(1) == [(3, 0.7), (4, 0.6), (5, 0.5)]
    assert joined(2) == found[2]
    assert joined(0) == found[0]


def test_a_pbt_segments_curve_is_joined_at_its_parents_stored_point(db: Path) -> None:
    """Read from the file one trial at a time, a segment is still led by the point of
    the segment it continues, at the step it started after."""
    opened = study(db, "p")
    point_at = curves_plot._point_at(opened, opened.objective)
    joined = 0
    for trial in opened.trials:
        own = opened.curve(trial.number)[opened.objective]
        points = curves_plot._joined(
            trial, curves_plot._stored(opened, trial.number, opened.objective), point_at
        )
        edge = source_edge(trial)
        if edge is not None and edge.step is not None and own[0][0] > edge.step:
            parent = opened.curve(edge.parent)[opened.objective]
            lead = [point for point in parent if point[0] <= edge.step][-1]
            assert points[0].tolist() == list(lead)
            joined += 1
        assert points[-len(own) :].tolist() == [list(point) for point in own]
    assert joined >= 4


def test_importance_of_a_halving_study_uses_the_largest_step_with_enough_values(
    db: Path, tmp_path: Path
) -> None:
    """Successive halving completes few trials: importance then reads the values at the
    largest step that five trials reached (x matters, the noise parameter does not), and
    says so; values at different steps are never mixed."""

    @hp.tune({"x": hp.Float(0.0, 1.0), "noise": hp.Float(0.0, 1.0)}, method="sha",
             study="asha", db=db, seed=0, budget=hp.Budget(1, 9))  # fmt: skip
    def train(x: float, noise: float, trial: hp.Trial) -> float:
        for step in trial.steps:
            trial.report((x - 0.3) ** 2 + 0.001 * noise + 1 / step, step=step)
        return (x - 0.3) ** 2 + 0.001 * noise + 1 / 9

    study = train.optimize(n_trials=20)
    complete = [t for t in study.trials if t.state.value == "complete"]
    assert len(complete) < plots.MIN_IMPORTANCE_TRIALS  # so the complete ones alone do not do
    at_3 = [t for t in study.trials if 3 in t.checks]
    assert len(at_3) >= plots.MIN_IMPORTANCE_TRIALS
    shares = plots.importance_values(study)
    assert shares["x"][0] > 0.5 > shares["noise"][0]
    observed = plots._observed(study)
    assert observed.where == f"{len(at_3)} trials' value at step 3"
    assert sorted(observed.values) == sorted(t.checks[3] for t in at_3)
    plots.save(study, "importance", tmp_path / "i.png")


def test_importance_at_the_fewest_trials_it_takes_finds_what_matters(tmp_path: Path) -> None:
    """It took 5 trials, with which no tree of the forest can split (3 trials on each side):
    every share was 0, drawn as "interactions and the rest: 100%"."""

    @hp.tune({"x": hp.Float(0.0, 1.0), "y": hp.Float(0.0, 1.0)}, method="random",
             study="few", db=tmp_path / "f.db", seed=0)  # fmt: skip
    def train(x: float, y: float) -> float:
        return 10 * x + 0.01 * y

    with pytest.raises(PlotError, match="at least 6 complete trials; study 'few' has 5"):
        plots.importance(train.optimize(n_trials=5, progress=False))
    shares = plots.importance_values(train.optimize(n_trials=6, progress=False))
    assert shares["x"][0] > shares["y"][0]


def test_importance_of_a_population_compares_segments_that_ended_at_one_step(
    tmp_path: Path,
) -> None:
    """A PBT study's complete trials are segments ending at steps 2, 4 and 6: importance
    mixed them all, crediting the parameters with how long their model had trained."""

    @hp.tune({"lr": hp.Float(0.01, 1.0, log=True), "noise": hp.Float(0.0, 1.0)},
             method=hp.methods.PBT(population=6, interval=2, generations=3), study="pop",
             db=tmp_path / "p.db", seed=0)  # fmt: skip
    def train(lr: float, noise: float, trial: hp.Trial) -> float:
        w = trial.load_checkpoint() or 0.0
        for step in trial.steps:
            w += lr * (1.0 - w)
            trial.report(1.0 - w + 1e-6 * noise, step=step)
        trial.save_checkpoint(w)
        return 1.0 - w + 1e-6 * noise

    study = train.optimize(progress=False)
    last = [t for t in study.trials if t.state.value == "complete" and t.budget == 6]
    assert len(last) == 6 < len(study.trials)
    observed = plots._observed(study)
    assert observed.where == "6 trials' value at step 6"
    assert sorted(observed.values) == sorted(t.value for t in last)


# --- the audit: what the images showed ---------------------------------------------------------

LONG = "a_study_name_that_goes_on_and_on_" + "y" * 90


def inside_and_apart(fig: Figure, texts: list[Text]) -> None:
    """Every text lies within the figure, and no two of ``texts`` (a row of tick labels)
    overlap: unrotated, their boxes; rotated, their anchors are at least a line apart
    across the slant."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    shown = [text for text in texts if text.get_text()]
    boxes = [text.get_window_extent(renderer) for text in shown]
    for text, box in zip(shown, boxes, strict=True):
        assert box.x0 >= -1 and box.x1 <= fig.bbox.width + 1, (text.get_text(), box)
    for (a, box), (b, other) in pairwise(zip(shown, boxes, strict=True)):
        slant = np.radians(a.get_rotation())
        if slant:
            apart = abs(other.x1 - box.x1) * np.sin(slant)  # right-aligned: ends anchored
            assert apart >= a.get_fontsize() * fig.dpi / 72, (a.get_text(), b.get_text())
        else:
            assert not box.overlaps(other), (a.get_text(), b.get_text())


def x_tick_labels(ax: Axes) -> list[Text]:
    """The x tick labels drawn: those within the axis's limits."""
    ax.figure.canvas.draw()
    low, high = ax.get_xlim()
    return [label for label in ax.get_xticklabels() if low <= label.get_position()[0] <= high]


@pytest.fixture(scope="module")
def long_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with a study whose study, objective and parameter names are 40 to 120
    characters long."""
    path = tmp_path_factory.mktemp("l") / "l.db"
    space = {
        "learning_rate_of_the_second_optimizer_in_the_very_deep_network": hp.Float(
            1e-5, 1e-1, log=True
        ),
        "weight_decay_applied_to_every_layer_except_the_batchnorm_ones": hp.Float(0.0, 1.0),
        "optimizer": hp.Choice(["adam", "sgd"]),
    }
    objective = "validation_cross_entropy_loss_after_the_final_epoch_of_training"

    @hp.tune(space, study=LONG, objective=objective, db=path, method="random", seed=0)
    def train(trial: hp.Trial, **p: float) -> dict[str, float]:
        value = sum(p[name] for name in list(space)[:2])
        trial.report(value, step=1)
        return {objective: value}

    train.optimize(n_trials=8, progress=False)
    close_stores()
    return path


@pytest.mark.parametrize("kind", ["history", "curves", "params", "slice", "importance", "timeline"])
def test_long_names_stay_inside_the_figure_and_apart(long_names: Path, kind: str) -> None:
    """A 120-character study name ran off both sides of the title, and the parameters'
    names on the parallel axes were written over one another."""
    fig = plots.figure(study(long_names, LONG), kind)
    ax = fig.axes[0]
    inside_and_apart(fig, [ax.title, ax.xaxis.label])
    inside_and_apart(fig, x_tick_labels(ax))
    inside_and_apart(fig, [ax.yaxis.label])
    assert "…" in ax.get_title()


def test_thirty_parameters_fit_a_readable_width(tmp_path: Path) -> None:
    """30 parameters drew a 48-inch strip (4800 pixels wide) with 20° names."""
    space = {f"parameter_{i:02d}": hp.Float(0.0, 1.0) for i in range(30)}

    @hp.tune(space, study="wide", db=tmp_path / "w.db", method="random", seed=0)
    def f(**p: float) -> float:
        return sum(p.values())

    fig = plots.params(f.optimize(n_trials=6, progress=False))
    assert fig.get_figwidth() <= 20
    inside_and_apart(fig, x_tick_labels(fig.axes[0]))


def test_importance_of_values_near_the_float_limit(tmp_path: Path) -> None:
    """Values of ±1e300 are drawable, but fANOVA's sums of squares overflowed: every
    share was 0 (empty bars, "interactions and the rest: 100%")."""

    @hp.tune(SPACE, study="huge", db=tmp_path / "h.db", method="random", seed=0)
    def f(x: float, lr: float, opt: str) -> float:
        return 1e300 if x > 0 else -1e300

    shares = plots.importance_values(f.optimize(n_trials=20, progress=False))
    assert shares["x"][0] > 0.9


def test_mutation_edges_have_their_own_colour(tmp_path: Path) -> None:
    """Evolution's edges are of kind "mutation" (its origin is "mutated"): they fell back
    to the colour of PBT's exploit edges."""

    @hp.tune(SPACE, study="evo", db=tmp_path / "e.db", seed=0,
             method=hp.methods.Evolution(population=4, crossover_rate=0.0))  # fmt: skip
    def f(x: float, lr: float, opt: str) -> float:
        return x

    ax = plots.lineage(f.optimize(n_trials=10, progress=False)).axes[0]
    (arrows,) = [c for c in ax.collections if str(c.get_label()).startswith("mutation")]
    others = {to_rgba(KIND_COLOURS[kind]) for kind in KIND_COLOURS if kind != "mutated"}
    assert to_rgba(arrows.get_facecolor()[0]) == to_rgba(KIND_COLOURS["mutated"])
    assert to_rgba(KIND_COLOURS["mutated"]) not in others - {to_rgba(KIND_COLOURS["mutation"])}


def test_a_parent_graph_of_many_edges_draws_faint_lines_not_arrows(tmp_path: Path) -> None:
    """5,000 evolution trials (9,000 edges) drew their arrows as one solid blob, in 7 s:
    past MAX_ARROWS the edges are faint lines, left to right as the trials came."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="evo", db=tmp_path / "e.db", seed=0,
             method=hp.methods.Evolution(population=4))  # fmt: skip
    def f(x: float) -> float:
        return x

    opened = f.optimize(n_trials=200, progress=False)
    count = sum(len(t.parents) for t in opened.trials)
    assert count > lineage_plot.MAX_ARROWS
    ax = plots.lineage(opened).axes[0]
    assert not [c for c in ax.collections if isinstance(c, Quiver)]
    edges = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in edges) == count
    assert all((c.get_alpha() or 1.0) < 0.5 for c in edges)
    assert "left to right" in ax.get_title()
    assert all(handle.get_alpha() == 1.0 for handle in ax.get_legend().legend_handles)


def test_a_parent_graph_of_few_edges_draws_arrows(db: Path) -> None:
    ax = plots.lineage(study(db, "sha")).axes[0]
    assert [c for c in ax.collections if isinstance(c, Quiver)]
    assert "left to right" not in ax.get_title()


def test_the_best_so_far_is_drawn_over_the_trials(db: Path) -> None:
    """Under thousands of points the best-so-far line was hidden where it runs."""
    ax = plots.history(study(db, "random")).axes[0]
    (best,) = [line for line in ax.get_lines() if line.get_label() == "best so far"]
    assert all(best.get_zorder() > points.get_zorder() for points in ax.collections)


def test_curves_count_the_trials_whose_reports_all_diverged(tmp_path: Path) -> None:
    """Trials that reported only infinities vanished from the curves without a word."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="inf", db=tmp_path / "i.db", method="random",
             seed=0)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in (1, 2):
            trial.report(float("inf") if x > 0.5 else x, step=step)
        return x

    opened = f.optimize(n_trials=10, progress=False)
    diverged = sum(t.params["x"] > 0.5 for t in opened.trials)
    title = plots.curves(opened).axes[0].get_title()
    assert diverged and f"of {10 - diverged} trials\n{diverged} more diverged" in title


def test_a_curve_breaks_where_its_reports_diverged_and_says_so(tmp_path: Path) -> None:
    """A run whose loss went NaN after step 3 ended there without a word, as if it had
    stopped; one NaN at step 3 of 5 was bridged by a straight line from step 2 to 4."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="nan", db=tmp_path / "n.db", method="random",
             seed=0)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in range(1, 6):
            gone = step == 3 if trial.number == 1 else step > 3 and trial.number == 2
            trial.report(float("nan") if gone else x / step, step=step)
        return x

    opened = f.optimize(n_trials=3, progress=False)
    ax = plots.curves(opened).axes[0]
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    runs = sorted(segment[:, 0].tolist() for segment in lines.get_segments())
    assert runs == [[1, 2], [1, 2, 3], [1, 2, 3, 4, 5], [4, 5]]  # trial 0 whole, 1 in two
    (marks,) = [c for c in ax.collections if c.get_label() == "diverged next"]
    x = [t.params["x"] for t in opened.trials]
    assert sorted(marks.get_offsets().tolist()) == [[2, x[1] / 2], [3, x[2] / 3]]
    assert "of 3 trials\n2 trials with reports that diverged (NaN" in ax.get_title()


def test_one_trial_has_whole_ticks_and_no_best_so_far_key(tmp_path: Path) -> None:
    """One trial had ticks at trial -0.4, -0.2, ...; steps 1 to 5 at 1.5, 2.5, ...; and
    a "best so far" key in the legend for a line one point does not draw."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="one", db=tmp_path / "o.db", method="random",
             seed=0)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in range(1, 6):
            trial.report(x / step, step=step)
        return x

    opened = f.optimize(n_trials=1, progress=False)
    legend = plots.history(opened).axes[0].get_legend_handles_labels()[1]
    assert legend == ["complete (1)"]  # no "best so far" line: one point draws none
    for kind in ("history", "curves"):
        ax = plots.figure(opened, kind).axes[0]
        low, high = ax.get_xlim()
        ticks = [tick for tick in ax.get_xticks() if low <= tick <= high]
        assert ticks and all(tick == round(tick) for tick in ticks), (kind, ticks)


def test_the_parent_graph_draws_trials_on_no_edge_faint(db: Path) -> None:
    """In a large halving study the few promotions were buried under every trial's dot."""
    opened = study(db, "sha")
    ax = plots.lineage(opened).axes[0]
    linked = {n for t in opened.trials for e in t.parents for n in (e.parent, t.number)}
    faint = [c for c in ax.collections if c.get_alpha() == lineage_plot.UNLINKED_ALPHA]
    assert sum(len(c.get_offsets()) for c in faint) == len(opened.trials) - len(linked) > 0
    complete = sum(t.state is TrialState.COMPLETE for t in opened.trials)
    assert f"complete ({complete})" in ax.get_legend_handles_labels()[1]


def test_the_parent_graph_of_values_spanning_decades_is_on_a_log_axis(tmp_path: Path) -> None:
    """The history draws 1e-4 to 1e4 on a log axis; the lineage drew it linear, every
    trial but the largest few on one line at the bottom, their edges unreadable."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="evolution", study="evo",
             db=tmp_path / "e.db", seed=0, max_failures=3)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        if trial.number == 2:
            raise RuntimeError("diverged")
        return float(10 ** (8 * x - 4))

    opened = train.optimize(n_trials=40, progress=False)
    ax = plots.lineage(opened).axes[0]
    assert ax.get_yscale() == "log"
    valued = [t.value for t in opened.trials if t.value is not None]
    (floor,) = [line.get_ydata()[0] for line in ax.lines]  # the failed trial's "no value"
    assert 0 < floor < min(valued)


@pytest.fixture(scope="module")
def negative_decades(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database with study "neg": a maximized objective from -1e6 to -1 (a negative
    error, a log-likelihood), with reports and the lineage of evolution; trial 3 failed."""
    path = tmp_path_factory.mktemp("n") / "n.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="evolution", study="neg", seed=0, db=path,
             direction="maximize", max_failures=3)  # fmt: skip
    def train(x: float, trial: hp.Trial) -> float:
        if trial.number == 3:
            raise RuntimeError("out of memory")
        trial.report(-(10 ** (6 * x)), step=1)
        return float(-(10 ** (6 * x)))

    train.optimize(n_trials=30, progress=False)
    close_stores()
    return path


# matplotlib 3.7 (the oldest allowed) warned when a symlog axis was set before anything was
# drawn on it: "All values for SymLogScale are below linthresh"
@pytest.mark.filterwarnings("error::UserWarning")
@pytest.mark.parametrize("kind", ["history", "curves", "lineage", "slice"])
def test_negative_values_spanning_decades_are_on_a_log_scale_of_their_size(
    negative_decades: Path, kind: str
) -> None:
    """-1e6 to -1 was drawn linear: every trial but the worst few on one line at the top,
    the best so far flat there; and 5% above 0 for nothing."""
    opened = study(negative_decades, "neg")
    ax = plots.figure(opened, kind).axes[0]
    assert ax.get_yscale() == "symlog"
    low, high = ax.get_ylim()
    values = [t.value for t in opened.trials if t.value is not None]
    assert low < min(values) and max(values) < high < 0
    if kind == "lineage":  # the failed trial's "no value" line, apart from the lowest
        (floor,) = [line.get_ydata()[0] for line in ax.lines]
        assert low < floor < 1.5 * min(values)


def test_params_of_negative_values_spanning_decades_spreads_them(
    negative_decades: Path,
) -> None:
    ax = plots.params(study(negative_decades, "neg")).axes[0]
    (lines,) = [c for c in ax.collections if c.get_array() is not None]
    ends = [segment[-1, 1] for segment in lines.get_segments()]
    xs = [segment[0, 1] for segment in lines.get_segments()]
    assert np.corrcoef(xs, ends)[0, 1] < -0.99  # the objective's axis follows x's, evenly
    assert type(lines.norm).__name__ == "SymLogNorm"
    assert "log scale: value" in ax.get_title()


def test_the_curves_legend_keys_are_opaque_however_many_trials(tmp_path: Path) -> None:
    """With many trials the lines are faint, and so were their keys in the legend."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="many", db=tmp_path / "m.db", method="random",
             seed=0)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        trial.report(x, step=1)
        trial.report(x / 2, step=2)
        return x / 2

    fig = plots.curves(f.optimize(n_trials=120, progress=False))
    (legend,) = fig.legends
    assert [handle.get_alpha() for handle in legend.legend_handles] == [1.0]


def test_twenty_thousand_curves_are_faint_enough_to_show_their_density() -> None:
    """At 20,000 trials each line was drawn at alpha 0.15: one solid colour from the
    lowest curve to the highest, where most of them lie unseen."""
    from hpotrack.plots.common import new_axes
    from hpotrack.plots.curves_plot import _draw_curves

    _, ax = new_axes()
    line = np.array([[1.0, 1.0], [2.0, 0.5]])
    _draw_curves(ax, {TrialState.COMPLETE: [[line]] * 20_000})
    (lines,) = ax.collections
    assert (lines.get_alpha() or 1.0) <= 0.05


def test_a_long_curve_is_thinned_to_the_bound_keeping_its_shape() -> None:
    """Reported every batch, 100,000 points a trial were each read and drawn: 50 trials
    took 9 s and 1 GB. Thinned, a curve keeps its first and last point, and its lowest
    and highest: a spike survives."""
    steps = np.arange(1, 100_001, dtype=np.float64)
    values = 1.0 / np.sqrt(steps) + 0.01 * np.sin(steps)
    values[31_337] = 5.0  # one spike up
    values[77_777] = -1.0  # and one down
    points = np.column_stack([steps, values])
    thin = curves_plot.thinned(points)
    assert len(thin) <= curves_plot.MAX_CURVE_POINTS
    assert (thin[0] == points[0]).all() and (thin[-1] == points[-1]).all()
    assert thin[:, 1].max() == 5.0 and thin[:, 1].min() == -1.0
    assert (np.diff(thin[:, 0]) > 0).all()  # in step order, every point one of the curve's
    assert (points[thin[:, 0].astype(int) - 1] == thin).all()
    assert len(curves_plot.thinned(points, bound=40)) <= 40


def test_a_short_curve_is_drawn_unchanged() -> None:
    points = np.column_stack([np.arange(1.0, 4_001.0), np.linspace(1.0, 0.0, 4_000)])
    assert curves_plot.thinned(points) is points


def test_the_curves_of_a_dense_study_are_thinned_and_written(tmp_path: Path) -> None:
    """A report every step: the plot is written, each line at most the bound, its
    spike and where the pruned trial stopped still drawn."""

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="dense", db=tmp_path / "d.db", method="random",
             seed=0)  # fmt: skip
    def f(x: float, trial: hp.Trial) -> float:
        for step in range(1, 10_001):
            trial.report(x + (3.0 if step == 4_321 else 1.0 / step), step=step, prune=False)
        if trial.number == 1:
            raise hp.Pruned("stopped by hand")
        return x

    opened = f.optimize(n_trials=3, progress=False)
    ax = plots.curves(opened).axes[0]
    drawn = [c for c in ax.collections if isinstance(c, LineCollection)]
    segments = [line for lines in drawn for line in lines.get_segments()]
    assert len(segments) == 3
    assert all(len(line) <= curves_plot.MAX_CURVE_POINTS for line in segments)
    assert all(line[:, 1].max() >= 3.0 and line[-1, 0] == 10_000 for line in segments)
    (stopped,) = [c for c in ax.collections if c.get_label() == "pruned here"]
    assert stopped.get_offsets().tolist() == [[10_000, opened.trials[1].params["x"] + 1e-4]]
    assert plots.save(opened, "curves", tmp_path / "c.png").read_bytes().startswith(PNG)


# --- slice -------------------------------------------------------------------------------------


def panels(fig: Figure) -> list[Axes]:
    """The slice figure's panels: its axes with a title (not the colour bar's)."""
    return [ax for ax in fig.axes if ax.get_title()]


def points(ax: Axes, label: str) -> np.ndarray:
    """The (x, y) of the scatter labelled ``label`` on ``ax``."""
    (scatter,) = [c for c in ax.collections if c.get_label() == label]
    return np.asarray(scatter.get_offsets())


def test_slice_has_a_panel_per_parameter_on_its_own_scale(db: Path) -> None:
    """x in the parameter's values (log for log=True, the options for a Choice), y the
    objective; complete trials only, coloured by trial number, failed ones counted."""
    opened = study(db, "random")
    fig = plots.slices(opened)
    x_panel, lr_panel, opt_panel = panels(fig)
    assert [ax.get_title() for ax in (x_panel, lr_panel, opt_panel)] == ["x", "lr", "opt"]
    assert (x_panel.get_xscale(), lr_panel.get_xscale()) == ("linear", "log")
    assert [t.get_text() for t in opt_panel.get_xticklabels()] == ["adam", "sgd", "rms"]
    done = [t for t in opened.trials if t.state is TrialState.COMPLETE]
    failed = sum(t.state is TrialState.FAILED for t in opened.trials)
    queued = sum(t.state is TrialState.QUEUED for t in opened.trials)  # another test's
    assert failed and len(done) == len(opened.trials) - failed - queued
    xy = points(x_panel, "complete")
    assert xy.tolist() == [[t.params["x"], t.value] for t in done]  # distinct: no jitter
    assert points(lr_panel, "complete")[:, 0].tolist() == [t.params["lr"] for t in done]
    options = np.array([["adam", "sgd", "rms"].index(t.params["opt"]) for t in done])
    spread = points(opt_panel, "complete")[:, 0] - options
    assert np.all(np.abs(spread) <= plots.slice_plot.JITTER) and np.any(spread != 0)
    (scatter,) = [c for c in x_panel.collections if c.get_label() == "complete"]
    assert scatter.get_array().tolist() == [t.number for t in done]  # coloured by trial
    assert fig.axes[-1].get_ylabel() == "trial"  # the colour bar
    left_out = f"{failed} failed" + (f", {queued} queued" if queued else "")
    assert suptitle(fig).endswith(f"\nnot drawn: {left_out}")
    best = points(x_panel, "best")
    assert best.tolist() == [[opened.best.params["x"], opened.best.value]]


def test_slice_draws_pruned_trials_apart_and_says_so(db: Path) -> None:
    opened = study(db, "sha")
    fig = plots.slices(opened)
    pruned = [t for t in opened.trials if t.state is TrialState.PRUNED]
    assert pruned
    crosses = points(panels(fig)[0], "pruned")
    assert crosses[:, 1].tolist() == [t.value for t in pruned]
    # promoted trials repeat a configuration: spread, each still at its value
    assert np.allclose(crosses[:, 0], [t.params["x"] for t in pruned], rtol=0, atol=1e-3)
    labels = [text.get_text() for text in fig.legends[0].get_texts()]
    done = sum(t.state is TrialState.COMPLETE for t in opened.trials)
    assert labels == [
        f"complete ({done})",
        f"pruned ({len(pruned)}, at the value where they stopped)",
        f"best (#{opened.best.number})",
    ]


def test_slice_of_a_conditional_parameter_shows_where_it_is_active(tmp_path: Path) -> None:
    """gamma exists only with the rbf kernel: its panel draws only those trials, and its
    title says so; an Int with log=True is on a log axis, stacked values spread."""
    space = {
        "kernel": hp.Choice(["linear", "rbf"]),
        "gamma": hp.Float(1e-3, 10.0, log=True, when={"kernel": "rbf"}),
        "units": hp.Int(8, 1024, log=True),
        "layers": hp.Int(1, 3),
    }

    @hp.tune(space, study="svc", db=tmp_path / "s.db", method="random", seed=0)
    def f(kernel: str, units: int, layers: int, gamma: float = 0.0) -> float:
        return units + layers + gamma

    opened = f.optimize(n_trials=20, progress=False)
    kernel, gamma, units, layers = panels(plots.slices(opened))
    assert (kernel.get_title(), gamma.get_title()) == ("kernel", "gamma (where active)")
    active = [t for t in opened.trials if t.params["kernel"] == "rbf"]
    assert 0 < len(active) < 20
    assert points(gamma, "complete")[:, 0].tolist() == [t.params["gamma"] for t in active]
    assert len(points(kernel, "complete")) == 20
    assert (units.get_xscale(), layers.get_xscale()) == ("log", "linear")
    units.figure.canvas.draw()  # an Int's log axis reads 100, not 10^2 (nor 2×10^1)
    labels = [t.get_text() for t in units.get_xticklabels() if t.get_text()]
    assert "100" in labels and not any("10^" in x or "times" in x for x in labels), labels
    drawn = points(layers, "complete")[:, 0]
    stacked = np.array([t.params["layers"] for t in opened.trials], dtype=float)
    assert np.all(np.abs(drawn - stacked) <= plots.slice_plot.JITTER) and np.any(drawn != stacked)


def test_slice_of_many_parameters_is_a_grid_that_grows_with_its_rows(tmp_path: Path) -> None:
    """Four panels a row, the figure taller for each row; long names cut, inside the
    figure; one scatter per panel and state, however many trials."""
    long = "a_parameter_name_that_would_not_fit_above_a_panel"

    def drawn(count: int) -> Figure:
        space = {f"{long}_{i}": hp.Float(0.0, 1.0) for i in range(count)}

        @hp.tune(space, study=LONG, db=tmp_path / f"{count}.db", method="random", seed=0)
        def f(**p: float) -> float:
            return sum(p.values())

        return plots.slices(f.optimize(n_trials=6, progress=False))

    four, six = drawn(4), drawn(6)
    grid = panels(six)
    assert len(grid) == 6
    rows = sorted({round(ax.get_position().y0, 3) for ax in grid}, reverse=True)
    assert len(rows) == 2 and len({round(ax.get_position().y0, 3) for ax in panels(four)}) == 1
    assert [ax.get_subplotspec().rowspan.start for ax in grid] == [0, 0, 0, 0, 1, 1]
    assert six.get_figheight() > four.get_figheight() and six.get_figwidth() <= 20
    assert all("…" in ax.get_title() and len(ax.get_title()) <= 16 for ax in grid)
    assert all(len(ax.collections) == 2 for ax in grid)  # the trials, the best
    assert "…" in suptitle(six)
    inside_and_apart(six, [text for text in six.texts if text.get_text()])


def test_slice_of_an_objective_spanning_decades_is_on_a_log_scale(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(-5.0, 5.0)}, study="wide", db=tmp_path / "w.db", seed=0)
    def f(x: float) -> float:
        return float(10**x)

    (ax,) = panels(plots.slices(f.optimize(n_trials=12, progress=False)))
    assert ax.get_yscale() == "log"


def test_slice_errors_say_what_is_missing(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="bad", db=tmp_path / "b.db", max_failures=9)
    def f(x: float) -> float:
        raise RuntimeError("no GPU")

    with pytest.raises(PlotError, match="study 'bad' has no trials yet: nothing to plot"):
        plots.figure(f.study, "slice")
    opened = f.optimize(n_trials=3, progress=False)
    with pytest.raises(PlotError, match="study 'bad' has no complete trial yet: nothing to"):
        plots.figure(opened, "slice")
    with pytest.raises(PlotError, match="use one of history, curves, params, slice, importance"):
        plots.figure(opened, "slices")


# --- timeline ----------------------------------------------------------------------------------


def bars(ax: Axes) -> list[tuple[str, tuple[float, ...], float, float]]:
    """Each bar drawn: (its lane's label, its colour, its start, its end), by start."""
    from matplotlib.collections import PolyCollection

    labels = {
        round(tick): label.get_text()
        for tick, label in zip(ax.get_yticks(), ax.get_yticklabels(), strict=True)
    }
    drawn = []
    for collection in ax.collections:
        assert isinstance(collection, PolyCollection)
        colour = tuple(collection.get_facecolor()[0])
        for path in collection.get_paths():
            xs, ys = path.vertices[:, 0], path.vertices[:, 1]
            drawn.append(
                (labels[round(float(ys.mean()))], colour, float(xs.min()), float(xs.max()))
            )
    return sorted(drawn, key=lambda bar: bar[2])


def test_timeline_has_a_lane_per_worker_process(tmp_path: Path) -> None:
    """optimize(n_jobs=2) from a script: two worker processes, each trial a bar in its
    process's lane from its start to its end, coloured by state (trial 3 fails)."""
    done = run_source(
        tmp_path,
        "import time\nimport hpotrack as hp\n"
        "@hp.tune({'x': (0.0, 1.0)}, study='s', db='h.db', max_failures=5)\n"
        "def f(x, trial):\n"
        "    waited = time.monotonic() + 60  # both workers hold a trial: both have a lane\n"
        "    while time.monotonic() < waited and len(hp.load_study('s', db='h.db').trials) < 2:\n"
        "        time.sleep(0.02)\n"
        "    if trial.number == 3:\n        raise RuntimeError('boom')\n"
        "    return x\n"
        "if __name__ == '__main__':\n    f.optimize(n_trials=6, n_jobs=2)\n",
    )
    assert done.returncode == 0, done.stderr
    opened = hp.load_study("s", db=tmp_path / "h.db")
    trials = opened.trials
    pids = {t.pid for t in trials}
    assert len(pids) == 2
    ax = plots.timeline(opened).axes[0]
    origin = min(t.started or 0.0 for t in trials)
    expected = [
        (
            f"pid {t.pid}",
            to_rgba(plot_common.STATE_COLOURS[t.state]),
            (t.started or 0.0) - origin,
            (t.finished or 0.0) - origin,
        )
        for t in sorted(trials, key=lambda t: t.started or 0.0)
    ]
    drawn = bars(ax)
    assert [bar[:2] for bar in drawn] == [bar[:2] for bar in expected]
    assert [bar[2:] for bar in drawn] == [pytest.approx(bar[2:]) for bar in expected]
    first = min(trials, key=lambda t: t.started or 0.0)
    assert ax.get_yticklabels()[0].get_text() == f"pid {first.pid}"  # on top
    assert ax.get_ylim()[0] > ax.get_ylim()[1]
    assert ax.get_title() == f"s: 6 trials run by 2 worker processes\non host {trials[0].host}"
    assert ax.get_legend_handles_labels()[1] == ["complete (5)", "failed (1)"]
    assert [t.get_text() for t in ax.figure.legends[0].get_texts()] == [
        "complete (5)",
        "failed (1)",
    ]


def test_timeline_draws_a_running_trial_to_now_and_counts_the_queued(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="live", db=tmp_path / "l.db", seed=0)
    def f(x: float) -> float:
        return x

    f.optimize(n_trials=2, progress=False)
    running = f.ask()  # asked, not told: running in this process
    f.study.enqueue({"x": 0.5})
    before = time.time()
    ax = plots.timeline(f.study).axes[0]
    after = time.time()
    origin = min(t.started for t in f.study.trials if t.started is not None)
    *_, (lane, colour, start, end) = bars(ax)
    assert lane == f"pid {os.getpid()}" and colour == to_rgba(
        plots.STATE_COLOURS[TrialState.RUNNING]
    )
    assert before - origin <= end <= after - origin
    assert start == pytest.approx(f.study.trials[running.number].started - origin)
    hatched = [c for c in ax.collections if c.get_hatch()]
    assert len(hatched) == 1 and len(hatched[0].get_paths()) == 1
    (now,) = ax.get_lines()
    assert before - origin <= now.get_xdata()[0] <= after - origin
    assert ax.get_legend_handles_labels()[1] == ["complete (2)", "running (1, to now)", "now"]
    assert ax.get_title().endswith(
        ": 3 trials run by 1 worker process\non host " + hostname() + "; not drawn: 1 queued"
    )
    f.tell(running, 0.5)


def test_timeline_of_several_hosts_a_lost_worker_and_odd_records(tmp_path: Path) -> None:
    """Lanes "host:pid" once processes ran on two hosts; a trial whose worker died is
    failed "worker lost" in that worker's lane; a trial with no process (imported) is
    counted, one that ended with no end time is drawn at its start, not made up."""
    db = tmp_path / "h.db"
    lost_pid = dead_pid()
    train = _study_with_a_running_trial(
        db, retries=1, host=hostname(), pid=lost_pid, heartbeat=time.time()
    )
    insert_running_trial(db, "s", 3, host="gpu-node-7", pid=42, heartbeat=time.time())
    train.optimize(n_trials=5, progress=False)  # marks 2 lost, retries it as 4
    with open_store(db).write():
        conn = open_store(db).conn
        conn.execute("UPDATE trials SET host = NULL, pid = NULL WHERE number = 0")
        conn.execute("UPDATE trials SET finished = NULL WHERE number = 1")
    close_stores()
    opened = hp.load_study("s", db=db)
    assert opened.trials[2].state is TrialState.FAILED
    ax = plots.timeline(opened).axes[0]
    drawn = bars(ax)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert set(labels) == {
        f"{hostname()}:{os.getpid()}",
        f"{hostname()}:{lost_pid}",
        "gpu-node-7:42",
    }
    failed = to_rgba(plots.STATE_COLOURS[TrialState.FAILED])
    assert [bar[:2] for bar in drawn if bar[1] == failed] == [(f"{hostname()}:{lost_pid}", failed)]
    complete = to_rgba(plots.STATE_COLOURS[TrialState.COMPLETE])
    assert sum(bar[1] == complete and bar[2] == bar[3] for bar in drawn) == 1  # trial 1
    assert "failed (1, 1 worker lost)" in ax.get_legend_handles_labels()[1]
    assert ax.get_title().endswith(
        "\nnot drawn: 1 without a worker process (imported); "
        "1 without an end time, drawn at its start"
    )
    assert len(drawn) == len(opened.trials) - 1


def test_timeline_errors_say_what_is_missing(tmp_path: Path) -> None:
    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="none", db=tmp_path / "n.db")
    def f(x: float) -> float:
        return x

    with pytest.raises(PlotError, match="study 'none' has no trials yet: nothing to plot"):
        plots.timeline(f.study)
    f.study.enqueue({"x": 0.5})
    with pytest.raises(PlotError, match="study 'none' has no started trial yet: nothing to plot"):
        plots.timeline(f.study)
    f.optimize(n_trials=2, progress=False)
    with open_store(tmp_path / "n.db").write():
        open_store(tmp_path / "n.db").conn.execute("UPDATE trials SET host = NULL, pid = NULL")
    close_stores()
    with pytest.raises(
        PlotError,
        match=r"no trial with a worker process to plot: its 2 started trials record no "
        r"host and pid \(imported\)",
    ):
        plots.timeline(hp.load_study("none", db=tmp_path / "n.db"))


@pytest.mark.parametrize(
    ("span", "unit"), [(90.0, "seconds"), (600.0, "minutes"), (3 * 3600.0, "hours")]
)
def test_timeline_reads_its_time_in_a_unit_the_span_fits(
    tmp_path: Path, span: float, unit: str
) -> None:
    """A day of trials in seconds read as 86400 with an offset label: the axis is in
    minutes past 2 minutes, in hours past 2 hours, and the bars with it."""
    db = tmp_path / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, method="random", study="s", db=db, seed=0)
    def train(x: float) -> float:
        return x

    train.optimize(n_trials=2, progress=False)
    with open_store(db).write():
        conn = open_store(db).conn
        conn.execute("UPDATE trials SET started = 1000.0, finished = 1000.0 + ? / 2", (span,))
        conn.execute("UPDATE trials SET started = 1000.0 + ? / 2, finished = 1000.0 + ? "
                     "WHERE number = 1", (span, span))  # fmt: skip
    close_stores()
    ax = plots.timeline(hp.load_study("s", db=db)).axes[0]
    assert ax.get_xlabel().startswith(f"{unit} since the first trial started (")
    scale = {"seconds": 1.0, "minutes": 60.0, "hours": 3600.0}[unit]
    ends = sorted((start, end) for _, _, start, end in bars(ax))
    assert ends == [(0.0, span / 2 / scale), (span / 2 / scale, span / scale)]  # exact here
