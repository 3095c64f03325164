"""A small, accessible SVG bar chart drawn on the server (no chart library)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    height: float
    value: int


@dataclass(frozen=True)
class MonthBars:
    label: str
    opened: Bar
    resolved: Bar
    label_x: float


def monthly_bars(trend: list[dict], *, width: int = 720, height: int = 220, pad: int = 28) -> dict:
    """Geometry for paired bars (opened, resolved) per month, scaled to the largest value."""
    peak = max([max(t["opened"], t["resolved"]) for t in trend] + [1])
    plot_height = height - 2 * pad
    slot = (width - 2 * pad) / max(len(trend), 1)
    bar_width = slot * 0.35
    months = []
    for index, point in enumerate(trend):
        left = pad + index * slot + slot * 0.12

        def bar(value: int, offset: float, left: float = left) -> Bar:
            h = plot_height * value / peak
            return Bar(
                x=round(left + offset, 1),
                y=round(height - pad - h, 1),
                height=round(h, 1),
                value=value,
            )

        months.append(
            MonthBars(
                label=point["month"].strftime("%y.%m"),
                opened=bar(point["opened"], 0),
                resolved=bar(point["resolved"], bar_width + 2),
                label_x=round(left + bar_width, 1),
            )
        )
    return {
        "months": months,
        "width": width,
        "height": height,
        "bar_width": round(bar_width, 1),
        "baseline": height - pad,
        "peak": peak,
        "peak_y": pad,
    }
