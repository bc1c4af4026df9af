"""The dashboard's web server: which address answers what, read from one database file.

Pages are HTML built by :mod:`hpotrack.dashboard.index`, ``study_page`` and
``trial_page``; ``/api/studies`` and ``/api/trials`` give the JSON ``hpotrack show
--format json`` prints; ``/api/version`` gives a token that changes with every commit to
the file, which open pages poll to redraw themselves. The server only reads: it never
takes the write lock, so it cannot slow the processes running the studies."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from hpotrack.cli.show import trial_rows
from hpotrack.cli.study_list import study_rows
from hpotrack.dashboard import importance_page, index, layout, study_page, trial_page
from hpotrack.dashboard.layout import Html, esc
from hpotrack.errors import HpotrackError, PageError
from hpotrack.jsonable import jsonable
from hpotrack.store import Store, open_store
from hpotrack.study import Study

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_LOOPBACK = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}
"""Every-address hosts, and the address of theirs a browser on this machine opens."""
CSP = (  # the page's own inline style and script, and requests to this server, only
    "default-src 'none'; style-src 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; script-src 'sha256-"
    + base64.b64encode(hashlib.sha256(layout.SCRIPT.encode()).digest()).decode()
    + "'"
)


@dataclass(frozen=True)
class Request:
    """What a route needs: the database, the query, and the change token taken before
    anything was read (a commit during the read then makes the page look again)."""

    store: Store
    query: Mapping[str, str]
    version: str


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


class Dashboard:
    """Answers the dashboard's addresses from the database at ``db``. It keeps each
    study it showed open, so a page drawn again reads only the trials that changed since
    (the cost of a refresh does not grow with the study)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self._studies: dict[str, Study] = {}
        self._lock = threading.Lock()  # one answer at a time: one connection, its caches
        self._routes: dict[str, Callable[[Request], Response]] = {
            "/": self._index,
            "/study": self._study_page,
            "/trial": self._trial_page,
            "/importance": self._importance_page,
            "/api/version": self._version,
            "/api/studies": self._studies_json,
            "/api/trials": self._trials_json,
        }

    def answer(self, target: str) -> Response:
        """The response to a GET of ``target`` (a path with its query)."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        api = parts.path.startswith("/api/")
        if parts.path == "/favicon.ico":
            return Response(204, "image/x-icon", b"")
        route = self._routes.get(parts.path)
        with self._lock:
            try:
                if route is None:
                    raise PageError(f"no page at {parts.path}: the studies are at /")
                store = open_store(self.db, must_exist=True)
                return route(Request(store, query, _token(store)))
            except HpotrackError as exc:
                status = exc.status if isinstance(exc, PageError) else 500
                return _error(status, str(exc), api=api)
            except Exception:  # a bug: shown, the server goes on
                text = traceback.format_exc()
                print(text, file=sys.stderr, flush=True)
                return _error(500, f"the dashboard failed on {target}:\n{text}", api=api)

    def _opened(self, store: Store, name: str | None) -> Study:
        """The study ``name``, kept open across requests (a new one if it was deleted and
        created again, or the file was replaced)."""
        if not name:
            raise PageError("which study? add ?name=STUDY (the studies are at /)", 400)
        row = store.find_study(name)
        if row is None:
            names = ", ".join(repr(r.name) for r in store.list_studies()) or "none"
            raise PageError(f"no study named {name!r} in {self.db} (its studies: {names})")
        kept = self._studies.get(name)
        if kept is None or kept.id != row.id or kept.store is not store:
            kept = self._studies[name] = Study(store, row)
        return kept

    def _html(
        self,
        request: Request,
        title: str,
        body: Html,
        crumbs: list[tuple[str, str | None]],
        *,
        live: bool = True,
    ) -> Response:
        text = layout.page(
            title, body, crumbs=crumbs, db=str(self.db), version=request.version, live=live
        )
        return Response(200, "text/html; charset=utf-8", text.encode())

    def _index(self, request: Request) -> Response:
        body = index.studies(request.store)
        return self._html(request, "studies", body, [("studies", None)])

    def _study_page(self, request: Request) -> Response:
        opened = self._opened(request.store, request.query.get("name"))
        body = study_page.study(opened, request.query)
        return self._html(request, opened.name, body, [("studies", "/"), (opened.name, None)])

    def _trial_page(self, request: Request) -> Response:
        opened = self._opened(request.store, request.query.get("study"))
        body = trial_page.trial(opened, request.query)
        number = request.query.get("number")
        crumbs = [
            ("studies", "/"),
            (opened.name, layout.url("/study", name=opened.name)),
            (f"trial {number}", None),
        ]
        return self._html(request, f"trial {number} of {opened.name}", body, crumbs)

    def _importance_page(self, request: Request) -> Response:
        opened = self._opened(request.store, request.query.get("name"))
        body = importance_page.importance(opened)
        crumbs = [
            ("studies", "/"),
            (opened.name, layout.url("/study", name=opened.name)),
            ("parameter importance", None),
        ]
        return self._html(request, f"importance of {opened.name}", body, crumbs, live=False)

    def _version(self, request: Request) -> Response:
        return _json(200, {"version": request.version})

    def _studies_json(self, request: Request) -> Response:
        return _json(200, study_rows(request.store, compact=False))

    def _trials_json(self, request: Request) -> Response:
        opened = self._opened(request.store, request.query.get("study"))
        return _json(200, trial_rows(opened, opened.trials, "json"))


def _token(store: Store) -> str:
    """A short text that changes whenever a commit may have changed the file."""
    return hashlib.sha1(repr(store.version()).encode()).hexdigest()[:16]


def _json(status: int, data: object) -> Response:
    body = json.dumps(jsonable(data), allow_nan=False).encode()
    return Response(status, "application/json", body)


def _error(status: int, message: str, *, api: bool) -> Response:
    if api:
        return _json(status, {"error": message})
    body = Html(f"<h1>{status}</h1><pre>{esc(message)}</pre><p><a href='/'>the studies</a></p>")
    text = layout.page(str(status), body, crumbs=[("studies", "/")], db="", version="")
    return Response(status, "text/html; charset=utf-8", text.encode())


class _Handler(BaseHTTPRequestHandler):
    """Hands each GET to the server's :class:`Dashboard`; quiet but for errors."""

    server: DashboardServer

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def _respond(self, *, with_body: bool) -> None:
        if not self.server.host_allowed(self.headers.get("Host", "")):
            response = _error(403, "this dashboard answers to localhost only", api=False)
        else:
            response = self.server.dashboard.answer(_as_sent(self.path))
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if with_body:
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged (a page polls every 2 s); errors are, by answer()."""


def _as_sent(target: str) -> str:
    """The request target as the client wrote it: http.server reads the request line as
    Latin-1, but a URL typed with characters beyond ASCII comes as UTF-8 (curl sends it
    so, not percent-encoded); read as Latin-1, a study named "ünï" was not found."""
    try:
        return target.encode("latin-1").decode("utf-8")
    except UnicodeError:  # not UTF-8 either: as it came, to be answered "no such page"
        return target


class DashboardServer(ThreadingHTTPServer):
    """An HTTP server of one :class:`Dashboard`. Bound to a loopback address, it
    answers only requests addressed to a loopback name (a page of another site that
    points its own host name at 127.0.0.1 cannot read the studies)."""

    daemon_threads = True

    def __init__(self, db: Path, host: str, port: int) -> None:
        self.dashboard = Dashboard(db)
        self.loopback = host in LOOPBACK_NAMES or host.startswith("127.")
        if ":" in host:  # an IPv6 address
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    @property
    def address(self) -> str:
        """The page's address, to print and open: listening on every address (0.0.0.0),
        the loopback one, as http://0.0.0.0:PORT/ opens nothing in most browsers."""
        host, port = str(self.server_address[0]), self.server_address[1]
        host = WILDCARD_LOOPBACK.get(host, host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def handle_error(self, request: object, client_address: object) -> None:
        """Print a request's error, unless the client left before its answer (a tab
        closed while its page loaded, a poll cut short): that is no error of the server."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def host_allowed(self, header: str) -> bool:
        if not self.loopback:
            return True
        name = header.rsplit(":", 1)[0] if not header.endswith("]") else header
        return name.strip("[]") in LOOPBACK_NAMES or name.startswith("127.")
