"""The dashboard's cooperation map, agency table and trend chart: ``{% load dashboard %}``."""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.template.defaultfilters import floatformat
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext, ngettext

register = template.Library()


@register.simple_tag
def cooperation_map_rows(rows: list[dict]) -> SafeString:
    """The cooperation map's body: a ``<tr>`` per lead organization, in it a ``<td>``
    per cooperating organization.

    Plain Python rather than a template loop (or ``format_html`` per cell): the
    map has a cell per pair of organizations, 24 × 24 in Gwangju, on which the
    template engine spent ~30 ms of the dashboard's 100 ms budget. The few
    counts a cell can show recur all over the map, so each different cell is
    written once (``_map_cell``) and then only looked up.
    """
    language = get_language()  # once: each call reads a thread-local, ~10 µs
    html = []
    for row in rows:
        cells = "".join(
            [
                _map_cell(
                    language,
                    int(cell["open"]),
                    int(cell["stale"]),
                    int(cell.get("overdue", 0)),
                    int(cell["shade"]),
                )
                for cell in row["cells"]
            ]
        )
        html.append(f'<tr><th scope="row">{escape(row["lead"].name)}</th>{cells}</tr>')
    return mark_safe("\n".join(html))  # noqa: S308 - integers and escaped words only


@lru_cache(maxsize=2048)
def _map_cell(language: str, open_requests: int, stale: int, overdue: int, shade: int) -> str:
    """One cell of the map in ``language`` (the active one), its numbers written
    as ``int``, its words escaped: "!" for requests waiting long, "⏰" for those
    past their reply deadline, each also said in words for screen readers."""
    content = str(open_requests) if open_requests else ""
    if open_requests and stale:
        title = escape(gettext("waiting more than 14 days"))
        words = ngettext(
            "%(counter)s waiting more than 14 days", "%(counter)s waiting more than 14 days", stale
        )
        content += f'<span class="stale" title="{title}">!</span>'
        content += f'<span class="sr-only">, {escape(words % {"counter": stale})}</span>'
    if overdue:
        late = escape(gettext("past the reply deadline"))
        words = ngettext(
            "%(counter)s past the reply deadline", "%(counter)s past the reply deadline", overdue
        )
        content += f'<span class="overdue" title="{late}">⏰</span>'
        content += f'<span class="sr-only">, {escape(words % {"counter": overdue})}</span>'
    marked = " is-overdue" if overdue else ""
    return f'<td class="coop-map__cell shade-{shade}{marked}">{content}</td>'


@register.simple_tag
def agency_table_rows(rows: list) -> SafeString:
    """The agency table's body: a ``<tr>`` per organization (``figures.AgencyRow``).

    Plain Python for the same reason as the map's cells: 24 rows of ten cells
    and nine links took the template engine ~5 ms of the uncached dashboard;
    this takes a tenth of that. Numbers are written as ``{% localize off %}``
    would (``str``), medians by ``floatformat`` itself, the rest escaped.
    """
    html = []
    for row in rows:
        links = row.links
        cells = [f'<th scope="row">{escape(row.agency.name)}</th>']
        for name, alert in (("open", False), ("overdue", True), ("waiting", False)):
            cells.append(_linked_cell(getattr(row, name), links[name], alert))
        waited = "—" if row.oldest_waiting_days is None else str(int(row.oldest_waiting_days))
        cells.append(f'<td class="num">{waited}</td>')
        cells.append(_linked_cell(row.reply_overdue, links["reply_overdue"], alert=True))
        cells.append(f'<td class="num">{_days(row.answer_median_days)}</td>')
        cells.append(_linked_cell(row.escalations, links["escalations"], alert=False))
        cells.append(_linked_cell(row.resolved, links["resolved"], alert=False))
        cells.append(f'<td class="num">{_days(row.median_days)}</td>')
        html.append("<tr>" + "".join(cells) + "</tr>")
    return mark_safe("\n".join(html))  # noqa: S308 - integers, floatformat and escaped text only


def _linked_cell(count: int, url: str, alert: bool) -> str:
    marked = " is-alert" if alert and count else ""
    return f'<td class="num{marked}"><a href="{escape(url)}">{int(count)}</a></td>'


def _days(value: float | None) -> str:
    """A median in days with one decimal, as ``|floatformat:1`` writes it; "—" for none."""
    return "—" if value is None else escape(floatformat(value, 1))


@register.simple_tag
def trend_chart_description(chart: dict) -> str:
    """The chart's ``<desc>``: each month's label and numbers, in words (``chart.monthly_bars``).

    Plain Python for the same reason as the map: two template loops over the
    12 months made up most of what the template engine still spent on the figures.
    Numbers are written as ``{% localize off %}`` writes them (``str``).
    """
    words = gettext("%(opened)s opened, %(resolved)s resolved")
    return mark_safe(  # noqa: S308 - escaped labels, integers, and the catalogue's words
        "; ".join(
            f"{escape(m.label)}: "
            + words % {"opened": int(m.opened.value), "resolved": int(m.resolved.value)}
            for m in chart["months"]
        )
    )


@register.simple_tag
def trend_chart_bars(chart: dict) -> SafeString:
    """The chart's bars and month labels: SVG numbers, never localised."""
    width, label_y = chart["bar_width"], int(chart["height"]) - 8
    html = []
    for m in chart["months"]:
        for bar, kind in ((m.opened, "opened"), (m.resolved, "resolved")):
            html.append(
                f'<rect x="{float(bar.x)}" y="{float(bar.y)}" width="{float(width)}"'
                f' height="{float(bar.height)}" class="bar bar--{kind}"/>'
            )
        html.append(
            f'<text x="{float(m.label_x)}" y="{label_y}" class="tick" text-anchor="middle">'
            f"{escape(m.label)}</text>"
        )
    return mark_safe("\n".join(html))  # noqa: S308 - numbers and escaped labels only


@register.simple_tag
def trend_table_rows(trend: list[dict]) -> SafeString:
    """The chart's numbers as a table: a ``<tr>`` per month (``figures._trend``),
    the month as ``|date:"Y-m"`` writes it, the counts as integers."""
    return mark_safe(  # noqa: S308 - dates and integers only
        "".join(
            f'<tr><th scope="row">{p["month"].year:04d}-{p["month"].month:02d}</th>'
            f'<td class="num">{int(p["opened"])}</td><td class="num">{int(p["resolved"])}</td></tr>'
            for p in trend
        )
    )
