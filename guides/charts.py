"""Charts of the statistics pages, drawn on the server as SVG.

No chart library and no script: the pages keep their strict CSP, print as they show, and read
the same with scripts off. Each chart is an ``<svg role="img">`` with a title and a text
description for screen readers; the page shows the same figures in a table and offers them as
CSV, so nothing is only in the picture.

Right-to-left pages get mirrored charts: bars grow from the right and labels sit on the right,
as an Arabic reader scans. Labels are escaped; numbers are formatted by the caller (in the
page's language) and passed in as text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
ROW_HEIGHT = 28
BAR_HEIGHT = 16
LABEL_WIDTH = 220
VALUE_WIDTH = 90
PADDING = 8
COLUMN_CHART_HEIGHT = 180
AXIS_LABEL_WIDTH = 40

# Colours with at least 3:1 contrast against white (WCAG 1.4.11 for graphics).
BAR_COLOUR = "#2f6f9f"
WHISKER_COLOUR = "#1d1d1d"
AXIS_COLOUR = "#595959"
EMPTY_COLOUR = "#d0d0d0"


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart: ``share`` from 0 to 1 of the full width; ``low`` and ``high``
    (0 to 1, optional) draw an interval whisker; ``value`` is the text shown at its end."""

    label: str
    share: float | None
    value: str
    low: float | None = None
    high: float | None = None


# Characters of a label that fit LABEL_WIDTH at the charts' font size; a longer label is cut
# with an ellipsis (its whole text stays in the tooltip, the description and the table).
LABEL_CHARACTERS = 32


def _fit(label: str) -> str:
    return label if len(label) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def _clamp(share: float) -> float:
    return min(max(share, 0.0), 1.0)


def _svg(width: int, height: int, title: str, description: str, body: list[str]) -> SafeString:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>"
    )
    return mark_safe(head + "".join(body) + "</svg>")  # noqa: S308 (every text is escaped above)


def bar_chart(
    bars: Sequence[Bar], *, title: str, rtl: bool = False, labels_rtl: bool | None = None
) -> SafeString:
    """Horizontal bars, one per row, with optional interval whiskers (e.g. a success rate and
    its 95 % interval per step). A row without a share (no data) shows its value text only.
    ``labels_rtl``: the labels' own direction when it is not the page's (an English guide's
    step titles on an Arabic page)."""
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH - 2 * PADDING
    height = max(len(bars), 1) * ROW_HEIGHT + PADDING
    body: list[str] = []

    def x(share: float) -> float:
        # Where a share of the plot ends, measured from the bars' starting edge.
        offset = _clamp(share) * plot
        return round(WIDTH - LABEL_WIDTH - PADDING - offset if rtl else LABEL_WIDTH + offset, 1)

    start = x(0.0)
    # Labels at the reader's starting edge, ending there when they run the other way.
    label_x = WIDTH - PADDING if rtl else PADDING
    labels_rtl = rtl if labels_rtl is None else labels_rtl
    label_anchor = "start" if labels_rtl == rtl else "end"
    for index, bar in enumerate(bars):
        top = PADDING + index * ROW_HEIGHT
        middle = top + BAR_HEIGHT / 2
        body.append(
            f'<text x="{label_x}" y="{middle + 4}" text-anchor="{label_anchor}" '
            f'direction="{"rtl" if labels_rtl else "ltr"}" font-size="12">'
            f"<title>{escape(bar.label)}</title>{escape(_fit(bar.label))}</text>"
        )
        if bar.share is None:
            body.append(
                f'<rect x="{min(start, x(1.0))}" y="{top}" width="{plot}" '
                f'height="{BAR_HEIGHT}" fill="none" stroke="{EMPTY_COLOUR}"/>'
            )
            end = start
        else:
            end = x(bar.share)
            body.append(
                f'<rect class="bar" x="{min(start, end)}" y="{top}" '
                f'width="{round(abs(end - start), 1)}" height="{BAR_HEIGHT}" fill="{BAR_COLOUR}"/>'
            )
        if bar.low is not None and bar.high is not None:
            low, high = x(bar.low), x(bar.high)
            body.append(
                f'<g class="whisker" stroke="{WHISKER_COLOUR}" stroke-width="1.5">'
                f'<line x1="{low}" y1="{middle}" x2="{high}" y2="{middle}"/>'
                f'<line x1="{low}" y1="{top + 3}" x2="{low}" y2="{top + BAR_HEIGHT - 3}"/>'
                f'<line x1="{high}" y1="{top + 3}" x2="{high}" y2="{top + BAR_HEIGHT - 3}"/>'
                "</g>"
            )
        # Figures read left to right in both languages; the page's direction must not flip
        # which end of the text the anchor names.
        value_x = x(1.0) + (-PADDING if rtl else PADDING)
        body.append(
            f'<text x="{round(value_x, 1)}" y="{middle + 4}" direction="ltr" '
            f'text-anchor="{"end" if rtl else "start"}" font-size="12">{escape(bar.value)}</text>'
        )
    body.append(
        f'<line x1="{start}" y1="{PADDING - 2}" x2="{start}" y2="{height - 2}" '
        f'stroke="{AXIS_COLOUR}"/>'
    )
    description = "; ".join(f"{bar.label}: {bar.value}" for bar in bars)
    return _svg(WIDTH, height, title, description, body)


def column_chart(
    columns: Sequence[tuple[str, float | None, str]], *, title: str, rtl: bool = False
) -> SafeString:
    """Vertical columns over time, oldest first in the reading direction (e.g. the deflection
    rate per week): each column is (label, share from 0 to 1 or None, value text)."""
    count = max(len(columns), 1)
    plot_height = COLUMN_CHART_HEIGHT - 3 * PADDING - 16
    # The columns' area, with room for the guides' labels at the reader's starting edge.
    left = PADDING if rtl else PADDING + AXIS_LABEL_WIDTH
    right = WIDTH - PADDING - AXIS_LABEL_WIDTH if rtl else WIDTH - PADDING
    slot = (right - left) / count
    width = max(min(slot * 0.7, 48), 4)
    baseline = PADDING + plot_height
    body: list[str] = [
        f'<line x1="{left}" y1="{baseline}" x2="{right}" y2="{baseline}" stroke="{AXIS_COLOUR}"/>'
    ]
    # Guides at half and at the top, so that the columns' heights read as shares.
    for guide_share, text in ((0.5, "50 %"), (1.0, "100 %")):
        y = round(baseline - guide_share * plot_height, 1)
        body.append(
            f'<line class="gridline" x1="{left}" y1="{y}" x2="{right}" y2="{y}" '
            f'stroke="{EMPTY_COLOUR}" stroke-dasharray="4 3"/>'
            f'<text x="{WIDTH - PADDING if rtl else PADDING}" y="{y + 4}" direction="ltr" '
            f'text-anchor="{"end" if rtl else "start"}" font-size="10">{text}</text>'
        )
    for index, (label, share, value) in enumerate(columns):
        slot_index = count - 1 - index if rtl else index
        centre = round(left + slot * slot_index + slot / 2, 1)
        if share is not None:
            bar_height = round(_clamp(share) * plot_height, 1)
            body.append(
                f'<rect class="bar" x="{round(centre - width / 2, 1)}" '
                f'y="{round(baseline - bar_height, 1)}" width="{round(width, 1)}" '
                f'height="{bar_height}" fill="{BAR_COLOUR}"><title>{escape(label)}: '
                f"{escape(value)}</title></rect>"
            )
        # Week names such as 2026-W45 read left to right on any page.
        body.append(
            f'<text x="{centre}" y="{baseline + 14}" text-anchor="middle" direction="ltr" '
            f'font-size="10">{escape(label)}</text>'
        )
    description = "; ".join(f"{label}: {value}" for label, _share, value in columns)
    return _svg(WIDTH, COLUMN_CHART_HEIGHT, title, description, body)


def funnel_chart(
    stages: Sequence[tuple[str, int, str]], *, title: str, rtl: bool = False
) -> SafeString:
    """A funnel as bars scaled to its first stage (e.g. views → attempts → resolved …): each
    stage is (label, count, value text)."""
    top = max((count for _label, count, _value in stages), default=0)
    bars = [
        Bar(label=label, share=(count / top) if top else 0.0, value=value)
        for label, count, value in stages
    ]
    return bar_chart(bars, title=title, rtl=rtl)
