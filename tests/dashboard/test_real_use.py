"""What using ``hpotrack dashboard`` on real studies found wrong, each kept fixed: digits
that are not ASCII in a query, clients that leave or send raw UTF-8, a console browser
opened by ``--open``, the address printed for ``--host 0.0.0.0``, and pages whose work
and size grew with every point of long curves and big studies."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import hpotrack as hp
from hpotrack.dashboard import charts
from hpotrack.dashboard.server import Dashboard, DashboardServer
from hpotrack.study import Study

STEPS = 1500  # reports of each trial of the "long" study


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("real") / "h.db"

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="long", db=path, method="random", seed=0)
    def long(x: float, trial: hp.Trial) -> float:
        for step in range(STEPS):
            trial.report(x + 1.0 / (step + 1), step)
        return x

    long.optimize(n_trials=4)

    @hp.tune({"x": hp.Float(0.0, 1.0)}, study="ünï 学", db=path, method="random", seed=1)
    def named(x: float) -> float:
        return x

    named.optimize(n_trials=3)
    return path


def _status(dashboard: Dashboard, target: str) -> tuple[int, str]:
    response = dashboard.answer(target)
    return response.status, response.body.decode()


@pytest.mark.parametrize("digits", ["%C2%B2", "%D9%A3", "%EF%BC%93"])  # ², Arabic 3, full 3
def test_a_page_or_number_in_other_digits_is_a_clear_400(db: Path, digits: str) -> None:
    """``str.isdigit`` holds for "²", which ``int`` refuses (a 500 and a traceback), and
    for other scripts' digits, which ``int`` reads (page "٣" was page 3)."""
    dashboard = Dashboard(db)
    status, text = _status(dashboard, f"/study?name=long&page={digits}")
    assert status == 400 and "page must be a whole number from 1" in text
    status, text = _status(dashboard, f"/trial?study=long&number={digits}")
    assert status == 400 and "number must be a trial&#x27;s number" in text


@pytest.fixture
def served(db: Path) -> Iterator[str]:
    """A :class:`DashboardServer` answering in a thread of this process; its address."""
    server = DashboardServer(db, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.address
    server.shutdown()
    server.server_close()


def _raw_get(address: str, target: bytes) -> bytes:
    """The answer to a request line sent as these bytes (as curl sends a URL typed with
    characters beyond ASCII: as UTF-8, not percent-encoded)."""
    port = int(address.rstrip("/").rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(b"GET " + target + b" HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_a_study_name_sent_as_raw_utf8_finds_its_study(served: str) -> None:
    answer = _raw_get(served, "/study?name=ünï 学".replace(" ", "+").encode())
    assert answer.startswith(b"HTTP/1.0 200"), answer[:300]
    assert "<h1>ünï 学</h1>" in answer.decode()


def test_wildcard_hosts_print_an_address_a_browser_opens(db: Path) -> None:
    """``--host 0.0.0.0`` listens on every address; http://0.0.0.0:PORT/ is no page
    to open in most browsers, so the loopback one is printed (and opened)."""
    with DashboardServer(db, "0.0.0.0", 0) as server:
        port = server.server_address[1]
        assert server.address == f"http://127.0.0.1:{port}/"
        assert not server.loopback
    if socket.has_ipv6:
        try:
            six = DashboardServer(db, "::", 0)
        except OSError:  # no IPv6 on this machine
            return
        with six:
            assert six.address == f"http://[::1]:{six.server_address[1]}/"


def _start(db: Path, *options: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "hpotrack", "--db", str(db), "dashboard", "--port", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _address(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    assert " at http://" in line, line
    return line.split(" at ", 1)[1].split()[0]


def test_clients_that_leave_before_the_answer_leave_no_traceback(db: Path) -> None:
    """A tab closed while its page loads, a poll cut short: the server goes on and its
    standard error stays clean (it printed BrokenPipeError and ConnectionResetError)."""
    process = _start(db)
    try:
        address = _address(process)
        port = int(address.rstrip("/").rsplit(":", 1)[1])
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", port)) as half:  # no blank line,
                half.sendall(b"GET /study?name=long HTTP/1.0\r\nHost: 127.0.0.1\r\n")
            reset = socket.create_connection(("127.0.0.1", port))  # then a reset
            reset.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            reset.sendall(b"GET /study?name=long HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            reset.close()
        with urllib.request.urlopen(address + "study?name=long", timeout=30) as reply:
            assert reply.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert out.strip() == "stopped"
    assert "Traceback" not in err and "Exception" not in err, err


def test_open_serves_the_page_while_a_console_browser_shows_it(db: Path, tmp_path: Path) -> None:
    """A console browser (lynx, w3m, or $BROWSER) runs in the foreground until it quits:
    the page it asks for must be served meanwhile, not after (it hung)."""
    fetched = tmp_path / "fetched"
    browser = tmp_path / "browser"
    browser.write_text(
        f"#!{sys.executable}\n"
        "import sys, urllib.request\n"
        "try:\n"
        "    status = urllib.request.urlopen(sys.argv[1], timeout=5).status\n"
        "except OSError as exc:\n"
        "    status = repr(exc)\n"
        f"open({str(fetched)!r}, 'w').write(str(status))\n"
    )
    browser.chmod(browser.stat().st_mode | stat.S_IXUSR)
    process = _start(db, "--open", env={**os.environ, "BROWSER": str(browser)})
    try:
        _address(process)
        while process.poll() is None and not fetched.exists():  # the browser's answer
            threading.Event().wait(0.05)
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
    assert fetched.read_text() == "200", err
    assert "Traceback" not in err


def _tooltips(svg: str) -> int:
    return len(re.findall(r"<circle[^>]*class=\"hp-hit\"", svg))


def test_long_curves_give_a_page_of_bounded_size(db: Path) -> None:
    """Every reported point of every curve was made a link with a tooltip (each URL
    encoded, each then mostly dropped by the chart): 5,000 of them on the study page of 50
    trials of 10,000 steps, 1.4 MB redrawn at each commit. A curve keeps a few, spread
    along it, its last step among them."""
    dashboard = Dashboard(db)
    status, text = _status(dashboard, "/study?name=long")
    assert status == 200
    curves_chart = re.findall(r"<svg.*?</svg>", text, flags=re.S)[1]
    assert 4 <= _tooltips(curves_chart) <= 4 * charts.TIPS_PER_STUDY_CURVE
    assert f"step {STEPS - 1}:" in curves_chart
    status, text = _status(dashboard, "/trial?study=long&number=0")
    assert status == 200
    (trial_chart,) = re.findall(r"<svg.*?</svg>", text, flags=re.S)
    assert _tooltips(trial_chart) <= charts.TIPS_PER_TRIAL_CURVE
    assert f"step {STEPS - 1}:" in trial_chart


def test_the_history_builds_only_the_links_it_draws(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A point's link and tooltip are built only for the points the chart keeps them for
    (a study of 100,000 trials built 100,000 URLs to draw 2,000)."""
    monkeypatch.setattr(charts, "TOOLTIPS_PER_SERIES", 2)
    built: list[int] = []
    original = charts.trial_url

    def counted(study: Study, number: int) -> str:
        built.append(number)
        return original(study, number)

    monkeypatch.setattr(charts, "trial_url", counted)
    study = hp.load_study("long", db=db)
    drawn = charts.history(study, study.trials)
    assert len(built) == 2 and built[-1] == 3  # the last trial among them
    assert drawn.count("<a href=") == 2
