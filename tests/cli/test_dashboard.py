"""``hpotrack dashboard`` as users run it: a real server process, pages fetched over
HTTP while another process runs the study, Ctrl-C, and the errors of its options."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import hpotrack as hp
from hpotrack.cli import cli

STUDY_SCRIPT = """
import sys, hpotrack as hp
@hp.tune({"x": hp.Float(0.0, 1.0)}, study="live", db=sys.argv[1], seed=0)
def live(x):
    return x
live.optimize(n_trials=int(sys.argv[2]))
"""


def fetch(address: str, host: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(address, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def run_study(db: Path, n_trials: int) -> None:
    subprocess.run([sys.executable, "-c", STUDY_SCRIPT, str(db), str(n_trials)], check=True)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.db"
    run_study(path, 3)
    return path


@pytest.fixture
def server(db: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``hpotrack dashboard --port 0`` in its own process, and the address it printed."""
    process = subprocess.Popen(
        [sys.executable, "-m", "hpotrack", "--db", str(db), "dashboard", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith(f"hpotrack dashboard of {db} at http://127.0.0.1:"), line
    address = line.split(" at ", 1)[1].split()[0]
    yield process, address
    if process.poll() is None:
        process.kill()
    process.wait()


def test_pages_follow_another_process_running_the_study(
    db: Path, server: tuple[subprocess.Popen[str], str]
) -> None:
    _, address = server
    status, index = fetch(address)
    assert status == 200 and "/study?name=live" in index
    version = json.loads(fetch(address + "api/version")[1])["version"]
    status, before = fetch(address + "study?name=live")
    assert status == 200 and "3: 3 complete" in before
    run_study(db, 5)  # another process adds two trials to the study
    assert json.loads(fetch(address + "api/version")[1])["version"] != version
    status, after = fetch(address + "study?name=live")
    assert "5: 5 complete" in after and "/trial?study=live&amp;number=4" in after
    assert fetch(address + "trial?study=live&number=4")[0] == 200
    trials = json.loads(fetch(address + "api/trials?study=live")[1])
    assert [t["number"] for t in trials] == [0, 1, 2, 3, 4]


def test_ctrl_c_stops_it(server: tuple[subprocess.Popen[str], str]) -> None:
    process, address = server
    assert fetch(address)[0] == 200
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert out.strip() == "stopped" and "Traceback" not in err


def test_only_loopback_host_names_are_answered(server: tuple[subprocess.Popen[str], str]) -> None:
    """A page of another site whose name resolves to 127.0.0.1 (DNS rebinding) reads
    nothing; the loopback names do."""
    _, address = server
    port = address.rstrip("/").rsplit(":", 1)[1]
    status, text = fetch(address + "api/studies", host=f"attacker.example:{port}")
    assert status == 403 and "localhost only" in text
    for name in ("localhost", "127.0.0.1"):
        assert fetch(address + "api/studies", host=f"{name}:{port}")[0] == 200


def test_responses_forbid_other_scripts(server: tuple[subprocess.Popen[str], str]) -> None:
    _, address = server
    with urllib.request.urlopen(address, timeout=30) as reply:
        policy = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    assert "unsafe-inline" not in policy.split("script-src", 1)[1]


def test_a_port_in_use_is_one_line(db: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["--db", str(db), "dashboard", "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} is in use (another dashboard?): pass --port N" in result.output
    assert "Traceback" not in result.output


def test_a_host_it_cannot_listen_on_is_one_line(db: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(db), "dashboard", "--host", "no.such.host.invalid"]
    )
    assert result.exit_code == 2
    assert "cannot listen on 'no.such.host.invalid'" in result.output
    assert "pass --host 127.0.0.1" in result.output


def test_no_database_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "none.db"), "dashboard"])
    assert result.exit_code == 2
    assert "no database at" in result.output and not (tmp_path / "none.db").exists()


def test_it_never_writes_the_file(db: Path, server: tuple[subprocess.Popen[str], str]) -> None:
    """Reading every page leaves the file as it was, byte for byte, WAL included."""
    _, address = server
    hp.load_study("live", db=db)  # settle anything a first open writes
    before = {p.name: p.read_bytes() for p in db.parent.glob("h.db*")}
    assert "h.db" in before
    for path in ("", "study?name=live", "study?name=live&sort=best", "trial?study=live&number=1",
                 "api/studies", "api/trials?study=live", "api/version"):  # fmt: skip
        assert fetch(address + path)[0] == 200
    after = {p.name: p.read_bytes() for p in db.parent.glob("h.db*")}
    for name in ("h.db", "h.db-wal"):  # -shm holds readers' marks, not data; an empty
        assert after.get(name, b"") == before.get(name, b"")  # WAL is no WAL


WAITING_SCRIPT = """
import os, sys, time, pathlib, hpotrack as hp
gate = pathlib.Path(sys.argv[2])
@hp.tune({"x": hp.Float(0.0, 1.0)}, study="live", db=sys.argv[1], seed=0)
def live(x):
    pathlib.Path(str(gate) + ".started").touch()
    while not gate.exists():
        time.sleep(0.01)
    return x
live.optimize(n_trials=4)
"""


def test_the_study_page_names_the_processes_running_it(
    db: Path, tmp_path: Path, server: tuple[subprocess.Popen[str], str]
) -> None:
    _, address = server
    assert "No process is running it now" in fetch(address + "study?name=live")[1]
    gate = tmp_path / "go"
    runner = subprocess.Popen([sys.executable, "-c", WAITING_SCRIPT, str(db), str(gate)])
    try:
        started = Path(str(gate) + ".started")
        while not started.exists():  # the run's first trial is running
            assert runner.poll() is None
            time.sleep(0.01)
        page = fetch(address + "study?name=live")[1]
        assert f"<td class=num>{runner.pid}</td>" in page and ">running<" in page
    finally:
        gate.touch()
        runner.wait(timeout=60)
    assert "No process is running it now" in fetch(address + "study?name=live")[1]
