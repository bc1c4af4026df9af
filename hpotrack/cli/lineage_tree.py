"""``hpotrack lineage``: where trials came from, as a tree of parent -> child edges (a
population's members are :mod:`hpotrack.cli.population`'s), and the words for an edge
that ``hpotrack trial`` uses too."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence

import click

from hpotrack import views
from hpotrack.cli import population
from hpotrack.cli.common import cli, echo_json, edge_dict, format_option, num, study_of, user_errors
from hpotrack.lineage import SEGMENT_GLOB, has_segments, members
from hpotrack.records import Edge, TrialRecord
from hpotrack.study import Study
from hpotrack.text import plural

MAX_DEPTH = 8  # a deeper lineage branch continues in a block of its own (80 columns)


Links = Mapping[int, Sequence[tuple[int, str]]]


@cli.command()
@click.argument("study")
@click.argument("number", type=int, required=False)
@click.option("--all", "show_all", is_flag=True, help="Also list trials without lineage.")
@format_option(("table", "json"))
@click.pass_context
@user_errors
def lineage(ctx: click.Context, study: str, number: int | None, show_all: bool, fmt: str) -> None:
    """Show where trials came from, as a tree, or a population's members.

    Each line is a parent -> child edge with its kind (mutation, retried, ...). With
    NUMBER: that trial's ancestors and its descendants.

    A population (PBT: trials claimed as pbt:member:segment) shows one block per member
    instead: each segment's trial, steps, value and how it started (continued, or copied
    another member's checkpoint, with the hyperparameters it then used), then the best
    final member. With NUMBER: the chain of segments that trial continues, and its
    children. --format json gives the same data.
    """
    opened = study_of(ctx, study)
    if has_segments(opened.store.claims(opened.id, SEGMENT_GLOB)) or (number is None and show_all):
        trials = opened.trials
    elif number is None:  # the trials on an edge: a study of random search has none
        trials = _linked(opened, views.StoredTrials(opened.store, opened.id))
    else:  # one trial's lineage: it, its ancestors and its descendants
        stored = views.StoredTrials(opened.store, opened.id)
        trials = _related(opened, stored, opened.trial(number))
    if members(trials):
        if number is None:
            population.show(opened.name, trials, opened.direction, fmt)
        else:
            opened.trial(number)  # an unknown number is one clear error
            population.show_chain(opened.name, trials, number, fmt)
        return
    edges = [(t.number, e) for t in trials for e in t.parents]
    down = _links((e.parent, child, e) for child, e in edges)
    up = _links((child, e.parent, e) for child, e in edges)
    by_number = {t.number: t for t in trials}
    if number is not None:
        origin = by_number[number].origin
        ancestors, descendants = _reach([number], up), _reach([number], down)
        edges = [(c, e) for c, e in edges if c in ancestors or e.parent in descendants]
    if fmt == "json":
        edges.sort(key=lambda ce: (ce[0], ce[1].parent, ce[1].kind))
        echo_json([{"child": child, **edge_dict(edge)} for child, edge in edges])
        return

    def label(n: int) -> str:
        return _node(by_number.get(n), n)

    if number is not None:
        lines = [f"ancestors of #{number}:", f"#{number} has no parents (origin: {origin})"]
        lines[1:] = tree([number], up, label, "←") if number in up else lines[1:]
        lines += ["", f"descendants of #{number}:"]
        lines += tree([number], down, label, "→") if number in down else ["no children"]
        click.echo("\n".join(lines))
        return
    roots = sorted(n for n in down if n not in up)
    reached = _reach(roots, down)
    roots += sorted(n for n in down if n not in reached)  # only in a cycle: never, but safe
    lines = tree(roots, down, label, "→") if edges else [f"no lineage in study {opened.name!r}"]
    if show_all:
        alone = [t for t in trials if t.number not in down and t.number not in up]
        if alone:
            lines += ["", "trials without lineage:", *(_node(t, t.number) for t in alone)]
    elif alone_count := sum(opened.store.summary(opened.id).counts.values()) - len(trials):
        lines += ["", f"{plural(alone_count, 'trial')} without lineage (--all lists them)"]
    click.echo("\n".join(lines))


def _linked(opened: Study, trials: views.StoredTrials) -> list[TrialRecord]:
    """The trials on any lineage edge of the study, by number, read without the others:
    the tree shows these and counts the rest (reading 100,000 trials of random search
    to say it has no lineage took 3 s)."""
    numbers = {n for child, edge in opened.store.edges(opened.id) for n in (child, edge.parent)}
    return trials.read(numbers)


def _related(opened: Study, trials: views.StoredTrials, record: TrialRecord) -> list[TrialRecord]:
    """Trial ``record``, its ancestors (along its parents) and its descendants (along the
    lineage index of children), by number: every trial whose edges the lineage of that
    one trial shows, read without the rest of the study."""
    found = {record.number: record}
    up = [record]
    while up:
        up = trials.read({e.parent for t in up for e in t.parents}.difference(found))
        found.update((t.number, t) for t in up)
    seen, down = {record.number}, {record.number}
    while down:
        down = {c for n in down for c, _ in opened.store.children(opened.id, n)} - seen
        seen |= down
        found.update((t.number, t) for t in trials.read(down))
    return sorted(found.values(), key=lambda t: t.number)


def tree(roots: Iterable[int], links: Links, label: Callable[[int], str], arrow: str) -> list[str]:
    """An ASCII tree per root. A node reached again says "(see above)"; a branch deeper
    than ``MAX_DEPTH`` continues in a block of its own, so lines stay short."""
    lines: list[str] = []
    expanded: set[int] = set()
    pending = deque((root, False) for root in roots)
    while pending:
        root, continued = pending.popleft()
        if root in expanded:
            continue
        if lines:
            lines.append("")
        stack: list[tuple[int, str, str, str | None, int]] = [(root, "", "", None, 0)]
        while stack:
            node, head, tail, edge, depth = stack.pop()
            text = label(node) if edge is None else f"{edge} {arrow} {label(node)}"
            if node in expanded:
                lines.append(f"{head}{text} (see above)")
                continue
            nexts = links.get(node, ())
            if nexts and depth >= MAX_DEPTH:
                lines += [head + text, f"{tail}┄ continued below"]
                pending.append((node, True))
                continue
            expanded.add(node)
            lines.append(head + text + (" (continued)" if continued and edge is None else ""))
            for i in reversed(range(len(nexts))):
                child, kind = nexts[i]
                branch, rest = ("└─ ", "   ") if i == len(nexts) - 1 else ("├─ ", "│  ")
                stack.append((child, tail + branch, tail + rest, kind, depth + 1))
    return lines


def _links(triples: Iterable[tuple[int, int, Edge]]) -> dict[int, list[tuple[int, str]]]:
    """node -> [(neighbour, edge text)], edges between the same pair joined, by number."""
    kinds: dict[int, dict[int, list[str]]] = {}
    for source, target, edge in triples:
        kinds.setdefault(source, {}).setdefault(target, []).append(edge_text(edge))
    return {
        source: [(target, " + ".join(texts)) for target, texts in sorted(targets.items())]
        for source, targets in kinds.items()
    }


def _reach(starts: Iterable[int], links: Links) -> set[int]:
    """Every node reachable from ``starts`` (included) along ``links``."""
    seen = set(starts)
    todo = list(seen)
    while todo:
        for nxt, _ in links.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _node(record: TrialRecord | None, number: int) -> str:
    if record is None:
        return f"#{number} (no such trial)"
    if record.value is None:
        return f"#{number} ({record.state.value})"
    return f"#{number} ({record.state.value}, {num(record.value)})"


def edge_text(edge: Edge, number: int | None = None, *, clip: bool = True) -> str:
    """An edge in words; ``clip`` cuts a long detail (the lineage tree's; ``trial``
    and JSON give it whole)."""
    text = edge.kind if number is None else f"#{number} {edge.kind}"
    if edge.step is not None:
        text += f" at step {edge.step}"
    if edge.detail:
        long = clip and len(edge.detail) > 24
        text += f" [{edge.detail[:23] + '…' if long else edge.detail}]"
    return text
