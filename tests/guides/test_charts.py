"""The statistics pages' SVG charts: geometry that follows the figures, mirrored for Arabic,
and nothing a label can inject."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from guides.charts import (
    LABEL_WIDTH,
    PADDING,
    VALUE_WIDTH,
    WIDTH,
    Bar,
    bar_chart,
    column_chart,
    funnel_chart,
)

SVG = "{http://www.w3.org/2000/svg}"
PLOT = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 2 * PADDING


def parsed(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output)


def shown(text: ET.Element) -> str | None:
    """What a text element shows: a label's tooltip title is not drawn."""
    title = text.find(f"{SVG}title")
    return title.tail if title is not None else text.text


def bars_of(root: ET.Element) -> list[ET.Element]:
    return [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def test_a_bar_is_as_long_as_its_share_of_the_plot():
    root = parsed(bar_chart([Bar("Step 1", 0.5, "50 %"), Bar("Step 2", 1.0, "100 %")], title="t"))
    widths = [float(rect.get("width")) for rect in bars_of(root)]
    assert widths == [PLOT / 2, PLOT]
    assert {float(rect.get("x")) for rect in bars_of(root)} == {LABEL_WIDTH}


def test_the_whisker_spans_the_interval():
    root = parsed(bar_chart([Bar("Step 1", 0.5, "50 %", low=0.25, high=0.75)], title="t"))
    whisker = next(group for group in root.iter(f"{SVG}g") if group.get("class") == "whisker")
    span = whisker.find(f"{SVG}line")
    assert float(span.get("x1")) == LABEL_WIDTH + PLOT * 0.25
    assert float(span.get("x2")) == LABEL_WIDTH + PLOT * 0.75


def test_arabic_bars_grow_from_the_right_with_labels_on_the_right():
    root = parsed(bar_chart([Bar("الخطوة ١", 0.5, "٥٠٪")], title="t", rtl=True))
    (bar,) = bars_of(root)
    right_edge = WIDTH - LABEL_WIDTH - PADDING
    assert float(bar.get("x")) + float(bar.get("width")) == right_edge
    assert float(bar.get("width")) == PLOT / 2
    label = next(text for text in root.iter(f"{SVG}text") if shown(text) == "الخطوة ١")
    assert label.find(f"{SVG}title").text == "الخطوة ١"
    assert float(label.get("x")) == WIDTH - PADDING
    assert label.get("direction") == "rtl"


def test_shares_outside_zero_to_one_are_clamped():
    root = parsed(bar_chart([Bar("a", 1.7, "x"), Bar("b", -0.2, "y")], title="t"))
    assert [float(rect.get("width")) for rect in bars_of(root)] == [PLOT, 0.0]


def test_a_row_without_data_draws_no_bar_but_keeps_its_text():
    root = parsed(bar_chart([Bar("Step 3", None, "not enough data")], title="t"))
    assert bars_of(root) == []
    assert "not enough data" in [text.text for text in root.iter(f"{SVG}text")]


def test_labels_cannot_inject_markup():
    svg = bar_chart([Bar('<script>alert(1)</script>"', 0.1, "<b>")], title="<t>")
    assert "<script>" not in svg and "<b>" not in svg
    root = parsed(svg)  # still well-formed
    assert root.find(f"{SVG}title").text == "<t>"


def test_the_description_reads_every_figure_for_screen_readers():
    root = parsed(bar_chart([Bar("Step 1", 0.5, "50 %"), Bar("Step 2", 0.2, "20 %")], title="t"))
    assert root.get("role") == "img"
    assert root.find(f"{SVG}desc").text == "Step 1: 50 %; Step 2: 20 %"


def test_a_funnel_is_scaled_to_its_largest_stage():
    root = parsed(funnel_chart([("Views", 200, "200"), ("Attempts", 50, "50")], title="t"))
    assert [float(rect.get("width")) for rect in bars_of(root)] == [PLOT, PLOT / 4]


def test_an_empty_funnel_draws_zero_bars_not_an_error():
    root = parsed(funnel_chart([("Views", 0, "0"), ("Attempts", 0, "0")], title="t"))
    assert [float(rect.get("width")) for rect in bars_of(root)] == [0.0, 0.0]


def test_columns_run_oldest_first_in_the_reading_direction():
    weeks = [("W1", 0.2, "20 %"), ("W2", 0.8, "80 %")]
    ltr = [float(rect.get("x")) for rect in bars_of(parsed(column_chart(weeks, title="t")))]
    rtl = [float(r.get("x")) for r in bars_of(parsed(column_chart(weeks, title="t", rtl=True)))]
    assert ltr[0] < ltr[1]
    assert rtl[0] > rtl[1]
    heights = [float(r.get("height")) for r in bars_of(parsed(column_chart(weeks, title="t")))]
    assert heights[1] == 4 * heights[0]


def test_a_week_without_data_has_no_column():
    root = parsed(column_chart([("W1", None, "–"), ("W2", 0.5, "50 %")], title="t"))
    assert len(bars_of(root)) == 1


def test_a_long_label_is_cut_but_kept_whole_in_its_tooltip():
    long = "Pay with PayPal instead of the card, then come back to the account page"
    root = parsed(bar_chart([Bar(long, 0.5, "50 %")], title="t"))
    label = next(text for text in root.iter(f"{SVG}text") if text.find(f"{SVG}title") is not None)
    assert label.find(f"{SVG}title").text == long
    assert len(shown(label)) == 32
    assert shown(label).endswith("…")


def test_an_english_label_on_an_arabic_page_ends_at_the_right_edge():
    root = parsed(bar_chart([Bar("Use Wi-Fi", 0.5, "50 %")], title="t", rtl=True, labels_rtl=False))
    label = next(text for text in root.iter(f"{SVG}text") if shown(text) == "Use Wi-Fi")
    assert float(label.get("x")) == WIDTH - PADDING
    assert (label.get("direction"), label.get("text-anchor")) == ("ltr", "end")


def test_columns_have_guides_at_half_and_full():
    root = parsed(column_chart([("W1", 0.5, "50 %")], title="t"))
    (bar,) = bars_of(root)
    half, full = [float(line.get("y1")) for line in root.iter(f"{SVG}line")
                  if line.get("class") == "gridline"]  # fmt: skip
    assert half == float(bar.get("y"))  # a column at 50 % reaches the half guide
    assert full < half
