"""The dashboard's HTML: the page around each view, its style, the script that keeps it
live, and escaped building blocks (links, tables, key-value lists).

Every piece of text that came from the database (study names, parameters, errors) goes
through :func:`esc` or a helper that calls it; text these helpers built is :class:`Html`
and is not escaped again."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import urlencode

POLL_MS = 2000  # how often an open page asks whether the database changed


class Html(str):
    """Markup built here, safe to insert as it is (everything else is escaped)."""


def esc(value: object) -> Html:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return value if isinstance(value, Html) else Html(html.escape(str(value), quote=True))


def url(path: str, **query: object) -> str:
    """``path`` with the given query parameters (None ones left out), URL-encoded: study
    names may hold any character, so they travel as parameters, never as path parts."""
    given = {key: value for key, value in query.items() if value is not None}
    return f"{path}?{urlencode(given)}" if given else path


def link(text: object, href: str) -> Html:
    return Html(f'<a href="{esc(href)}">{esc(text)}</a>')


def number(value: float) -> str:
    """A float short enough for a cell (``0.0331``, ``1.2e-05``), an int as it is."""
    if isinstance(value, bool) or not isinstance(value, float):
        return str(value)
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def cell(value: object) -> Html:
    """A table cell's content: blank for None, yes/no for booleans, short floats."""
    if value is None:
        return Html("")
    if isinstance(value, bool):
        return Html("yes" if value else "no")
    if isinstance(value, float):
        return esc(number(value))
    return esc(value)


def table(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, object]],
    *,
    numeric: Iterable[str] = (),
    headers: Mapping[str, Html] | None = None,
) -> Html:
    """A table of ``rows`` (missing keys are blank cells); ``numeric`` columns align
    right; ``headers`` replaces a column's header (a sorting link, say)."""
    right = set(numeric)
    given = headers or {}
    head = "".join(
        f"<th{' class=num' if c in right else ''}>{given.get(c) or esc(c)}</th>" for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=num' if c in right else ''}>{cell(row.get(c))}</td>" for c in columns
        )
        + "</tr>"
        for row in rows
    )
    return Html(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def pairs(items: Iterable[tuple[str, object]]) -> Html:
    """A key-value list, leaving out the keys whose value is None."""
    shown = "".join(
        f"<dt>{esc(key)}</dt><dd>{cell(value)}</dd>" for key, value in items if value is not None
    )
    return Html(f"<dl>{shown}</dl>") if shown else Html("")


def section(title: str, body: Html, *, note: str | None = None) -> Html:
    """A titled part of a page; nothing at all when ``body`` is empty."""
    if not body:
        return Html("")
    extra = f'<p class="note">{esc(note)}</p>' if note else ""
    return Html(f"<section><h2>{esc(title)}</h2>{extra}{body}</section>")


def page(
    title: str,
    body: Html,
    *,
    crumbs: Sequence[tuple[str, str | None]],
    db: str,
    version: str,
    live: bool = True,
) -> str:
    """A whole page: ``crumbs`` (text, href or None for the current page) on top,
    ``body`` in ``<main>``, which the live script replaces when the database changes
    (``live=False``: a page computed when asked, without the script)."""
    trail = " / ".join(link(text, href) if href else esc(text) for text, href in crumbs)
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)} · hpotrack</title><style>{STYLE}</style></head>"
        f'<body data-version="{esc(version)}">'
        f'<header><nav>{trail}</nav><span id="hp-live">{"live" if live else ""}</span></header>'
        f"<main>{body}</main>"
        f"<footer>read-only view of {esc(db)}</footer>"
        + (f"<script>{SCRIPT}</script>" if live else "")
        + "</body></html>"
    )


STYLE = """
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #fff; --head: #f6f8fa;
  --accent: #0969da; --bad: #cf222e; --warn: #9a6700; --good: #1a7f37; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6edf3; --muted: #8d96a0; --line: #30363d; --bg: #0d1117; --head: #161b22;
    --accent: #4493f8; --bad: #f85149; --warn: #d29922; --good: #3fb950; } }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; justify-content: space-between; padding: .6rem 1.2rem;
  border-bottom: 1px solid var(--line); background: var(--head); }
header nav { font-weight: 600; }
#hp-live { color: var(--muted); font-size: 12px; }
#hp-live.offline { color: var(--bad); }
main { padding: .4rem 1.2rem 2rem; max-width: 1400px; }
footer { padding: 1rem 1.2rem; color: var(--muted); font-size: 12px; }
a { color: var(--accent); text-decoration: none; } a:hover { text-decoration: underline; }
h1 { font-size: 20px; margin: .8rem 0 .2rem; } h2 { font-size: 16px; margin: 1.4rem 0 .4rem; }
.note { color: var(--muted); margin: .2rem 0 .6rem; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: .25rem .6rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; max-width: 28rem; overflow-wrap: anywhere; }
th { background: var(--head); position: sticky; top: 0; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
dl { display: grid; grid-template-columns: max-content auto; gap: .15rem 1rem; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--head); padding: .8rem; overflow-x: auto; font-size: 12px; }
.chips a, .chips span { margin-right: .8rem; }
.chips .on { font-weight: 600; color: var(--fg); }
.state-failed { color: var(--bad); } .state-pruned { color: var(--warn); }
.state-running { color: var(--accent); } .state-complete { color: var(--good); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
  gap: 1rem; }
.bar { width: 16rem; background: var(--head); border: 1px solid var(--line); height: .8rem; }
.bar span { display: block; height: 100%; background: var(--accent); }
figure { margin: 0; } figcaption { color: var(--muted); font-size: 12px; }
"""

# Polls /api/version; when the database changed, fetches this page again and swaps its
# <main> in (the scroll position stays); pauses while the tab is hidden.
SCRIPT = f"""
(() => {{
  const live = document.getElementById("hp-live");
  let version = document.body.dataset.version;
  async function poll() {{
    if (!document.hidden) {{
      try {{
        const answer = await fetch("/api/version", {{cache: "no-store"}});
        const latest = (await answer.json()).version;
        if (latest !== version) {{
          const reply = await fetch(location.href, {{cache: "no-store"}});
          const fresh = new DOMParser().parseFromString(await reply.text(), "text/html");
          document.querySelector("main").replaceWith(fresh.querySelector("main"));
          version = fresh.body.dataset.version;
        }}
        live.textContent = "live · " + new Date().toLocaleTimeString();
        live.className = "";
      }} catch (error) {{
        live.textContent = "not updating: is hpotrack dashboard still running?";
        live.className = "offline";
      }}
    }}
    setTimeout(poll, {POLL_MS});
  }}
  setTimeout(poll, {POLL_MS});
}})();
"""
