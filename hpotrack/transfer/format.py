"""What an export holds: its format name and version, the fields of each of its objects
with their kinds, and the one error of exporting and importing."""

from __future__ import annotations

from collections.abc import Callable

from hpotrack.errors import HpotrackError
from hpotrack.records import RUNNING_ERROR as RUNNING_ERROR

FORMAT = "hpotrack-study"
# 9: the study's "constraints" ([{"metric": ..., "at_most": ..., "at_least": ...}, ...]);
# 8: the study's "objectives" (several: [{"metric": ..., "direction": ...}, ...]);
# 7: a parameter's "when" in the space, and trials without the parameters it leaves
# inactive; 6: each trial's method and chosen_by; 5: runs; 4: trained; 3: best_schedule and notes;
# 2: budget, rungs, brackets, checks
VERSION = 9
READABLE = (1, 2, 3, 4, 5, 6, 7, 8, 9)
FORMATS = ("json", "jsonl", "csv")

# The fields of each object of an export, with their kind (int, number, str, path, object,
# list: checked on import by validate._fields); "?": may be null or left out.
STUDY = {
    "name": "str", "space": "object", "method": "object", "direction": "str",
    "objective": "str", "seed": "int", "target": "int?", "function": "object?",
    "retries": "int?", "budget": "object?", "objectives": "list?",
    "constraints": "list?",
}  # fmt: skip
TRIAL = {
    "number": "int", "state": "str", "params": "object", "value": "number?",
    "metrics": "object?", "budget": "number?", "origin": "str?", "claim": "str?",
    "started": "time?", "finished": "time?", "error": "str?", "host": "str?",
    "pid": "int?", "parents": "list?", "curve": "object?", "rung": "int?", "bracket": "int?",
    "checks": "object?", "note": "str?", "method": "str?", "chosen_by": "str?",
    "trained": "int?", "run": "int?",
}  # fmt: skip
# argv as stored: a JSON list of sys.argv, or for a run of `hpotrack resume` a JSON object of
# its command line and the script's sys.argv (runs stored before: words joined by spaces)
RUN = {
    "run": "int", "host": "str?", "pid": "int?", "python": "str?", "platform": "str?",
    "git_commit": "str?", "source_hash": "str?", "argv": "str?", "started": "time?",
}  # fmt: skip
# what resume imports; a path in a folder whose name is not UTF-8 holds lone surrogates
# ("caf\udce9"), which JSON escapes and resume finds the file by again
FUNCTION = {"module": "str?", "qualname": "str?", "path": "path?"}
EDGE = {"parent": "int", "kind": "str", "step": "int?", "detail": "str?"}
BUDGET = {"type": "str", "min": "number", "max": "number", "name": "str"}
TOP = {
    "format": "str", "version": "int", "study": "object", "best_schedule": "object?",
    "runs": "list?", "trials": "list",
}  # fmt: skip


class TransferError(HpotrackError):
    """An export cannot be written, or a file cannot be imported (the message says why)."""


Progress = Callable[[int], None]  # told how many more trials are done (a progress bar)


def advance(progress: Progress | None, count: int = 1) -> None:
    if progress is not None:
        progress(count)
