"""The dashboard's SVG charts, each read back with ElementTree (so each is well-formed
XML): ticks on hand-picked ranges, where a point lands, escaping and refused links, what
is not drawn and the note saying so, degenerate ranges, the legend, the staircase of
``steps``, and the size of big series."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpotrack.dashboard.svg import (
    TOOLTIPS_PER_CHART,
    TOOLTIPS_PER_SERIES,
    ChartError,
    Point,
    Series,
    chart,
)
from hpotrack.errors import HpotrackError

SVG = "{http://www.w3.org/2000/svg}"
Pixel = tuple[float, float]


def draw(series: list[Series], **options: object) -> ET.Element:
    """The chart of ``series`` parsed (labels "trial" and "loss" unless given)."""
    options = {"x_label": "trial", "y_label": "loss", **options}
    return ET.fromstring(chart(series, **options))  # type: ignore[arg-type]


def of_class(root: ET.Element, css: str) -> list[ET.Element]:
    return [e for e in root.iter() if css in e.get("class", "").split()]


def texts(root: ET.Element, css: str) -> list[str]:
    return [e.text or "" for e in of_class(root, css)]


def frame(root: ET.Element) -> tuple[float, float, float, float]:
    """The plot area: left, top, right, bottom."""
    (rect,) = of_class(root, "hp-frame")
    left, top = float(rect.get("x", "")), float(rect.get("y", ""))
    return left, top, left + float(rect.get("width", "")), top + float(rect.get("height", ""))


def path_points(d: str) -> list[Pixel]:
    """Every point a path's ``M``, ``L`` (with implicit repeats), ``H``, ``V`` and ``h0``
    commands visit."""
    visited: list[Pixel] = []
    x = y = 0.0
    for command, numbers in re.findall(r"([MLHVh])([^MLHVh]*)", d):
        values = [float(v) for v in numbers.split()]
        if command in "ML":
            for i in range(0, len(values), 2):
                x, y = values[i], values[i + 1]
                visited.append((x, y))
        elif command == "H":
            x = values[0]
            visited.append((x, y))
        elif command == "V":
            y = values[0]
            visited.append((x, y))
        else:
            assert values == [0.0]
    return visited


def markers(root: ET.Element) -> list[Pixel]:
    """Where the markers are: the dots of the compact paths and the circles."""
    dots = [p for path in of_class(root, "hp-markers") for p in path_points(path.get("d", ""))]
    circles = of_class(root, "hp-point") + of_class(root, "hp-hit")
    return dots + [(float(c.get("cx", "")), float(c.get("cy", ""))) for c in circles]


def at(root: ET.Element, fx: float, fy: float) -> Pixel:
    """The pixel at fraction ``fx`` of the plot's width from its left and ``fy`` of its
    height from its bottom."""
    left, top, right, bottom = frame(root)
    return left + fx * (right - left), bottom - fy * (bottom - top)


def close(a: Pixel, b: Pixel) -> bool:
    return math.dist(a, b) < 0.1  # coordinates are rounded to 0.1


def ticks_of(low: float, high: float, log: bool) -> list[str]:
    root = draw([Series("s", [Point(low, 1.0), Point(high, 2.0)])], log_x=log)
    return texts(root, "hp-tick-x")


@pytest.mark.parametrize(
    ("low", "high", "log", "expected"),
    [
        (0.0, 1.0, False, ["0", "0.2", "0.4", "0.6", "0.8", "1"]),
        (0.0312, 0.0407, False, ["0.032", "0.034", "0.036", "0.038", "0.04"]),
        (-3.0, 3.0, False, ["-3", "-2", "-1", "0", "1", "2", "3"]),
        (0.0, 12000.0, False, ["0", "2k", "4k", "6k", "8k", "10k", "12k"]),
        (1.0, 27.0, True, ["1", "2", "5", "10", "20"]),
        (1.0, 500.0, True, ["1", "10", "100"]),  # 1, 2, 5 times would make 9
        (1e-5, 1e-1, True, ["1e-05", "1e-04", "0.001", "0.01", "0.1"]),
        (1.0, 1e5, True, ["1", "10", "100", "1000", "10k", "100k"]),
    ],
)
def test_ticks_are_nice_on_hand_picked_ranges(
    low: float, high: float, log: bool, expected: list[str]
) -> None:
    assert ticks_of(low, high, log) == expected


def test_a_point_lands_where_computed_by_hand() -> None:
    """x spans 0..10, drawn -0.4..10.4 (4% either side), so 5 is mid-width; y spans
    0..100, drawn -4..104, so 25 is 29/108 up; on a log axis 1..100 (0..2 decades, drawn
    -0.08..2.08) 10 is mid-height."""
    corners = [Point(0.0, 0.0), Point(10.0, 100.0)]
    root = draw([Series("s", [*corners, Point(5.0, 25.0, label="here")])])
    (circle,) = of_class(root, "hp-point")
    assert close(
        (float(circle.get("cx", "")), float(circle.get("cy", ""))), at(root, 0.5, 29 / 108)
    )
    assert close(markers(root)[0], at(root, 0.4 / 10.8, 4 / 108))
    logged = draw(
        [Series("s", [Point(0.0, 1.0), Point(10.0, 100.0), Point(5.0, 10.0)])], log_y=True
    )
    assert close(markers(logged)[2], at(logged, 0.5, 0.5))


def test_user_text_is_escaped_and_reads_back_equal() -> None:
    name, label, href = '<script>&"', "<b>'x' & \"y\"</b>", "/trial?id=1&next=<2>"
    point = Point(1.0, 2.0, href=href, label=label)
    svg = chart(
        [Series(name, [point]), Series("other", [Point(2.0, 3.0)])],
        x_label="a<b",
        y_label='"loss"',
    )
    assert "<script>" not in svg and "<b>" not in svg
    root = ET.fromstring(svg)
    legend = [e.text for item in of_class(root, "hp-legend-item") for e in item.iter(f"{SVG}text")]
    assert legend == [name, "other"]
    (link,) = root.iter(f"{SVG}a")
    assert link.get("href") == href
    assert [t.text for t in link.iter(f"{SVG}title")] == [label]
    assert texts(root, "hp-x-label") == ["a<b"]
    assert root.get("aria-label") == '"loss" against a<b'


@pytest.mark.parametrize(
    "href",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "java\tscript:alert(1)",
        "\x01javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
    ],
)
def test_a_link_that_could_run_script_is_refused(href: str) -> None:
    with pytest.raises(ValueError, match="relative or an http"):
        Point(1.0, 2.0, href=href)


@pytest.mark.parametrize(
    "href", ["/study/a/trial/3", "trial/3?x=1", "#t3", "https://example.org/a", "HTTP://x/"]
)
def test_relative_and_http_links_are_kept(href: str) -> None:
    root = draw([Series("s", [Point(1.0, 2.0, href=href)])])
    assert [a.get("href") for a in root.iter(f"{SVG}a")] == [href]


def test_points_not_finite_are_skipped_and_counted() -> None:
    nan, inf = math.nan, math.inf
    points = [Point(0.0, 1.0), Point(nan, 1.0), Point(1.0, inf), Point(-inf, 2.0), Point(2.0, 3.0)]
    root = draw([Series("s", points)])
    assert texts(root, "hp-note") == ["3 points not shown (not finite)"]
    assert len(markers(root)) == 2


def test_only_points_not_finite_draw_the_empty_text_and_the_note() -> None:
    root = draw([Series("s", [Point(math.nan, 1.0)])], empty="waiting")
    assert texts(root, "hp-empty") == ["waiting"]
    assert texts(root, "hp-note") == ["1 point not shown (not finite)"]


def test_points_beyond_the_float_range_padded_are_skipped_and_counted() -> None:
    root = draw([Series("s", [Point(0.0, 1.0), Point(1.0, 1e308), Point(2.0, 3.0)])])
    assert texts(root, "hp-note") == ["1 point not shown (beyond ±1e+300)"]
    assert len(markers(root)) == 2


def test_a_single_point_is_centred_in_a_range_around_it() -> None:
    root = draw([Series("s", [Point(3.0, 0.0331)])])
    assert len(markers(root)) == 1 and close(markers(root)[0], at(root, 0.5, 0.5))
    assert "3" in texts(root, "hp-tick-x") and "0.033" in texts(root, "hp-tick-y")
    assert 4 <= len(texts(root, "hp-tick-y")) <= 8


@pytest.mark.parametrize("axis", ["x", "y"])
def test_equal_values_get_a_range_around_them(axis: str) -> None:
    points = [Point(7.0, v) if axis == "x" else Point(v, 7.0) for v in (1.0, 2.0, 3.0)]
    root = draw([Series("s", points)])
    left, top, right, bottom = frame(root)
    middle = (left + right) / 2 if axis == "x" else (top + bottom) / 2
    assert all(abs(p[0 if axis == "x" else 1] - middle) < 0.1 for p in markers(root))
    assert "7" in texts(root, f"hp-tick-{axis}")


@pytest.mark.parametrize("series", [[], [Series("s", [])], [Series("a", []), Series("b", [])]])
def test_no_point_draws_the_empty_text(series: list[Series]) -> None:
    root = draw(series, empty="no trial yet")
    assert texts(root, "hp-empty") == ["no trial yet"]
    assert not of_class(root, "hp-frame") and not markers(root)


def test_a_log_axis_over_zero_is_drawn_linear_with_a_note() -> None:
    root = draw([Series("s", [Point(1.0, 0.0), Point(2.0, 1.0), Point(3.0, 2.0)])], log_y=True)
    assert texts(root, "hp-note") == ["y axis drawn linear, not log: 1 value ≤ 0"]
    assert texts(root, "hp-tick-y") == ["0", "0.5", "1", "1.5", "2"]


def test_a_line_of_20000_points_is_one_small_path() -> None:
    """A line keeps at most 4 points per pixel column (M4): under 664 columns of plot at
    the default 720 width (margins of 37 px and more, and 20), so at most 2,656 points of
    at most 12 characters ("123.4 256.7 "), 31.9 kB, plus under 4 kB of axes, labels and
    style: 40 kB, against 240 kB for every point (and a <line> each would be 1 MB)."""
    ys = [math.sin(i / 300) + ((i * 7919) % 1000) / 2000 for i in range(20000)]
    svg = chart([Series("s", [Point(float(i), y) for i, y in enumerate(ys)], kind="line")],
                x_label="step", y_label="loss")  # fmt: skip
    root = ET.fromstring(svg)
    (line,) = of_class(root, "hp-line")
    assert len(of_class(root, "hp-series")[0]) == 1  # the path, no element per point
    assert len(svg) < 40_000
    drawn = path_points(line.get("d", ""))
    left, _, right, _ = frame(root)
    assert close(drawn[0], first_of_line(root, ys)) and 2000 < len(drawn) <= 4 * (right - left + 1)


def first_of_line(root: ET.Element, ys: list[float]) -> Pixel:
    """Where the first point of the 20,000-point line lands: x=0 of 0..19999, its y
    within the drawn range."""
    low, high = min(ys), max(ys)
    pad = 0.04 * (high - low)
    return at(root, 0.04 / 1.08, (ys[0] - low + pad) / (high - low + 2 * pad))


def test_a_flat_tail_is_drawn_by_its_ends() -> None:
    """A curve of 10,000 steps that drops at the first step, then stays flat (each point
    on the straight way between its neighbours), is drawn with 3 points."""
    points = [Point(float(i), 9.0 if i == 0 else 0.0) for i in range(10000)]
    root = draw([Series("s", points, kind="line")])
    (line,) = of_class(root, "hp-line")
    drawn = path_points(line.get("d", ""))
    ends = [(0.0, 9.0), (1.0, 0.0), (9999.0, 0.0)]  # x drawn -399.96..10398.96, y -0.36..9.36
    expected = [at(root, (x + 399.96) / 10798.92, (y + 0.36) / 9.72) for x, y in ends]
    assert len(drawn) == 3 and all(close(a, b) for a, b in zip(drawn, expected, strict=True))


def test_tooltips_are_capped_per_series_and_per_chart() -> None:
    many = Series("s", [Point(float(i), float(i % 97), label=f"trial {i}") for i in range(5000)])
    root = draw([many])
    assert len(of_class(root, "hp-point")) == TOOLTIPS_PER_SERIES
    assert len(markers(root)) == 5000
    curves = [
        Series(f"t{k}", [Point(float(i), k + i / 1000, label=f"{k}/{i}") for i in range(1000)],
               kind="line")
        for k in range(50)
    ]  # fmt: skip
    root = draw(curves)
    assert len(of_class(root, "hp-hit")) == TOOLTIPS_PER_CHART
    assert len(of_class(root, "hp-line")) == 50


def test_a_legend_only_for_two_series_or_more() -> None:
    one = draw([Series("alone", [Point(1.0, 2.0)])])
    assert not of_class(one, "hp-legend-item")
    two = draw([Series("a", [Point(1.0, 2.0)]), Series("b", [Point(2.0, 1.0)], kind="line")])
    names = [t.text for item in of_class(two, "hp-legend-item") for t in item.iter(f"{SVG}text")]
    assert names == ["a", "b"]


def test_no_legend_when_asked_for_none() -> None:
    two = [Series("a", [Point(1.0, 2.0)]), Series("b", [Point(2.0, 1.0)], kind="line")]
    assert not of_class(draw(two, legend=False), "hp-legend-item")


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (0.0, 2.0, ["0", "1", "2"]),  # not 0, 0.5, 1, 1.5, 2: steps are whole
        (1.0, 3.0, ["1", "2", "3"]),
        (0.0, 29.0, ["0", "5", "10", "15", "20", "25", "30"]),  # 30 within the margin
    ],
)
def test_whole_x_ticks_whole_numbers_only(low: float, high: float, expected: list[str]) -> None:
    root = draw([Series("s", [Point(low, 1.0), Point(high, 2.0)])], whole_x=True)
    assert texts(root, "hp-tick-x") == expected


def test_a_legend_of_many_series_ends_with_how_many_more() -> None:
    curves = [Series(f"trial {k}", [Point(0.0, k), Point(1.0, k)], kind="line") for k in range(60)]
    root = draw([*curves[:59], Series("best", curves[59].points, kind="line", emphasis=True)])
    items = of_class(root, "hp-legend-item")
    (more,) = texts(root, "hp-legend-more")
    assert 0 < len(items) < 60 and more == f"+ {60 - len(items)} more"
    assert "best" in [t.text for item in items for t in item.iter(f"{SVG}text")]
    _, top, _, bottom = frame(root)
    assert bottom - top > 150  # the legend takes at most a fifth of the height


def test_the_emphasised_series_is_drawn_last_and_thicker() -> None:
    best = Series("best", [Point(0.0, 1.0), Point(1.0, 0.5)], kind="line", emphasis=True)
    other = Series("other", [Point(0.0, 2.0), Point(1.0, 1.5)], kind="line")
    root = draw([best, other])
    groups = of_class(root, "hp-series")
    assert [g.get("data-series") for g in groups] == ["1", "0"]
    assert [g[0].get("stroke-width") for g in groups] == ["1.5", "3"]


def test_steps_go_across_then_up_or_down() -> None:
    """A best-so-far staircase: from each point across to the next one's x, then to its
    y; a point that does not improve only extends the step."""
    points = [Point(0.0, 5.0), Point(1.0, 3.0), Point(2.0, 3.0), Point(3.0, 1.0)]
    root = draw([Series("best so far", points, kind="steps")])
    (path,) = of_class(root, "hp-line")
    d = path.get("d", "")
    assert re.sub(r"[^MHV]", "", d) == "MHVHHV"
    p0, p1, p2, p3 = [at(root, (p.x + 0.12) / 3.24, (p.y - 0.84) / 4.32) for p in points]
    expected = [p0, (p1[0], p0[1]), p1, p2, (p3[0], p2[1]), p3]
    assert all(close(a, b) for a, b in zip(path_points(d), expected, strict=True))


def test_the_svg_scales_and_is_labelled_for_assistive_technology() -> None:
    root = draw([Series("s", [Point(1.0, 2.0)])], width=600, height=300)
    assert root.tag == f"{SVG}svg"
    assert root.get("viewBox") == "0 0 600 300" and root.get("width") == "100%"
    assert root.get("role") == "img" and root.get("aria-label") == "loss against trial"
    assert root[0].tag == f"{SVG}title" and root[0].text == "loss against trial"
    css = root.find(f"{SVG}style")
    assert css is not None and css.text
    assert all(name.startswith("hp-") for name in re.findall(r"\.([A-Za-z][\w-]*)", css.text))


def test_wrong_arguments_name_the_problem() -> None:
    with pytest.raises(
        ChartError, match="`kind` must be one of 'markers', 'line', 'steps', but got 'bar'"
    ):
        Series("s", [], kind="bar")
    with pytest.raises(ValueError, match="`x` must be a real number, but got 'a'"):
        Point("a", 1.0)  # type: ignore[arg-type]
    with pytest.raises(HpotrackError, match=r"`points` must hold Point objects only, but got \("):
        Series("s", [(1.0, 2.0)])  # type: ignore[list-item]
    with pytest.raises(ChartError, match="`width` must be an int of at least 240, but got 10"):
        chart([], x_label="x", y_label="y", width=10)
    assert Series("s", [Point(1, 2)]).points == (Point(1.0, 2.0),)


coordinates = st.floats(allow_nan=False, allow_infinity=False)


@given(
    points=st.lists(st.tuples(coordinates, coordinates), max_size=30),
    kind=st.sampled_from(["markers", "line", "steps"]),
    log_x=st.booleans(),
    log_y=st.booleans(),
)
def test_any_finite_points_draw_inside_the_plot(
    points: list[Pixel], kind: str, log_x: bool, log_y: bool
) -> None:
    labels = [f"{x}, {y}" if i % 2 else None for i, (x, y) in enumerate(points)]
    series = Series(
        "s", [Point(x, y, label=t) for (x, y), t in zip(points, labels, strict=True)], kind=kind
    )
    root = draw([series], log_x=log_x, log_y=log_y)
    drawn = markers(root) + [
        p for e in of_class(root, "hp-line") for p in path_points(e.get("d", ""))
    ]
    if not drawn:
        assert texts(root, "hp-empty") == ["no data yet"]
        return
    left, top, right, bottom = frame(root)
    assert all(left <= x <= right and top <= y <= bottom for x, y in drawn)
    assert 1 <= len(texts(root, "hp-tick-x")) <= 8 and 1 <= len(texts(root, "hp-tick-y")) <= 8
