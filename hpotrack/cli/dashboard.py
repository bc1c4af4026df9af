"""``hpotrack dashboard``: serve a live, read-only web view of the database's studies."""

from __future__ import annotations

import errno
import socket
import threading
import webbrowser

import click

from hpotrack.cli.common import CliError, cli, existing_db, store_of, user_errors

DEFAULT_PORT = 8765


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. The default answers this machine only; 0.0.0.0 lets "
    "anyone who reaches it read the studies.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on (0: any free one, printed).",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the web browser.")
@click.pass_context
@user_errors
def dashboard(ctx: click.Context, host: str, port: int, open_page: bool) -> None:
    """Serve a live web view of the database's studies, until Ctrl-C.

    \b
      hpotrack dashboard                 http://127.0.0.1:8765/
      hpotrack --db runs.db dashboard --port 0 --open

    The studies (as hpotrack show lists them), each study's page (its method, goal,
    budget and best, a chart of its history, or of its Pareto front, and of the curves
    its running and best trials reported, the processes running it now, and its
    trials, newest or best first, by state, a hundred at a time; its parameter
    importance on a page of its own, computed when asked) and each trial's page
    (parameters, metrics, curves, checks, lineage as links, checkpoints, provenance,
    error). Open pages redraw themselves when a process stores something in the file.
    It only reads: the processes running the studies never wait for it. /api/studies and
    /api/trials?study=NAME give the JSON of hpotrack show --format json.
    """
    db = existing_db(ctx)
    store_of(ctx)  # an unreadable file or a newer schema: its one-line error, now
    from hpotrack.dashboard.server import DashboardServer  # it reads the other commands'

    try:
        server = DashboardServer(db, host, port)
    except OSError as exc:
        raise CliError(_listen_error(exc, host, port)) from None
    with server:
        click.echo(f"hpotrack dashboard of {db} at {server.address} (Ctrl-C stops it)")
        if not server.loopback:
            click.echo(
                f"listening on {host}: anyone who reaches this machine on port "
                f"{server.server_address[1]} can read these studies (not change them)"
            )
        if open_page:  # from a thread: a console browser (lynx, w3m) runs until it quits,
            # and asks for the page meanwhile, which the server must be serving by then
            threading.Thread(target=webbrowser.open, args=(server.address,), daemon=True).start()
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            click.echo("stopped")


def _listen_error(exc: OSError, host: str, port: int) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} is in use (another dashboard?): pass --port N, or --port 0 "
            "for any free one"
        )
    if exc.errno == errno.EACCES:
        return f"no permission to listen on port {port}: pass --port 1024 or higher"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host!r} ({exc.strerror}): pass --host 127.0.0.1"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"
