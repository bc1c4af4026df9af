"""``hpotrack trial`` and ``best``: one trial in full, and the best one (where trials came
from: :mod:`hpotrack.cli.lineage_tree`)."""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import click
from tabulate import tabulate

from hpotrack import checkpoints, views
from hpotrack import lineage as lineage_of
from hpotrack.budget import Budget
from hpotrack.cli import feasibility
from hpotrack.cli.common import (
    WIDTH,
    cli,
    echo_json,
    edge_dict,
    format_option,
    num,
    proposer,
    quantity,
    study_of,
    table,
    unambiguous,
    user_errors,
    when,
)
from hpotrack.cli.lineage_tree import edge_text
from hpotrack.cli.show import objective_columns, param_columns
from hpotrack.provenance import shown_argv, shown_cells, shown_script_argv
from hpotrack.records import Origin, TrialRecord, TrialState, worst_value
from hpotrack.space import Space, Value
from hpotrack.study import Study
from hpotrack.text import human_bytes, plural

SPARKS = "▁▂▃▄▅▆▇█"
TABLE_POINTS = 10  # curves up to this many points are a table, longer ones a sparkline
SPARK_WIDTH = 60


@cli.command()
@click.argument("study")
@click.argument("number", type=int)
@click.option(
    "--schedule",
    "with_schedule",
    is_flag=True,
    help="Also show each hyperparameter's value from which step on, along the segments "
    "the trial continues (PBT).",
)
@format_option(("table", "json"))
@click.pass_context
@user_errors
def trial(ctx: click.Context, study: str, number: int, with_schedule: bool, fmt: str) -> None:
    """Show everything recorded about one trial.

    Its origin and the method that proposed it (auto's choice: "auto (tpe)"), params
    (a conditional one the trial left inactive with why, "gamma  inactive
    (kernel='linear')"; JSON leaves it out of "params"), metrics, curves of intermediate
    values, its rung (with the step it was checked at there), bracket and checks (the
    objective where the method decided whether it goes on) when it has them, parents and
    children, where and with which code it ran (run from a notebook's cells: that
    notebook, when its kernel knows it, and the kernel's command line as the shell's),
    and the traceback of a failed trial; a running trial whose worker is gone (killed,
    say) says so. With constraints, each one with the trial's value and whether it
    holds (JSON: "feasible", "violation" and "constraints", a list of {"metric",
    "at_most", "at_least", "value", "met"}).
    With --schedule, its hyperparameter schedule too (JSON: "schedule", each
    hyperparameter's list of {"from_step", "value"}).
    """
    opened = study_of(ctx, study)
    trials = views.StoredTrials(opened.store, opened.id)  # this one and what it continues
    record = opened.trial(number)
    schedule = lineage_of.schedule(trials, number) if with_schedule else None
    curves = views.stored_curve(opened.store, opened.id, number)
    children = opened.store.children(opened.id, number)
    provenance = shown_provenance(opened.store.provenance(opened.id, number))
    saved = checkpoints.of_trial(opened.store, opened.id, number)
    root = opened.store.checkpoint_root
    on_disk = [(root / c.path).is_file() for c in saved]  # deleted by hand, or not copied
    if fmt == "json":
        curve = {n: [{"step": s, "value": v} for s, v in p] for n, p in curves.items()}
        kids = [{"child": child, **edge_dict(edge)} for child, edge in children]
        data = {"study": opened.name, **record.to_dict(), **feasibility.as_json(opened, record)}
        data |= {"curve": curve, "children": kids}
        data["checkpoints"] = [
            {"step": c.step, "bytes": c.size, "path": str(root / c.path), "exists": present}
            for c, present in zip(saved, on_disk, strict=True)
        ]
        data["provenance"] = provenance or None
        if schedule is not None:
            data["schedule"] = {
                name: [{"from_step": step, "value": value} for step, value in line]
                for name, line in schedule.items()
            }
        echo_json(data)
        return
    state = record.state.value
    if record.state is TrialState.RUNNING and (gone := opened.workers_gone([number])):
        state += f" ({gone[number]}; the study's next run marks it lost)"
    lines = [f"Trial {record.number} of study {opened.name!r}: {state}"]
    value = None if record.value is None else f"{record.value!r} ({opened.objective})"
    if opened.optimizing.is_multi and record.state is TrialState.COMPLETE:
        values = opened.optimizing.values(record.metrics) or ()
        value = ", ".join(f"{m}={v!r}" for m, v in zip(opened.objectives, values, strict=False))
    lines += _pairs(
        [
            ("value", value),
            ("origin", record.origin),
            *_present([("method", proposer(record))]),
            ("note", record.note),
            ("budget", amount_text(record.budget, opened.budget)),
            *_present([("trained", amount_text(record.trained, opened.budget))]),
            *_present([("rung", rung_text(record)), ("bracket", record.bracket)]),
            ("started", when(record.started)),
            ("finished", when(record.finished)),
            ("duration", None if record.duration is None else f"{record.duration:.3f} s"),
        ]
    )
    lines += _section("Parameters", _pairs(param_pairs(opened.space, record.params)))
    if schedule is not None:
        lines += _section("Schedule (from step: value)", _pairs(_steps(schedule)))
    metrics = ((k, unambiguous(v) if isinstance(v, str) else v) for k, v in record.metrics.items())
    lines += _section("Metrics", _pairs(metrics))
    if opened.optimizing.constrained:
        title = feasibility.title(opened, record)
        lines += _section(title, _pairs(feasibility.pairs(opened, record)))
    lines += _section("Curves", [line for n, p in curves.items() for line in _curve_lines(n, p)])
    checks = sorted(record.checks.items())  # the objective where the method decided
    if checks:
        promotions = trials.read(c for c, e in children if e.kind == Origin.PROMOTED.value)
        # a retry of a promotion keeps its edge: the same promotion
        promoted_as = [t.number for t in promotions if t.origin != Origin.RETRIED.value]
        decision = decision_text(record, opened.direction, promoted_as)
        lines += _section(
            "Checks", [*_curve_lines(opened.objective, checks), *_resumed(record), decision]
        )
    lineage = []
    if record.parents:
        parents = ", ".join(edge_text(e, e.parent, clip=False) for e in record.parents)
        lineage.append(("parents", parents))
    if children:
        lineage.append(("children", ", ".join(edge_text(e, c, clip=False) for c, e in children)))
    lines += _section("Lineage", _pairs(lineage))
    lines += _section(
        f"Checkpoints (in Python: study.load_checkpoint({number}, step=...))",
        [
            f"  step {c.step:<6} {human_bytes(c.size):>9}  {root / c.path}"
            + ("" if present else "  (file missing)")
            for c, present in zip(saved, on_disk, strict=True)
        ],
    )
    lines += _section(
        "Provenance",
        _pairs(provenance_pairs(provenance), whole=("argv", "shell argv", "script argv")),
    )
    if record.error:
        lines += ["", "Error", *record.error.rstrip().splitlines()]
    click.echo("\n".join(lines))


def rung_text(record: TrialRecord) -> str | None:
    """A trial's rung with the step it was checked at there, as the trial stored it: its
    last check (the one that set its rung), or for a promotion not checked since, the
    check of its parent that promoted it (the edge's step); None without a rung."""
    if record.rung is None:
        return None
    if record.checks:
        return f"{record.rung} (checked at step {max(record.checks)})"
    promoted = [e for e in record.parents if e.kind == Origin.PROMOTED.value and e.step]
    if not promoted:
        return str(record.rung)
    edge = promoted[0]
    return f"{record.rung} (promoted from trial {edge.parent}'s check there, at step {edge.step})"


def _carried_over(record: TrialRecord) -> tuple[int, int] | None:
    """For a retry that resumed its lost trial's checkpoint: (that trial, the step up to
    which its checks were carried over); None for other trials."""
    edge = checkpoints.source_edge(record)
    if edge is None or edge.kind != Origin.RETRIED.value or edge.step is None:
        return None
    return edge.parent, edge.step


def _resumed(record: TrialRecord) -> list[str]:
    """A line naming the checks a retry took over from the lost attempt it resumed."""
    carried = _carried_over(record)
    if carried is None or not any(step <= carried[1] for step in record.checks):
        return []
    lost, until = carried
    return [f"  up to step {until}: carried over from the lost trial it resumes, #{lost}"]


def decision_text(record: TrialRecord, direction: str, promoted_as: Sequence[int]) -> str:
    """What the method decided at the trial's checks (its own, not those a retry carried
    over), in one line."""
    last_step, last_value = max(record.checks.items())
    if record.state is not TrialState.PRUNED:
        carried = _carried_over(record)
        own = sum(carried is None or step > carried[1] for step in record.checks)
        return f"  went on at {plural(own, 'check')}" if own else "  went on"
    text = f"  stopped at step {last_step}"
    if last_value == worst_value(direction):  # what a NaN or infinite report is stored as
        text += " (it reported NaN or infinity there: the worst value)"
    if promoted_as:
        text += f"; promoted later as trial {', '.join(map(str, promoted_as))}"
    return text


def _steps(schedule: Mapping[str, Sequence[tuple[int, Value]]]) -> list[tuple[str, str]]:
    """Each hyperparameter's schedule as ``1: 0.1, 5: 0.12`` (floats in 6 digits)."""
    return [
        (name, ", ".join(f"{step}: {num(v) if isinstance(v, float) else v}" for step, v in line))
        for name, line in schedule.items()
    ]


def amount_text(amount: float | None, budget: Budget | None) -> str | None:
    """A trial's budget with the study's unit, e.g. ``9 epochs``."""
    if amount is None:
        return None
    return num(amount) if budget is None else quantity(amount, budget.unit)


def _present(pairs: Iterable[tuple[str, object]]) -> list[tuple[str, object]]:
    """The pairs that have a value (fields only some studies use)."""
    return [(key, value) for key, value in pairs if value is not None]


def shown_provenance(run: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's ``runs`` row with its stored argv as command lines to read: ``ran_in``,
    the IPython cells that ran it (None for a script), ``argv``, the command line that
    started the run (``hpotrack resume ...`` for a resumed run; a notebook's kernel
    launcher beside ``ran_in``), then ``script_argv``, what a resumed run gave its
    script (None for other runs)."""
    shown: dict[str, Any] = {}
    for key, value in run.items():
        if key == "argv":
            shown["ran_in"] = shown_cells(value)
            shown["argv"] = shown_argv(value)
            shown["script_argv"] = shown_script_argv(value)
        else:
            shown[key] = value
    return shown


def provenance_pairs(provenance: Mapping[str, Any]) -> list[tuple[str, object]]:
    """The run's fields to show, each on its line: text that would break the line (argv
    with a newline, a host from an imported file) is quoted and escaped, as a trial's
    other text is."""
    labels = {
        "git_commit": "git commit",
        "source_hash": "source hash",
        "script_argv": "script argv",
        "started": "run started",
        "ran_in": "ran in",
    }
    if provenance.get("ran_in"):  # the command line of the shell, not the user's script
        labels["argv"] = "shell argv"
    return [
        (labels.get(key, key), _provenance_value(key, value))
        for key, value in provenance.items()
        if value is not None
    ]


def _provenance_value(key: str, value: Any) -> object:
    if key == "started":
        return when(value)
    return unambiguous(value) if isinstance(value, str) else value


def _curve_lines(name: str, points: Sequence[tuple[int, float]]) -> list[str]:
    """A small table of a short curve (a NaN report, stored as null, reads ``nan``, not
    as a blank); a sparkline with first/last/min/max of a long one."""
    if len(points) <= TABLE_POINTS:
        table = tabulate(
            points, headers=["step", name], tablefmt="plain", floatfmt=".6g", missingval="nan"
        )
        return [f"  {line}" for line in table.splitlines()]
    values = [v if v is not None and math.isfinite(v) else None for _, v in points]
    lines = [f"  {name}: {len(points)} points, steps {points[0][0]}…{points[-1][0]}"]
    lines.append(f"    {sparkline(values)}")
    stats = [f"first {num(points[0][1])}", f"last {num(points[-1][1])}"]
    finite = [(v, s) for (s, _), v in zip(points, values, strict=True) if v is not None]
    if finite:
        low, high = min(finite), max(finite)
        stats += [f"min {num(low[0])} at step {low[1]}", f"max {num(high[0])} at step {high[1]}"]
    if len("    " + " · ".join(stats)) <= WIDTH:
        return [*lines, "    " + " · ".join(stats)]
    return [*lines, "    " + " · ".join(stats[:2]), "    " + " · ".join(stats[2:])]


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """▁▂▃▄▅▆▇█ for ``values`` (bucket means when more than ``width``); gaps are spaces."""
    if len(values) > width:
        buckets = []
        for i in range(width):
            part = values[i * len(values) // width : (i + 1) * len(values) // width]
            finite = [v for v in part if v is not None]
            buckets.append(sum(finite) / len(finite) if finite else None)
        values = buckets
    finite = [v for v in values if v is not None]
    if not finite:
        return " " * len(values)
    low, high = min(finite), max(finite)
    top = len(SPARKS) - 1
    return "".join(
        " "
        if v is None
        else SPARKS[top // 2 if high == low else round((v - low) / (high - low) * top)]
        for v in values
    )


@cli.command()
@click.argument("study")
@format_option(("table", "json"))
@click.pass_context
@user_errors
def best(ctx: click.Context, study: str, fmt: str) -> None:
    """Show the best complete trial of STUDY.

    For a population (pbt), the best of what its members ended with: a mid-run segment's
    value is no result (its model trained on). --format json prints {"study", "number",
    "value", "params", "metrics"} for scripts ("metrics": every metric the trial returned,
    the objective included; the table lists the others). A conditional parameter the
    trial left inactive is absent from "params"; the table says why ("gamma  inactive
    (kernel='linear')").

    A study of several objectives has no one best trial: its Pareto front (the complete
    trials no other beats on every objective) is shown instead, a row per trial by
    number; --format json prints {"study", "objectives": {name: direction}, "front":
    [{"number", "values": {name: value}, "params", "metrics"}, ...]}.

    With constraints (constraints= of @hp.tune), only a trial that meets them all can be
    best or on the front; the table lists each constraint with the trial's value, and
    --format json adds "feasible", "violation" (0.0) and "constraints" as trial prints
    them. With none feasible yet, best says so and exits 2.
    """
    opened = study_of(ctx, study)
    if opened.optimizing.is_multi:
        _front(opened, fmt)
        return
    record = opened.best
    data = {"study": opened.name, "number": record.number, "value": record.value}
    if fmt == "json":
        data |= {"params": dict(record.params), "metrics": dict(record.metrics)}
        echo_json({**data, **feasibility.as_json(opened, record)})
        return
    data["value"] = _exact(record.value)
    data["objective"] = f"{opened.objective} ({opened.direction})"
    lines = [*_pairs(data.items(), indent=""), "params"]
    lines += _pairs(param_pairs(opened.space, record.params))
    others = [(k, _exact(v)) for k, v in record.metrics.items() if k != opened.objective]
    if others:
        lines += ["metrics", *_pairs(others)]
    if opened.optimizing.constrained:  # all met: only a feasible trial is best
        lines += ["constraints", *_pairs(feasibility.pairs(opened, record))]
    click.echo("\n".join(lines))


def _front(study: Study, fmt: str) -> None:
    """``best`` of a study of several objectives: its Pareto front."""
    front = study.best_trials
    if not front:  # as with one objective, in every format
        raise views.no_complete_trial(study.name, study.refresh(), study.budget, None)
    if fmt == "json":
        echo_json(
            {
                "study": study.name,
                "objectives": dict(zip(study.objectives, study.directions, strict=True)),
                "front": [
                    {
                        "number": t.number,
                        "values": dict(zip(study.objectives, study.values(t), strict=True)),
                        "params": dict(t.params),
                        "metrics": dict(t.metrics),
                    }
                    for t in front
                ],
            }
        )
        return
    click.echo(
        f"study {study.name!r} optimizes {study.optimizing.describe()}: "
        f"{plural(len(front), 'trial')} on its Pareto front (none of them beaten on every "
        "objective by another trial)" + _among_feasible(study)
    )
    columns = param_columns(study)  # a parameter named like an objective: param_<name>
    rows = [
        {
            "number": t.number,
            **dict(zip(objective_columns(study).values(), study.values(t), strict=True)),
            **{columns[name]: value for name, value in param_pairs(study.space, t.params)},
        }
        for t in front
    ]
    click.echo(table(rows))


def _among_feasible(study: Study) -> str:
    """What the line above a front adds for a study with constraints: only trials that
    meet them are on it."""
    if not study.optimizing.constrained:
        return ""
    return f", among the trials that meet {study.optimizing.describe_constraints()}"


def param_pairs(space: Space, params: Mapping[str, Value]) -> list[tuple[str, object]]:
    """A trial's parameters in the space's order, each inactive one with why: ``gamma
    inactive (kernel='linear')``, not left out unexplained (JSON leaves it out)."""
    reasons = space.why_inactive(params)
    return [
        (name, f"inactive ({reasons[name]})" if name in reasons else _exact(params[name]))
        for name in space
        if name in params or name in reasons
    ]


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", title, *lines] if lines else []


def _pairs(
    pairs: Iterable[tuple[str, object]], indent: str = "  ", whole: Collection[str] = ()
) -> list[str]:
    """Aligned ``key  value`` lines, values wrapped to ``WIDTH`` columns at spaces only: a
    path or a word with hyphens stays whole, to copy (``/tmp/pytest-of-root/...`` was cut
    at its hyphens), and so do the values of the keys in ``whole`` (a command line)."""
    items = [(key, _text(value)) for key, value in pairs]
    width = min(max((len(key) for key, _ in items), default=0), 20)
    lines = []
    for key, value in items:
        lead = f"{indent}{key:<{width}}  "
        if len(lead) + len(value) <= WIDTH or len(lead) > WIDTH - 20 or key in whole:
            lines.append(lead + value)
        else:
            lines += textwrap.wrap(
                value,
                WIDTH,
                initial_indent=lead,
                subsequent_indent=" " * len(lead),
                break_long_words=False,
                break_on_hyphens=False,
            )
    return lines


def _exact(value: object) -> object:
    """Parameters and best values in full precision; None as a value is ``None``, text
    that reads as another value quoted."""
    if isinstance(value, str):
        return unambiguous(value)
    return repr(value) if isinstance(value, float) or value is None else value


def _text(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return num(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)
