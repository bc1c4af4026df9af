"""The population view of ``hpotrack lineage`` (PBT): one block per member with its
segments in order and the jumps where it copied another member, or the chain of segments
one trial continues. Members come from the trials' claims (``lineage.members``)."""

from __future__ import annotations

import shlex
import textwrap
from typing import Any

import click

from hpotrack import lineage
from hpotrack.checkpoints import source_edge
from hpotrack.cli.common import WIDTH, echo_json, edge_dict, num, short
from hpotrack.lineage import Segment, best_final, finals, members, segment_of
from hpotrack.records import Origin, TrialRecord, TrialState

MIN_ROOM = 24  # the narrowest column a wrapped description is given


def show(name: str, trials: list[TrialRecord], direction: str, fmt: str) -> None:
    """Every member's block, trials outside the population, and the best final member."""
    blocks = _blocks(trials)
    best = best_final(trials, direction)
    outside = [t.number for t in trials if segment_of(t) is None]
    if fmt == "json":
        best_number = None if best is None else best.number
        echo_json({"study": name, "best_final": best_number, "members": blocks, "outside": outside})
        return
    several = len({block["family"] for block in blocks}) > 1
    lines = _member_lines(blocks, best, several)
    if outside:
        listed = ", ".join(f"#{n}" for n in outside)
        lines += ["", *_wrap(f"trials outside the population: {listed}", 0)]
    if best is not None:
        key = _member_key(segment_of(best))
        label = "outside the population" if key["member"] is None else _label(key, several)
        command = f"hpotrack trial {shlex.quote(name)} {best.number} --schedule"
        lines += [
            "",
            *_with_command(f"best final: #{best.number} ({label}); its schedule:", command),
        ]
    click.echo("\n".join(lines))


def show_chain(name: str, trials: list[TrialRecord], number: int, fmt: str) -> None:
    """The segments trial ``number`` continues, oldest first, and who continued it."""
    chain = [segment_dict(trials, t) for t in lineage.chain(trials, number)]
    children = [
        {"child": t.number, **_member_key(segment_of(t)), **edge_dict(e)}
        for t in trials
        for e in t.parents
        if e.parent == number
    ]
    if fmt == "json":
        echo_json({"study": name, "trial": number, "chain": chain, "children": children})
        return
    widths = _widths(chain, member=True)
    lines = [f"chain of #{number}, oldest first:"]
    lines += [line for segment in chain for line in _row(segment, widths, member=True)]
    kids = ", ".join(_child_text(child) for child in children) or "none"
    click.echo("\n".join([*lines, "", *_wrap(f"children: {kids}", 0)]))


def segment_dict(trials: list[TrialRecord], trial: TrialRecord) -> dict[str, Any]:
    """One segment as JSON: its member, steps, outcome, params and the checkpoint it
    started from (``source``, with that trial's member)."""
    segment = segment_of(trial)
    edge = source_edge(trial)
    source = None
    if edge is not None:
        parent = segment_of(trials[edge.parent]) if 0 <= edge.parent < len(trials) else None
        source = {**edge_dict(edge), "member": _member_key(parent)["member"]}
    return {
        "trial": trial.number,
        **_member_key(segment),
        "segment": None if segment is None else segment.index,
        "attempt": None if segment is None else segment.attempt,
        "state": trial.state.value,
        "first_step": 1 if edge is None or edge.step is None else edge.step + 1,
        "last_step": None if trial.budget is None else int(trial.budget),
        "value": trial.value,
        "params": dict(trial.params),
        "source": source,
    }


def _member_key(segment: Segment | None) -> dict[str, Any]:
    """``{"family", "member"}`` of a segment; both None outside a population."""
    if segment is None:
        return {"family": None, "member": None}
    return {"family": segment.family, "member": segment.member}


def _blocks(trials: list[TrialRecord]) -> list[dict[str, Any]]:
    """Each member as JSON: family, member, its final trial and its segments."""
    final = {(s.family, s.member): t.number for t in finals(trials) if (s := segment_of(t))}
    return [
        {
            "family": family,
            "member": member,
            "final": final.get((family, member)),
            "segments": [segment_dict(trials, trial) for trial in group],
        }
        for (family, member), group in members(trials).items()
    ]


def _member_lines(
    blocks: list[dict[str, Any]], best: TrialRecord | None, several: bool
) -> list[str]:
    """A header and a row per segment for each member; columns line up across blocks."""
    widths = _widths([s for block in blocks for s in block["segments"]], member=False)
    lines: list[str] = []
    for block in blocks:
        lines += [*([""] if lines else []), _header(block, best, several)]
        lines += [line for s in block["segments"] for line in _row(s, widths, member=False)]
    return lines


def _header(block: dict[str, Any], best: TrialRecord | None, several: bool) -> str:
    label = _label(block, several)
    final = block["final"]
    if final is None:
        return f"{label}: no complete segment yet"
    segment = next(s for s in block["segments"] if s["trial"] == final)
    mark = " (best)" if best is not None and best.number == final else ""
    return f"{label}: final #{final} = {num(segment['value'])} at step {segment['last_step']}{mark}"


def _label(item: dict[str, Any], several: bool) -> str:
    """``member 2``; ``pbt member 2`` when a study has more than one family of claims."""
    return f"{item['family']} member {item['member']}" if several else f"member {item['member']}"


def _cells(segment: dict[str, Any], member: bool) -> list[str]:
    """The aligned part of a row: trial, (member,) steps, value or state."""
    done = segment["state"] == TrialState.COMPLETE.value
    cells = [f"#{segment['trial']}"]
    if member:
        cells.append("outside" if segment["member"] is None else f"member {segment['member']}")
    last = "?" if segment["last_step"] is None else segment["last_step"]
    cells.append(f"steps {segment['first_step']}..{last}")
    return [*cells, num(segment["value"]) if done else segment["state"]]


def _widths(segments: list[dict[str, Any]], member: bool) -> list[int]:
    """Column widths shared by every row, so blocks line up."""
    columns = zip(*(_cells(s, member) for s in segments), strict=True)
    return [max(map(len, column)) for column in columns]


def _row(segment: dict[str, Any], widths: list[int], member: bool) -> list[str]:
    """A segment's line(s): its cells, then how it started, wrapped within ``WIDTH``."""
    cells = _cells(segment, member)
    lead = "  " + "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
    return _wrap(f"{lead}  {_how(segment)}", len(lead) + 2)


def _how(segment: dict[str, Any]) -> str:
    """``start: lr=0.1``, ``continued``, or ``⇐ copied #7 (member 3) at step 4: lr=0.12``;
    with ``, attempt 2`` when a failed segment runs again."""
    source = segment["source"]
    again = f", attempt {segment['attempt'] + 1}" if segment["attempt"] else ""
    if source is None:
        head = "start"
    elif source["kind"] == Origin.CONTINUED.value and source["member"] == segment["member"]:
        return f"continued{again}"  # the same hyperparameters: nothing more to say
    else:
        member = "" if source["member"] is None else f" (member {source['member']})"
        head = f"⇐ copied #{source['parent']}{member} at step {source['step']}"
    params = " ".join(f"{name}={short(value)}" for name, value in segment["params"].items())
    return f"{head}{again}: {params}"


def _child_text(child: dict[str, Any]) -> str:
    """``#11 (member 3, exploited at step 8)``."""
    member = "outside" if child["member"] is None else f"member {child['member']}"
    step = "" if child["step"] is None else f" at step {child['step']}"
    return f"#{child['child']} ({member}, {child['kind']}{step})"


def _with_command(text: str, command: str) -> list[str]:
    """``text`` and then a command to copy, on the same line if it fits in ``WIDTH``,
    else on a line of its own: a command is never wrapped (one copied in two halves
    runs without its options)."""
    if len(f"{text} {command}") <= WIDTH:
        return [f"{text} {command}"]
    return [*_wrap(text, 0), f"  {command}"]


def _wrap(text: str, indent: int) -> list[str]:
    """``text`` within ``WIDTH`` columns, continued ``indent`` columns in (less when that
    would leave under ``MIN_ROOM``)."""
    indent = indent if WIDTH - indent >= MIN_ROOM else 4
    return textwrap.wrap(text, WIDTH, subsequent_indent=" " * indent, break_on_hyphens=False)
