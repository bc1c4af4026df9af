"""Figures of a study, drawn with matplotlib (the ``plots`` extra: ``pip install
"hpotrack[plots]"``).

Each function returns a :class:`matplotlib.figure.Figure` on an Agg canvas, made without
pyplot: no window ever opens and no global figure list grows, so a long-running process can
draw as many as it likes (matplotlib's "embedding" guide: figures without pyplot).
:func:`save` writes one to a file, atomically.

- :func:`history`: the objective of every trial, with the best so far (Optuna's
  ``plot_optimization_history``); pruned and failed trials marked.
- :func:`curves`: the intermediate values of every trial, by state, with the rung budgets
  where the method decided (Li et al. 2018, Hyperband, fig. 1).
- :func:`params`: parallel coordinates of the parameters in the unit-cube encoding the
  methods use (``Space.encode``; a ``Choice`` as its categories) and the objective, each
  line coloured by its value (Inselberg 1985).
- :func:`slices` (kind ``slice``; not ``slice``, which would hide Python's own in a
  ``from hpotrack.plots import *``): the objective against each parameter's own values,
  a panel per parameter, points coloured by trial number (Optuna's ``plot_slice``).
- :func:`importance`: each parameter's share of the objective's variance, by fANOVA on a
  random forest (Hutter et al. 2014; :mod:`hpotrack.importance`).
- :func:`pareto`: for a study of several objectives, every complete trial's values
  coloured by trial number, the Pareto front highlighted and, for two objectives, joined
  by the staircase of the region it dominates; for more, a panel per pair. The kinds
  that draw one value per trial (history, params, slice, importance) draw the first
  objective's, and say so.
- :func:`lineage`: for population-based training, members' segments over steps and the
  exploit jumps between them (Jaderberg et al. 2017, fig. 5); for other studies, the
  parent -> child graph by trial number, edges coloured by kind.
- :func:`timeline`: each trial as a bar from its start to its end, one row per worker
  process (``host:pid``), coloured by state: what several processes on one study did
  (Optuna's ``plot_timeline``, by worker instead of by trial).

In a study with constraints (``@hp.tune(..., constraints=[hp.Constraint(...)])``) the
answer drawn is the constrained one: the history's best so far, the best trial marked
by params and slice, and the Pareto front are those of the trials that meet every
constraint (:attr:`Study.best`, :attr:`Study.best_trials`). Complete trials that miss
one are drawn hollow (dashed and grey in params) under one legend key, "misses a
constraint (k)", in every kind that draws trials as points or lines; each title has a
line with the constraints, or, before any trial meets them, "no trial meets the
constraints yet", and then no best is drawn. A study without constraints is drawn as
ever.

Every function takes ``progress``, called with a number of trials as they are read (the
counts add up to ``len(study.trials)``), for a progress bar on long plots.

The package: :mod:`~hpotrack.plots.kinds` (the entry points), one module per kind
(``history_plot``, ``curves_plot``, ``params_plot``, ``slice_plot``, ``importance_plot``,
``pareto_plot``, ``lineage_plot``, ``timeline_plot``) and :mod:`~hpotrack.plots.common`
(what they share).
"""

from __future__ import annotations

from hpotrack.plots.common import (
    INSTALL,
    STATE_COLOURS,
    PlotError,
    Progress,
    require_matplotlib,
)
from hpotrack.plots.curves_plot import MAX_RUNG_LINES, curves
from hpotrack.plots.curves_plot import _joined as _joined  # for the tests
from hpotrack.plots.history_plot import history
from hpotrack.plots.importance_plot import MIN_IMPORTANCE_TRIALS, importance, importance_values
from hpotrack.plots.importance_plot import _observed as _observed  # for the tests
from hpotrack.plots.kinds import FORMATS, KINDS, figure, save
from hpotrack.plots.lineage_plot import KIND_COLOURS, lineage
from hpotrack.plots.params_plot import TEXT, params
from hpotrack.plots.pareto_plot import pareto
from hpotrack.plots.slice_plot import slices
from hpotrack.plots.timeline_plot import timeline

__all__ = [
    "FORMATS",
    "INSTALL",
    "KINDS",
    "KIND_COLOURS",
    "MAX_RUNG_LINES",
    "MIN_IMPORTANCE_TRIALS",
    "STATE_COLOURS",
    "TEXT",
    "PlotError",
    "Progress",
    "curves",
    "figure",
    "history",
    "importance",
    "importance_values",
    "lineage",
    "params",
    "pareto",
    "require_matplotlib",
    "save",
    "slices",
    "timeline",
]
