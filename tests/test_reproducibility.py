"""A seeded search repeats, method by method, in real processes (docs/resuming.md,
"Reproducing a search"): fresh runs under other ``PYTHONHASHSEED`` values, a run stopped
at a target and continued in another process, and an export imported into another
database and continued all give the trials of one uninterrupted run; after ``kill -9`` or
Ctrl-C, what still holds is what the page's table says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

import hpotrack as hp
from hpotrack.store import close_stores, open_store
from hpotrack.transfer import export_study, import_study
from tests.repro_workload import STUDIES

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = Path(__file__).with_name("repro_workload.py")

Trials = dict[str, list[dict[str, Any]]]


def run_stage(
    db: Path, stage: str, hash_seed: int, crash: str = "", studies: str = ""
) -> subprocess.CompletedProcess[str]:
    """``repro_workload.py DB STAGE`` in a new process with that ``PYTHONHASHSEED``, for
    the ``studies`` named (all when empty)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": str(hash_seed)}
    env["REPRO_CRASH"] = crash
    env["REPRO_STUDIES"] = studies
    return subprocess.run(
        [sys.executable, str(WORKLOAD), str(db), stage],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def trials_after(db: Path, stage: str, hash_seed: int, studies: str = "") -> Trials:
    """The trials of the ``studies`` named (all when empty) once a process took ``db``
    to ``stage``."""
    done = run_stage(db, stage, hash_seed, studies=studies)
    assert done.returncode == 0, done.stderr
    found: Trials = json.loads(done.stdout)
    return found


def assert_same(expected: Trials, got: Trials, how: str) -> None:
    """Every study has the same trials, naming the first that differs."""
    assert expected.keys() == got.keys()
    for name in expected:
        for mine, theirs in zip(expected[name], got[name], strict=False):
            assert mine == theirs, f"{name}, {how}: trial {mine['number']} differs"
        assert len(expected[name]) == len(got[name]), f"{name}, {how}: other trial counts"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Trials:
    """One run of every study to its full target, on a fresh database."""
    return trials_after(tmp_path_factory.mktemp("uninterrupted") / "h.db", "full", hash_seed=0)


@pytest.fixture(scope="module")
def halfway(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A database whose studies a process stopped at their half targets, and another
    into which each study was imported from its export then."""
    folder = tmp_path_factory.mktemp("halfway")
    stopped, imported = folder / "stopped.db", folder / "imported.db"
    trials_after(stopped, "half", hash_seed=2)
    for name in STUDIES:
        import_study(open_store(imported), export_study(hp.load_study(name, db=stopped)))
    close_stores()
    return stopped, imported


def test_every_method_repeats_its_search_in_a_fresh_process_whatever_the_hash_seed(
    uninterrupted: Trials, tmp_path: Path
) -> None:
    assert_same(uninterrupted, trials_after(tmp_path / "h.db", "full", hash_seed=1), "again")


def test_a_search_stopped_at_a_target_goes_on_as_one_run_would(
    uninterrupted: Trials, halfway: tuple[Path, Path]
) -> None:
    stopped, _ = halfway
    assert_same(uninterrupted, trials_after(stopped, "full", hash_seed=3), "continued")


def test_an_imported_study_goes_on_as_the_original_would(
    uninterrupted: Trials, halfway: tuple[Path, Path]
) -> None:
    _, imported = halfway
    assert_same(uninterrupted, trials_after(imported, "full", hash_seed=4), "imported")


CRASHES = {  # study: (trial number, signal), one of each row of the page's table
    "grid": (5, "KILL"),
    "gradient": (4, "INT"),
    "tpe": (6, "KILL"),
    "hyperband": (5, "KILL"),
    "bohb": (10, "INT"),
    "pbt": (5, "KILL"),
}


def test_after_kill_9_and_ctrl_c_each_method_keeps_what_the_docs_say(
    uninterrupted: Trials, tmp_path: Path
) -> None:
    db = tmp_path / "h.db"
    crash = " ".join(f"{name}:{number}:{signal}" for name, (number, signal) in CRASHES.items())
    for attempt in range(len(CRASHES)):  # each run stops at the next crash and resumes it
        stopped = run_stage(db, "full", hash_seed=attempt, crash=crash)
        assert stopped.returncode != 0, f"run {attempt} did not crash: {stopped.stderr}"
    resumed = trials_after(db, "full", hash_seed=9)
    for name, trials in resumed.items():
        if name not in CRASHES:
            assert trials == uninterrupted[name], name
            continue
        before, lost = uninterrupted[name], trials[CRASHES[name][0]]
        assert trials[: lost["number"]] == before[: lost["number"]], name
        assert lost["state"] == "failed", name
        (retry,) = [t for t in trials if retries(t, lost)]
        assert retry["params"] == lost["params"], name
        new = [t["params"] for t in trials if t["origin"] in NEW_CONFIGURATIONS]
        assert len(new) == len({json.dumps(p) for p in new}), f"{name} ran a config twice"
        if name in ("grid", "gradient"):  # the same trials, the retry for the lost one
            assert [kept(t) for t in trials if t["state"] != "failed"] == [
                kept(t) for t in before
            ], name
    assert shape(resumed["hyperband"]) == shape(uninterrupted["hyperband"])
    assert shape(resumed["bohb"]) == shape(uninterrupted["bohb"])
    horizon = STUDIES["pbt"][0].interval * STUDIES["pbt"][0].generations
    assert members_reached(resumed["pbt"]) == dict.fromkeys(range(4), horizon)
    assert segments(resumed["pbt"]) == segments(uninterrupted["pbt"])


@pytest.mark.parametrize("signal", ["KILL", "INT"])
def test_a_population_stopped_in_its_first_generation_trains_what_one_run_does(
    uninterrupted: Trials, tmp_path: Path, signal: str
) -> None:
    """PBT keys a segment's draws on its member and segment, not on the trial number
    that a crash's retry shifts: stopped in member 2's first segment (``kill -9`` or
    Ctrl-C) and resumed, every segment, member 3's first one included, samples and
    exploits with what an uninterrupted run's drew (the population alone: the other
    studies of that run have no part in it)."""
    db = tmp_path / "h.db"
    stopped = run_stage(db, "full", hash_seed=0, crash=f"pbt:2:{signal}", studies="pbt")
    assert stopped.returncode != 0, stopped.stderr
    resumed = trials_after(db, "full", hash_seed=5, studies="pbt")["pbt"]
    assert resumed[2]["state"] == "failed"
    assert segments(resumed) == segments(uninterrupted["pbt"])


NEW_CONFIGURATIONS = {"sampled", "grid", "crossover", "mutated", "gradient-step"}


def retries(trial: Mapping[str, Any], lost: Mapping[str, Any]) -> bool:
    """Whether ``trial`` runs ``lost`` again: a ``retried`` edge to it, or for PBT the
    same segment of the same member (its claim with ``#1``)."""
    if lost["claim"] and lost["claim"].startswith("pbt:"):
        return bool(trial["claim"] == f"{lost['claim']}#1")
    return any(edge[:2] == [lost["number"], "retried"] for edge in trial["parents"])


def kept(trial: Mapping[str, Any]) -> tuple[str, Any]:
    """What a crash must not change of a grid cell or a descent's iterate."""
    return json.dumps(trial["params"]), trial["value"]


def shape(trials: list[dict[str, Any]]) -> Counter[tuple[int, int]]:
    """How far each configuration of the first Hyperband iteration (``Budget(1, 9)``,
    eta 3: 9 + 5 + 3 configurations) trained, by bracket: (bracket, last step) counted,
    following promotions and retries back to the configuration they continue."""
    config: dict[int, int] = {}
    reached: dict[int, int] = {}
    for trial in trials:
        claim, number = trial["claim"] or "", trial["number"]
        if claim.startswith("config:"):
            config[number] = int(claim.split(":")[1])
        else:
            config[number] = config[trial["parents"][0][0]]
        if trial["state"] != "failed":
            last = 9 if trial["state"] == "complete" else max(s for s, _ in trial["checks"])
            reached[config[number]] = max(reached.get(config[number], 0), last)
    brackets = {config[t["number"]]: t["bracket"] for t in trials}
    return Counter((brackets[slot], step) for slot, step in reached.items() if slot < 17)


def segments(trials: list[dict[str, Any]]) -> dict[tuple[int, int], tuple[Any, ...]]:
    """What each complete PBT segment ran, by member and segment (claim
    ``pbt:<member>:<segment>[#k]``): its parameters, budget, value and origin."""
    found = {}
    for trial in trials:
        if trial["state"] == "complete":
            member, segment = trial["claim"].split("#")[0].split(":")[1:]
            found[int(member), int(segment)] = (
                trial["params"],
                trial["budget"],
                trial["value"],
                trial["origin"],
            )
    return found


def members_reached(trials: list[dict[str, Any]]) -> dict[int, float]:
    """The step each PBT member's complete segments reached."""
    reached: dict[int, float] = {}
    for trial in trials:
        if trial["state"] == "complete":
            member = int(trial["claim"].split(":")[1])
            reached[member] = max(reached.get(member, 0.0), trial["budget"])
    return reached
