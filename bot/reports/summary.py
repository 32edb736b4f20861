"""The summary (metrics.md): count, median, p90 and mean by priority and by agent, reopen rate,
CSAT — for `report --summary` and for `/report [days]` in Telegram."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports.metrics import TIME_COLUMNS
from bot.reports.report import REPORT_COLUMNS, iter_rows
from bot.services import kb

PRIORITY_NAMES = {1: "Low", 2: "Medium", 3: "High", 4: "Urgent"}
_INDEX = {name: i for i, name in enumerate(REPORT_COLUMNS)}
GROUPINGS = ("priority", "agent")  # the summary's groups unless asked otherwise (`--by`)


def percentile(ordered: Sequence[float], share: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default) of sorted values."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * share
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class Stats:
    count: int
    median: float | None
    p90: float | None
    mean: float | None

    @classmethod
    def of(cls, values: Iterable[int | None]) -> Stats:
        ordered = sorted(v for v in values if v is not None)
        if not ordered:
            return cls(0, None, None, None)
        return cls(
            len(ordered),
            percentile(ordered, 0.5),
            percentile(ordered, 0.9),
            sum(ordered) / len(ordered),
        )


@dataclass
class Group:
    """The metrics of one group of tickets (all, a priority, an agent)."""

    label: str
    tickets: int
    metrics: dict[str, Stats]

    @classmethod
    def of(cls, label: str, rows: Sequence[tuple[Any, ...]]) -> Group:
        return cls(
            label,
            len(rows),
            {name: Stats.of(row[_INDEX[name]] for row in rows) for name in TIME_COLUMNS},
        )


@dataclass
class Summary:
    since: datetime | None
    until: datetime | None
    as_of: datetime | None
    tickets: int
    reopen_rate: float | None
    csat: float | None
    rated: int
    overall: Group
    by_priority: list[Group]
    by_agent: list[Group]
    rows: list[tuple[Any, ...]] = field(default_factory=list, repr=False)
    by_tag: list[Group] = field(default_factory=list)  # with `--by tag`: a group per tag
    # What the knowledge base's suggestions in /new did in the same period.
    knowledge_base: kb.Figures = field(default_factory=kb.Figures)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("rows")
        data["knowledge_base"]["deflection_rate"] = self.knowledge_base.deflection_rate
        for key in ("since", "until", "as_of"):
            value = getattr(self, key)
            data[key] = None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return data

    def groups(self) -> list[Group]:
        """Every group shown: all tickets, then by priority, agent and tag (those asked for)."""
        return [self.overall, *self.by_priority, *self.by_agent, *self.by_tag]

    def text(self) -> str:
        """A plain-text rendering (fits a Telegram message)."""
        lines = []
        if self.since is not None or self.until is not None:
            lines.append(f"Tickets created {_when(self.since)} – {_when(self.until)}")
        lines.append(f"Tickets: {self.tickets}")
        lines.append(f"Reopen rate: {_share(self.reopen_rate)}")
        lines.append(f"CSAT: {_share(self.csat)} of {self.rated} rated")
        lines.extend(_knowledge_base_lines(self.knowledge_base))
        for group in self.groups():
            lines.append("")
            lines.append(f"{group.label} ({group.tickets} tickets)")
            lines.append(f"  {'metric':<28} {'n':>6} {'median':>9} {'p90':>9} {'mean':>9}")
            for name, stats in group.metrics.items():
                lines.append(
                    f"  {name:<28} {stats.count:>6} {duration(stats.median):>9} "
                    f"{duration(stats.p90):>9} {duration(stats.mean):>9}"
                )
        return "\n".join(lines)


def _knowledge_base_lines(figures: kb.Figures) -> list[str]:
    lines = [
        f"Suggestions offered: {figures.offered}; tickets avoided: {figures.deflected} "
        f"(deflection rate {_share(figures.deflection_rate)})"
    ]
    if figures.top_articles:
        top = ", ".join(f"{key} ({n})" for key, n in figures.top_articles)
        lines.append(f"Articles that solved most: {top}")
    return lines


def _when(value: datetime | None) -> str:
    return "…" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def duration(seconds: float | None) -> str:
    """A short human duration: `2d 3h`, `3h 12m`, `12m 5s`, `40s`."""
    if seconds is None:
        return "–"
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def summarize(
    rows_with_rating: Iterable[tuple[Any, ...]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    as_of: datetime | None = None,
    by: Sequence[str] = GROUPINGS,
) -> Summary:
    """The summary of report rows that carry the ticket's rating as an extra last value;
    grouped `by` priority, agent and/or tag (a ticket with two tags counts in both)."""
    rows, ratings = [], []
    for row in rows_with_rating:
        rows.append(row[:-1])
        if row[-1] is not None:
            ratings.append(row[-1])
    by_priority: dict[Any, list] = {}
    by_agent: dict[Any, list] = {}
    by_tag: dict[Any, list] = {}
    for row in rows:
        by_priority.setdefault(row[_INDEX["priority"]], []).append(row)
        by_agent.setdefault(row[_INDEX["agent_id"]], []).append(row)
        for tag in (row[_INDEX["tags"]] or "").split(";"):
            by_tag.setdefault(tag or None, []).append(row)
    reopened = sum(1 for row in rows if row[_INDEX["reopens"]] > 0)
    return Summary(
        since=since,
        until=until,
        as_of=as_of,
        tickets=len(rows),
        reopen_rate=reopened / len(rows) if rows else None,
        csat=sum(1 for r in ratings if r >= 4) / len(ratings) if ratings else None,
        rated=len(ratings),
        overall=Group.of("All tickets", rows),
        by_priority=[
            Group.of(f"Priority {PRIORITY_NAMES.get(p, p) if p is not None else 'none'}", group)
            for p, group in sorted(by_priority.items(), key=lambda kv: _order(kv[0]))
        ]
        if "priority" in by
        else [],
        by_agent=[
            Group.of(f"Agent {a}" if a is not None else "Unassigned", group)
            for a, group in sorted(by_agent.items(), key=lambda kv: _order(kv[0]))
        ]
        if "agent" in by
        else [],
        by_tag=[
            Group.of(f"Tag {t}" if t is not None else "Untagged", group)
            for t, group in sorted(by_tag.items(), key=lambda kv: _order(kv[0]))
        ]
        if "tag" in by
        else [],
        rows=rows,
    )


def _order(key: Any) -> tuple[int, Any]:
    return (1, 0) if key is None else (0, key)


async def summary_of(
    session: AsyncSession,
    *,
    as_of: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Sequence[str] = GROUPINGS,
) -> Summary:
    rows = [
        row
        async for row in iter_rows(session, as_of=as_of, since=since, until=until, with_rating=True)
    ]
    summary = summarize(rows, since=since, until=until, as_of=as_of, by=by)
    summary.knowledge_base = await kb.figures(session, since=since, until=until or as_of)
    return summary


async def summary_for_period(session: AsyncSession, *, days: int, as_of: datetime) -> Summary:
    """The summary of tickets created in the `days` before `as_of` (for `/report [days]`)."""
    return await summary_of(session, as_of=as_of, since=as_of - timedelta(days=days), until=as_of)
