"""The Python blocks of README.md and the user guide run, and what they show under a
statement (``# ...`` lines) is what it prints, or the error it raises, now.

A session is one or more pages whose blocks run in order in one namespace, as a script
(``__name__ == "__main__"``), in a temporary folder (so ``./hpotrack.db`` is there).
Elided parts (``...``) are filled by :data:`FILLS`, each checked to be on the page.
docs/porting.md has its own test (tests/test_porting.py); docs/processes.md's blocks are
a fragment and a script for ``n_jobs`` processes (tests/test_processes.py runs those).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
import sqlite3
import textwrap
from pathlib import Path

import pytest

from hpotrack.schema import MIGRATIONS, SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
SESSIONS = {
    "readme": ["README.md"],
    "index": ["docs/index.md"],
    "spaces": ["docs/spaces.md"],
    "methods-lineage": ["docs/methods.md", "docs/lineage.md"],  # lineage reads pbt-demo
    "resuming": ["docs/resuming.md"],
    "objectives": ["docs/objectives.md"],
    "constraints": ["docs/constraints.md"],
    "sklearn": ["docs/sklearn.md"],
    "integrations": ["docs/integrations.md"],
}
FILLS = {  # what a page elides -> what runs instead
    "README.md": [
        ("loss = ...", "loss = lr * layers + dropout + 1 / (epoch + 1)"),
        ('"train_time": ...', '"train_time": 0.0'),
    ],
}
SHOWN = re.compile(r"^# (?!.*\.py$)")  # an output line; "# search.py" names a file


def blocks(page: str) -> list[str]:
    """The page's fenced ``python`` blocks, with its elided parts filled."""
    text = (ROOT / page).read_text(encoding="utf-8")
    for elided, filled in FILLS.get(page, []):
        assert elided in text, f"{page} no longer has {elided!r}: update FILLS"
        text = text.replace(elided, filled)
    # a block in a list item is indented as the item is
    return [textwrap.dedent(block) for block in re.findall(r"```python\n(.*?)```", text, re.S)]


def run(source: str, where: str, namespace: dict[str, object]) -> list[tuple[str, str, str]]:
    """Run ``source`` statement by statement in ``namespace``; for each one followed by
    output lines: (its first line, the output shown, what it printed or raised)."""
    lines = source.splitlines()
    compared = []
    for node in ast.parse(source).body:
        end = node.end_lineno or node.lineno
        shown = []
        while end < len(lines) and SHOWN.match(lines[end]):
            shown.append(lines[end][2:])
            end += 1
        printed = io.StringIO()
        code = compile(ast.Module(body=[node], type_ignores=[]), where, "exec")
        try:
            with contextlib.redirect_stdout(printed):
                exec(code, namespace)
            said = printed.getvalue().rstrip("\n")
        except Exception as exc:
            if not shown:
                raise
            said = f"{type(exc).__name__}: {exc}"
        if shown:
            compared.append((lines[node.lineno - 1], "\n".join(shown), said))
    return compared


@pytest.mark.parametrize("session", sorted(SESSIONS))
def test_the_pages_blocks_run_and_show_what_they_print(
    session: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPOTRACK_DB", raising=False)
    namespace: dict[str, object] = {"__name__": "__main__"}
    wrong = []
    for page in SESSIONS[session]:
        for number, source in enumerate(blocks(page)):
            for statement, shown, said in run(source, f"{page} block {number}", namespace):
                if said != shown:
                    wrong.append(f"{page}: {statement}\n  shown: {shown}\n  now:   {said}")
    assert not wrong, "\n".join(wrong)


def test_the_storage_page_describes_the_current_schema() -> None:
    """docs/storage.md names the schema version a new file gets, every column of every
    table the migrations make, and a row per version: schema 10's two columns of
    ``studies`` (``stop_requests``, ``last_stops``) were missing and it said version 9."""
    text = (ROOT / "docs/storage.md").read_text(encoding="utf-8")
    fresh = sqlite3.connect(":memory:")
    try:
        for step in MIGRATIONS:
            step(fresh)
        tables = [
            row[0]
            for row in fresh.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        columns = {
            t: {row[1] for row in fresh.execute(f'PRAGMA table_info("{t}")')} for t in tables
        }
    finally:
        fresh.close()
    sections = dict(re.findall(r"^### (\w+)\n(.*?)(?=^##)", text, re.S | re.M))
    documented = {t: set(re.findall(r"^\| `(\w+)` \|", sections.get(t, ""), re.M)) for t in tables}
    assert documented == columns
    assert re.findall(r"the schema \(version (\d+)\)", text) == [str(SCHEMA_VERSION)]
    assert re.findall(r"`schema_version`, currently `(\d+)`", text) == [str(SCHEMA_VERSION)]
    versions = re.findall(r"^\| (\d+) \|", text, re.M)
    assert versions == [str(v) for v in range(1, SCHEMA_VERSION + 1)]
