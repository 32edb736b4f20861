"""The report's chart: a 1200×800 PNG of time in each status and of response/resolution times."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from bot.reports.metrics import COLUMNS, TIMED

WIDTH, HEIGHT, DPI = 1200, 800, 100
_INDEX = {name: i for i, name in enumerate(COLUMNS)}
_PRIORITIES = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent", None: "none"}
_HOUR = 3600


def draw_chart(rows: Sequence[Sequence[Any]], path_or_buffer: str | Path | IO[bytes]) -> None:
    """Draw report rows (COLUMNS' order): mean hours in each status by priority (stacked), and
    the distributions of first response and of first resolution, as a 1200×800 PNG."""
    # Imported here, not at the top: matplotlib (with numpy and PIL) adds about 40 MB and a
    # second to every bot process, which draws a chart only when an admin asks for /report.
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH / DPI, HEIGHT / DPI), dpi=DPI)
    grid = figure.add_gridspec(2, 2, width_ratios=(1.1, 1))
    stacked = figure.add_subplot(grid[:, 0])
    response = figure.add_subplot(grid[0, 1])
    resolution = figure.add_subplot(grid[1, 1])

    groups: dict[Any, list] = {}
    for row in rows:
        groups.setdefault(row[_INDEX["priority"]], []).append(row)
    keys = sorted(groups, key=lambda k: (k is None, k or 0))
    labels = [_PRIORITIES.get(k, str(k)) for k in keys]
    bottom = [0.0] * len(keys)
    for status, (_, column) in TIMED.items():
        heights = [sum(r[_INDEX[column]] for r in groups[k]) / len(groups[k]) / _HOUR for k in keys]
        stacked.bar(labels, heights, bottom=bottom, label=status)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    stacked.set_title("Mean time in each status, by priority")
    stacked.set_ylabel("hours")
    stacked.legend(loc="upper left", fontsize="small")

    for axes, column, title in (
        (response, "first_response", "First response"),
        (resolution, "first_resolution", "First resolution"),
    ):
        values = [r[_INDEX[column]] / _HOUR for r in rows if r[_INDEX[column]] is not None]
        if values:
            axes.hist(
                values, bins=40, color="tab:blue" if column == "first_response" else "tab:green"
            )
        else:
            axes.text(0.5, 0.5, "no data", ha="center", va="center", transform=axes.transAxes)
        axes.set_title(f"{title} ({len(values)} tickets)")
        axes.set_xlabel("hours")
        axes.set_ylabel("tickets")

    figure.suptitle(f"Helpdesk report: {len(rows)} tickets")
    figure.tight_layout()
    figure.savefig(path_or_buffer, format="png", dpi=DPI)
