"""SVG charts for ``hpotrack dashboard``: an ``<svg>`` element as a string, drawn with the
standard library only, for the dashboard's pages to embed in their HTML.

:func:`chart` draws :class:`Series` of :class:`Point` on linear or log axes with "nice"
ticks (1, 2 or 5 times a power of ten), light grid lines, axis labels and, for two series
or more, a legend. What it cannot draw it says in a small note inside the chart instead of
failing: points that are not finite (or beyond ±1e300, where a padded range overflows)
and a log axis over values ≤ 0 (drawn linear).

Size stays bounded for big studies. Coordinates are rounded to 0.1 px. The markers of a
series are one path of zero-length, round-capped segments (one dot each, duplicates
dropped). A line or staircase is one path whose points are thinned, per run of
consecutive points in one pixel column, to the first, lowest, highest and last of the run
(the M4 aggregation of Jugel et al. 2014, "M4: A Visualization-Oriented Time Series Data
Aggregation", PVLDB 7(10), which lights the same pixels for points in x order), without
the points that change nothing drawn at 0.1 px (repeats; on a line, points on the
straight way between their neighbours). A point with a link or a tooltip needs an
element of its own: at most :data:`TOOLTIPS_PER_SERIES` points of a series and
:data:`TOOLTIPS_PER_CHART` of a chart keep theirs, spread evenly along each series; the
others are drawn without them.

Styling: colours and widths are presentation attributes, the rest one ``<style>`` block
whose classes all start with ``hp-``, so the page's CSS can restyle either.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from html import escape

from hpotrack.errors import HpotrackError
from hpotrack.text import cut_middle, plural

KINDS = ("markers", "line", "steps")
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
"""Okabe & Ito's colour-blind-safe palette (Color Universal Design, 2008), the faint
yellow last."""
DRAWABLE = 1e300
"""Largest magnitude drawn: a range padded around larger values overflows the floats."""
TINY_SPAN = 1e-290
"""A smaller span is drawn as equal values: nice steps below it underflow."""
TOOLTIPS_PER_SERIES = 2000
TOOLTIPS_PER_CHART = 5000
MIN_WIDTH, MIN_HEIGHT = 240, 160
PAD = 0.04  # of the data's span, on each side of the drawn range
CHAR_WIDTH = 6.5  # px of an 11 px sans-serif character: labels are laid out unmeasured
LINE_HEIGHT = 16  # px of a legend row
NOTE_HEIGHT = 14  # px of a note's line
LEGEND_NAME_CHARS = 32
STYLE = (
    ".hp-chart text{fill:#333}.hp-grid{stroke:#e8e8e8;fill:none}"
    ".hp-frame{stroke:#999;fill:none}.hp-axis-label{font-size:12px}"
    ".hp-note{font-size:10px;fill:#777}.hp-empty{font-size:14px;fill:#888}"
    ".hp-hit{fill-opacity:0}.hp-hit:hover{fill-opacity:1}.hp-point:hover{stroke:#000}"
)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_C0_AND_SPACE = "".join(map(chr, range(0x21)))


class ChartError(HpotrackError, ValueError):
    """A chart was asked for with arguments it cannot draw: a mistake of the page calling
    :func:`chart`, not of the user."""


def _require(holds: bool, name: str, must: str, value: object) -> None:
    """A :class:`ChartError` unless ``holds``: "`name` must <must>, but got <value>"."""
    if not holds:
        raise ChartError(f"`{name}` must {must}, but got {value!r}")


@dataclass(frozen=True)
class Point:
    """One point; ``href`` makes it a link, ``label`` its tooltip ("trial 12: 0.0331")."""

    x: float
    y: float
    href: str | None = None
    label: str | None = None

    def __post_init__(self) -> None:
        for name in ("x", "y"):
            value = getattr(self, name)
            if type(value) is float:  # the common cases first: isinstance(Real) is slow
                continue
            if type(value) is not int:  # steps and trial numbers are
                real = isinstance(value, numbers.Real) and not isinstance(value, bool)
                _require(real, name, "be a real number", value)
            try:
                object.__setattr__(self, name, float(value))
            except OverflowError:  # an int beyond the floats: not drawn, like infinity
                object.__setattr__(self, name, math.copysign(math.inf, value))
        for name in ("href", "label"):
            value = getattr(self, name)
            _require(value is None or isinstance(value, str), name, "be a str or None", value)
        if self.href is not None:
            _check_href(self.href)


@dataclass(frozen=True)
class Series:
    """A named sequence of points drawn one way: ``markers``, ``line`` (straight segments)
    or ``steps`` (a staircase through best-so-far values: horizontal to the next point's
    x, then vertical to its y; the page computes the values, knowing the direction).
    ``emphasis`` draws it thicker and on top."""

    name: str
    points: Sequence[Point]
    kind: str = "markers"
    emphasis: bool = False

    def __post_init__(self) -> None:
        _require(isinstance(self.name, str), "name", "be a str", self.name)
        _require(self.kind in KINDS, "kind", f"be one of {', '.join(map(repr, KINDS))}", self.kind)
        points = tuple(self.points)
        for point in points:
            _require(isinstance(point, Point), "points", "hold Point objects only", point)
        object.__setattr__(self, "points", points)


def _check_href(href: str) -> None:
    """Refuse a link that is neither relative nor http(s) (``javascript:``, ``data:``),
    reading its scheme as a browser does: without the control characters and spaces
    around it, and without tabs and newlines (WHATWG URL Standard, basic URL parser)."""
    cleaned = re.sub("[\t\n\r]", "", href.strip(_C0_AND_SPACE))
    scheme = _SCHEME.match(cleaned)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise ChartError(f"`href` must be a relative or an http(s) URL, but got {href!r}")


def _text(value: str) -> str:
    """``value`` escaped for XML and HTML text and attributes; characters XML 1.0 cannot
    hold (most control characters), even escaped, become U+FFFD."""
    return escape(_NOT_XML.sub("\ufffd", value), quote=True)


def _el(tag: str, content: str = "", /, **attributes: object) -> str:
    """An element: ``content`` is markup (escaped by the caller), attributes are
    escaped, floats rounded to 0.1 and names written with ``-`` for ``_`` (``class_`` is
    ``class``)."""
    pairs = ""
    for name, value in attributes.items():
        written = _num(value) if isinstance(value, float) else _text(str(value))
        pairs += f' {name.rstrip("_").replace("_", "-")}="{written}"'

    return f"<{tag}{pairs}>{content}</{tag}>" if content else f"<{tag}{pairs}/>"


def _num(value: float) -> str:
    """A coordinate rounded to 0.1 px, as short as it goes: ``12``, ``12.3``."""
    text = f"{value:.1f}".removesuffix(".0")
    return "0" if text == "-0" else text


def _exponent(value: float) -> int:
    """The power of ten of ``value``'s leading digit (robust to 0.001 as 0.000999...)."""
    return math.floor(math.log10(abs(value)) + 1e-9)


def _trim(text: str) -> str:
    """A fixed-point number without trailing zeros: ``0.200`` -> ``0.2``, ``5.0`` -> ``5``."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _times_power(number: int, power: int) -> float:
    """``number`` times ten to ``power``, as near as floats go: 3 / 10 is 0.3, while
    3 * 0.1 is 0.30000000000000004."""
    return number / 10.0**-power if -300 < power < 0 else number * 10.0**power


def _label(value: float, step: float, magnitude: float) -> str:
    """A short tick label for ``value`` among ticks ``step`` apart whose largest is
    ``magnitude``: ``0.033``, ``1200``, ``12.5k``, ``3M``, ``1e-05``."""
    if abs(value) < step * 1e-6:
        return "0"
    if 1e-3 <= magnitude < 1e4:
        return _trim(f"{value:.{max(0, -_exponent(step))}f}")
    if 1e4 <= magnitude < 1e9:
        scale, suffix = (1e3, "k") if magnitude < 1e6 else (1e6, "M")
        return _trim(f"{value / scale:.{max(0, -_exponent(step / scale))}f}") + suffix
    digits = max(0, _exponent(value) - _exponent(step))
    mantissa, _, power = f"{value:.{digits}e}".partition("e")
    return f"{_trim(mantissa)}e{power}"


def _linear_ticks(low: float, high: float, whole: bool = False) -> list[tuple[float, str]]:
    """Ticks in [low, high], ``step`` apart, step 1, 2 or 5 times a power of ten, the
    count nearest 6 among 4 to 8: (value, label) each; ``whole``: whole numbers only
    (trial numbers, steps), so a step of at least 1."""
    top = _exponent(high - low)
    lowest = max(top - 2, 0) if whole else top - 2
    candidates = []
    for power in range(lowest, max(top, lowest) + 1):
        for mantissa in (1, 2, 5):
            step = _times_power(mantissa, power)
            first, last = math.ceil(low / step), math.floor(high / step)
            count = last - first + 1
            score = (not 4 <= count <= 8, abs(count - 6), count)
            candidates.append((score, first, last, mantissa, power))
    _, first, last, mantissa, power = min(candidates)
    step = _times_power(mantissa, power)
    values = [_times_power(index * mantissa, power) for index in range(first, last + 1)]
    magnitude = max(abs(values[0]), abs(values[-1])) if values else 0.0
    return [(value, _label(value, step, magnitude)) for value in values]


def _log_ticks(low: float, high: float) -> list[tuple[float, str]]:
    """Ticks of a log axis spanning 10**low to 10**high, as (log10 of the value, label):
    1, 2 and 5 times the powers of ten when that makes 3 to 8 ticks, else powers of ten
    (every 2nd, 5th, 10th... over many decades), else linear ticks over a narrow range."""
    nice = []
    for power in range(math.floor(low), math.ceil(high) + 1) if high - low <= 3 else ():
        for mantissa in (1, 2, 5):
            value = _times_power(mantissa, power)
            unit = power + math.log10(mantissa)
            if value > 0 and low <= unit <= high:
                nice.append((unit, _label(value, value / mantissa, value)))
    if 3 <= len(nice) <= 8:
        return nice
    if len(nice) < 3 and high - low <= 3 and low > -305:  # steps above subnormal floats
        return [(math.log10(v), text) for v, text in _linear_ticks(10**low, 10**high) if v > 0]
    for every in (1, 2, 5, 10, 20, 50, 100, 200):
        powers = range(math.ceil(low / every) * every, math.floor(high) + 1, every)
        if len(powers) <= 8:
            break
    return [(p, _label(10.0**p, 10.0**p, 10.0**p)) for p in powers if 10.0**p > 0] or nice


@dataclass(frozen=True)
class _Axis:
    """The drawn range of one axis in its units (log10 of the values on a log axis) and
    its ticks as (unit, label)."""

    log: bool
    low: float
    high: float
    ticks: list[tuple[float, str]]

    @classmethod
    def around(cls, values: list[float], log: bool, whole: bool = False) -> _Axis:
        """The axis over ``values`` with a margin; equal values get a range around them;
        ``whole``: ticks at whole numbers only (on a linear axis)."""
        units = [math.log10(v) for v in values] if log else values
        low, high = min(units), max(units)
        if log and high - low < 1e-6:
            low, high = low - 0.5, high + 0.5
        elif not log and high - low <= max(1e-9 * max(abs(low), abs(high)), TINY_SPAN):
            centre = (low + high) / 2
            pad = 0.1 * abs(centre) if abs(centre) >= TINY_SPAN else 1.0
            low, high = centre - pad, centre + pad
        else:
            pad = PAD * (high - low)
            low, high = low - pad, high + pad
        ticks = _log_ticks(low, high) if log else _linear_ticks(low, high, whole)
        return cls(log, low, high, ticks)

    def unit(self, value: float) -> float:
        """``value`` in the axis's units."""
        return math.log10(value) if self.log else value

    def scale(self, start: float, end: float) -> Callable[[float], float]:
        """The pixel of a unit, the axis drawn from pixel ``start`` to ``end``."""
        return lambda unit: start + (unit - self.low) / (self.high - self.low) * (end - start)


Pixel = tuple[float, float]


def _thinned(pixels: list[Pixel]) -> list[Pixel]:
    """``pixels`` of a line thinned by M4 (see the module's docstring): of each run of
    consecutive points in one pixel column, the first, lowest, highest and last."""
    kept: list[Pixel] = []
    start = 0
    while start < len(pixels):
        end, column = start + 1, math.floor(pixels[start][0])
        while end < len(pixels) and math.floor(pixels[end][0]) == column:
            end += 1
        lowest = min(range(start, end), key=lambda i: pixels[i][1])
        highest = max(range(start, end), key=lambda i: pixels[i][1])
        kept.extend(pixels[i] for i in sorted({start, lowest, highest, end - 1}))
        start = end
    return kept


def _tenths(pixels: list[Pixel], kind: str) -> list[tuple[int, int]]:
    """``pixels`` in tenths of a pixel, without the points that change nothing drawn: a
    repeat of the point before, or (on a line) one on the straight way, onwards, from the
    point before to the one after, as on the flat tail of a learning curve."""
    kept: list[tuple[int, int]] = []
    for x, y in ((round(x * 10), round(y * 10)) for x, y in pixels):
        if kept and (x, y) == kept[-1]:
            continue
        if kind == "line" and len(kept) >= 2:
            (ax, ay), (bx, by) = kept[-2], kept[-1]
            straight = (bx - ax) * (y - by) == (by - ay) * (x - bx)
            if straight and (bx - ax) * (x - bx) + (by - ay) * (y - by) >= 0:
                kept[-1] = (x, y)
                continue
        kept.append((x, y))
    return kept


def _path(kind: str, pixels: list[Pixel]) -> str:
    """The ``d`` of a series: dots (markers), straight segments (line), or horizontal
    then vertical segments (steps); a line of one point is a dot (``h0``)."""
    if kind == "markers":
        return "".join(dict.fromkeys(f"M{_num(x)} {_num(y)}h0" for x, y in pixels))
    points = _tenths(_thinned(pixels), kind)
    (x0, y0), rest = points[0], points[1:]
    start = f"M{_num(x0 / 10)} {_num(y0 / 10)}"
    if not rest:
        return f"{start}h0"
    if kind == "line":
        return start + "L" + " ".join(f"{_num(x / 10)} {_num(y / 10)}" for x, y in rest)
    commands, (last_x, last_y) = [start], points[0]
    for x, y in rest:
        commands += [f"H{_num(x / 10)}"] if x != last_x else []
        commands += [f"V{_num(y / 10)}"] if y != last_y else []
        last_x, last_y = x, y
    return "".join(commands)


def _tooltip_budgets(counts: list[int]) -> list[int]:
    """How many of its points with a link or tooltip each series keeps: at most
    TOOLTIPS_PER_SERIES each and TOOLTIPS_PER_CHART in all, shared fairly (the series
    needing fewest first, each no more than an equal share of what is left)."""
    budgets = [0] * len(counts)
    left, series_left = TOOLTIPS_PER_CHART, len(counts)
    for index in sorted(range(len(counts)), key=counts.__getitem__):
        budgets[index] = min(counts[index], TOOLTIPS_PER_SERIES, left // series_left)
        left, series_left = left - budgets[index], series_left - 1
    return budgets


def _legend(series: Sequence[Series], left: float, right: float, rows: int) -> tuple[str, int]:
    """The legend in at most ``rows`` rows above the plot from ``left`` to ``right``, and
    the rows it takes; "+ N more" for the series that do not fit (emphasised ones listed
    first then)."""
    order = list(range(len(series)))
    for attempt in (order, sorted(order, key=lambda i: not series[i].emphasis)):
        items: list[tuple[int, float, int, float]] = []  # series, x, row, width
        x, row = left, 0
        for index in attempt:
            width = 34 + CHAR_WIDTH * len(cut_middle(series[index].name, LEGEND_NAME_CHARS))
            if x + width > right and x > left:
                x, row = left, row + 1
            if row == rows:
                break
            items.append((index, x, row, width))
            x += width
        if len(items) == len(series):
            break
    more = len(series) - len(items)
    while more and len(items) > 1 and items[-1][1] + items[-1][3] + 70 > right:
        items.pop()
        more += 1
    parts = []
    for index, x, row, _ in items:
        entry, colour, y = series[index], PALETTE[index % len(PALETTE)], 18.0 + row * LINE_HEIGHT
        name = cut_middle(entry.name, LEGEND_NAME_CHARS)
        if entry.kind == "markers":
            swatch = _el("circle", cx=x + 8, cy=y, r=3.5, fill=colour)
        else:
            line = f"M{_num(x)} {_num(y)}h16"
            swatch = _el("path", d=line, stroke=colour, stroke_width=3 if entry.emphasis else 1.5)
        title = _el("title", _text(entry.name)) if name != entry.name else ""
        text = _el("text", _text(name), x=x + 22, y=y, dy="0.32em")
        parts.append(_el("g", title + swatch + text, class_="hp-legend-item"))
    _, x, row, width = items[-1]
    if more:
        y = 18.0 + row * LINE_HEIGHT
        more_text = f"+ {more} more"
        parts.append(_el("text", more_text, class_="hp-legend-more", x=x + width, y=y, dy="0.32em"))
    return "".join(parts), row + 1


def _series(entry: Series, index: int, pixels: list[Pixel], own: set[int]) -> str:
    """The group drawing one series: its path, then an element of their own for the
    points at ``own`` (a link around a circle holding the tooltip: a marker, or on a line
    an invisible target shown on hover, ``hp-hit``)."""
    colour, big, markers = PALETTE[index % len(PALETTE)], entry.emphasis, entry.kind == "markers"
    drawn = [pixel for i, pixel in enumerate(pixels) if i not in own] if markers else pixels
    look = {"stroke": colour, "stroke_linecap": "round", "stroke_linejoin": "round"}
    width = (7 if big else 5) if markers else (3 if big else 1.5)
    d = _path(entry.kind, drawn) if drawn else ""
    css = "hp-markers" if markers else "hp-line"
    parts = [_el("path", class_=css, d=d, stroke_width=width, fill="none", **look)] if d else []
    css, radius = ("hp-point", 3.5 if big else 2.5) if markers else ("hp-hit", 4)
    for i in sorted(own):
        point, (x, y) = entry.points[i], pixels[i]
        tip = "" if point.label is None else _el("title", _text(point.label))
        circle = _el("circle", tip, class_=css, cx=x, cy=y, r=radius)
        parts.append(circle if point.href is None else _el("a", circle, href=point.href))
    css = "hp-series hp-emphasis" if big else "hp-series"
    return _el("g", "".join(parts), class_=css, data_series=index, fill=colour)


def chart(
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    log_x: bool = False,
    log_y: bool = False,
    width: int = 720,
    height: int = 320,
    empty: str = "no data yet",
    whole_x: bool = False,
    legend: bool = True,
) -> str:
    """An ``<svg>`` element (a string) drawing ``series`` against axes labelled
    ``x_label`` and ``y_label``, ``width`` by ``height`` units scaled to the page's width;
    with no point to draw, the ``empty`` text centred. ``whole_x``: the x values are
    whole numbers (trial numbers, steps), ticked at whole numbers only; ``legend=False``
    draws none (many curves told apart by their tooltips). See the module's docstring."""
    flags = (("log_x", log_x), ("log_y", log_y), ("whole_x", whole_x), ("legend", legend))
    for name, flag in flags:
        _require(isinstance(flag, bool), name, "be a bool", flag)
    for name, text in (("x_label", x_label), ("y_label", y_label), ("empty", empty)):
        _require(isinstance(text, str), name, "be a str", text)
    for name, size, least in (("width", width, MIN_WIDTH), ("height", height, MIN_HEIGHT)):
        fits = isinstance(size, int) and not isinstance(size, bool) and size >= least
        _require(fits, name, f"be an int of at least {least}", size)
    series = list(series)
    for entry in series:
        _require(isinstance(entry, Series), "series", "hold Series objects only", entry)

    def label(content: str, css: str, x: float, y: float, anchor: str, **more: object) -> str:
        return _el("text", _text(content), class_=css, x=x, y=y, text_anchor=anchor, **more)

    every = [p for entry in series for p in entry.points]
    shown = [[p for p in s.points if abs(p.x) <= DRAWABLE and abs(p.y) <= DRAWABLE] for s in series]
    xs, ys = [p.x for points in shown for p in points], [p.y for points in shown for p in points]
    infinite = sum(not (math.isfinite(p.x) and math.isfinite(p.y)) for p in every)
    beyond = len(every) - len(xs) - infinite
    notes = [f"{plural(infinite, 'point')} not shown (not finite)"] if infinite else []
    notes += [f"{plural(beyond, 'point')} not shown (beyond ±{DRAWABLE:g})"] if beyond else []
    for axis, values, log in (("x", xs, log_x), ("y", ys, log_y)):
        if log and (non_positive := sum(value <= 0 for value in values)):
            notes.append(f"{axis} axis drawn linear, not log: {plural(non_positive, 'value')} ≤ 0")
    log_x, log_y = log_x and all(x > 0 for x in xs), log_y and all(y > 0 for y in ys)
    linked = [sum((p.href, p.label) != (None, None) for p in points) for points in shown]
    budgets = _tooltip_budgets(linked)

    title = _text(f"{y_label} against {x_label}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="hp-chart" viewBox="0 0 {width} '
        f'{height}" width="100%" role="img" aria-label="{title}" font-family="sans-serif" '
        f'font-size="11"><title>{title}</title><style>{STYLE}</style>'
    ]
    if not xs:
        parts.append(label(empty, "hp-empty", width / 2, height / 2, "middle", dy="0.32em"))
        for i, note in enumerate(notes):
            parts.append(label(note, "hp-note", width - 8, 14 + i * NOTE_HEIGHT, "end"))
        return "".join(parts) + "</svg>"

    x_axis, y_axis = _Axis.around(xs, log_x, whole_x), _Axis.around(ys, log_y)
    left = round(30 + CHAR_WIDTH * max((len(text) for _, text in y_axis.ticks), default=1))
    right, bottom = width - 20, height - 40
    keys, rows = "", 0
    if legend and len(series) >= 2:
        keys, rows = _legend(series, left, right, max(1, height // 5 // LINE_HEIGHT))
    notes_top = 10 + rows * LINE_HEIGHT
    top = notes_top + len(notes) * NOTE_HEIGHT + (4 if rows or notes else 12)
    to_x, to_y = x_axis.scale(left, right), y_axis.scale(bottom, top)

    x_ticks = [(to_x(unit), text) for unit, text in x_axis.ticks]
    y_ticks = [(to_y(unit), text) for unit, text in y_axis.ticks]
    grid = "".join(f"M{_num(x)} {top}V{bottom}" for x, _ in x_ticks)
    grid += "".join(f"M{left} {_num(y)}H{right}" for y, _ in y_ticks)
    parts.append(_el("path", class_="hp-grid", d=grid) if grid else "")
    frame = {"x": left, "y": top, "width": right - left, "height": bottom - top}
    parts.append(_el("rect", class_="hp-frame", **frame))
    parts += [label(text, "hp-tick hp-tick-x", x, bottom + 15, "middle") for x, text in x_ticks]
    parts += [
        label(text, "hp-tick hp-tick-y", left - 6, y, "end", dy="0.32em") for y, text in y_ticks
    ]
    x_name = cut_middle(x_label, int(width / CHAR_WIDTH))
    parts.append(
        label(x_name, "hp-axis-label hp-x-label", (left + right) / 2, height - 8, "middle")
    )
    y_name = cut_middle(y_label, max(3, int((bottom - top) / CHAR_WIDTH)))
    turn = f"translate(14 {_num((top + bottom) / 2)}) rotate(-90)"
    parts.append(label(y_name, "hp-axis-label hp-y-label", 0, 0, "middle", transform=turn))
    parts.append(keys)
    for i, note in enumerate(notes):
        parts.append(label(note, "hp-note", right, notes_top + (i + 0.75) * NOTE_HEIGHT, "end"))

    for index in sorted(range(len(series)), key=lambda i: series[i].emphasis):  # emphasis last
        drawn = replace(series[index], points=shown[index])
        pixels = [(to_x(x_axis.unit(p.x)), to_y(y_axis.unit(p.y))) for p in drawn.points]
        linked = [i for i, p in enumerate(drawn.points) if (p.href, p.label) != (None, None)]
        count, keep = len(linked), budgets[index]
        spread = range(count) if keep >= count else [i * count // keep for i in range(keep)]
        parts.append(_series(drawn, index, pixels, {linked[i] for i in spread}) if pixels else "")
    return "".join(parts) + "</svg>"
