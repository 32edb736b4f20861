"""`generate`: a realistic random activities export; the same seed gives the same file.

Tickets follow weighted workflows through all six statuses (with restated statuses, waits on the
customer and on third parties, reopens and closing by a system job), with agents and requesters,
public and private notes, priorities, groups and categories, and business-hour-shaped times in a
few time zones.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from bot.reports.freshdesk import format_iso

START = datetime(2024, 1, 1, tzinfo=UTC)
GROUPS = ("Billing", "Technical", "Accounts", "Shipping", "Returns")
CATEGORIES = ("Question", "Incident", "Problem", "Feature request", "Refund")
OFFSETS = (0, 0, 0, 60, 120, 330, -300, -420)  # minutes east of UTC
PRIORITY_WEIGHTS = (30, 45, 18, 7)
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 12, 15, 17, 16, 13, 9, 6, 4, 3, 2, 1, 1]

# workflows after creation (Open), as weighted lists of steps
WORKFLOWS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (30, ("reply", "Resolved", "Closed")),
    (14, ("private", "reply", "Pending", "Resolved", "Closed")),
    (12, ("reply", "Waiting for Customer", "customer", "Open", "reply", "Resolved", "Closed")),
    (8, ("Waiting for Third Party", "private", "Open", "reply", "Resolved")),
    (8, ("reply", "Resolved", "customer", "Open", "reply", "Resolved", "Closed")),
    (6, ("customer", "private", "Pending", "Pending", "reply", "Resolved", "Closed")),
    (6, ("reply", "Waiting for Customer", "Resolved", "Closed", "customer", "Open", "Resolved")),
    (5, ("private", "Pending", "Waiting for Third Party", "Open", "reply", "Closed")),
    (5, ("reply", "Pending")),
    (4, ("customer", "customer")),
    (4, ("reply", "Waiting for Customer")),
    (4, ("Resolved", "customer", "Pending", "reply", "Resolved", "Closed")),
    (4, ("reply", "Waiting for Third Party", "Waiting for Third Party", "reply", "Open")),
)
_WEIGHTS = [w for w, _ in WORKFLOWS]


class Generator:
    def __init__(self, seed: int, tickets: int, days: int = 90) -> None:
        self.rng = random.Random(seed)
        self.tickets = tickets
        self.days = days
        self.agents = [100 + i for i in range(max(5, tickets // 400))]
        self.requesters = max(10, tickets // 3)
        self.note_id = 0
        self.end = START + timedelta(days=days + 30)

    def _business_time(self, at: datetime) -> datetime:
        """Nights and weekends are quiet: most work moves to the next working hour."""
        while (at.weekday() >= 5 or not 8 <= at.hour < 19) and self.rng.random() < 0.85:
            at = (at + timedelta(hours=1)).replace(minute=self.rng.randrange(60))
        return at

    def _gap(self, mean_minutes: float) -> timedelta:
        return timedelta(seconds=int(self.rng.expovariate(1 / (mean_minutes * 60))) + 1)

    def ticket(self, ticket_id: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        day = START + timedelta(days=rng.randrange(self.days))
        hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
        at = day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))
        zone = timezone(timedelta(minutes=rng.choice(OFFSETS)))
        requester = 10_000 + rng.randrange(self.requesters)
        agent = rng.choice(self.agents)
        priority = rng.choices((1, 2, 3, 4), PRIORITY_WEIGHTS)[0]
        speed = (2.0, 1.2, 0.6, 0.25)[priority - 1]
        steps = rng.choices(WORKFLOWS, _WEIGHTS)[0][1]

        def record(performer: int | None, activity: dict[str, Any], kind: str = "user") -> dict:
            return {
                "performer_type": kind,
                "performer_id": performer,
                "ticket_id": ticket_id,
                "performed_at": at.astimezone(zone).strftime("%d-%m-%Y %H:%M:%S %z"),
                "activity": activity,
            }

        yield record(
            requester,
            {
                "status": "Open",
                "priority": priority,
                "requester": requester,
                "group": rng.choice(GROUPS),
                "category": rng.choice(CATEGORIES),
                "source": rng.choice(("email", "portal", "phone", "chat")),
            },
        )
        if rng.random() < 0.7:
            at += self._gap(3)
            yield record(None, {"agent_id": agent}, "system")
        status = "Open"
        for step in steps:
            at = self._business_time(at + self._gap(90 * speed))
            if step == "reply":
                self.note_id += 1
                yield record(agent, {"note": {"id": self.note_id, "type": 1}})
            elif step == "private":
                self.note_id += 1
                yield record(agent, {"note": {"id": self.note_id, "type": 2, "private": True}})
            elif step == "customer":
                self.note_id += 1
                yield record(requester, {"note": {"id": self.note_id, "type": 1}})
            else:
                if step == "Closed" and rng.random() < 0.5:
                    at += timedelta(days=2)
                    yield record(None, {"status": "Closed"}, "system")
                else:
                    yield record(agent, {"status": step})
                status = step
            if step in ("reply", "customer") and rng.random() < 0.35:
                at = self._business_time(at + self._gap(60 * speed))
                self.note_id += 1
                by = agent if step == "customer" else requester
                yield record(by, {"note": {"id": self.note_id, "type": 1}})
            if rng.random() < 0.08:
                at += self._gap(5)
                yield record(agent, {"status": status})  # a restated status changes nothing
            if rng.random() < 0.05:
                agent = rng.choice(self.agents)
                yield record(None, {"agent_id": agent, "group": rng.choice(GROUPS)}, "system")
            if rng.random() < 0.04 and priority < 4:
                priority += 1
                yield record(agent, {"priority": priority})
        if rng.random() < 0.3:
            self.note_id += 1
            yield record(agent, {"note": {"id": self.note_id, "type": 2, "private": True}})
        if status == "Closed" and rng.random() < 0.5:
            yield record(requester, {"rating": rng.choices((1, 2, 3, 4, 5), (4, 5, 10, 30, 51))[0]})

    def records(self) -> Iterator[dict[str, Any]]:
        for ticket_id in range(1, self.tickets + 1):
            yield from self.ticket(ticket_id)


def generate(path: str | Path, *, tickets: int, seed: int = 0) -> int:
    """Write a generated export and return the number of activities."""
    generator = Generator(seed, tickets)
    path = Path(path)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        meta = f'"start_at": "{format_iso(START)}", "end_at": "{format_iso(generator.end)}"'
        head = '{"metadata": {' + meta + ', "activities_count": '
        out.write(head)
        count_at = out.tell()
        out.write(" " * 20 + '}, "activities_data": [')
        separator = "\n"
        for record in generator.records():
            out.write(separator + json.dumps(record))
            separator = ",\n"
            count += 1
        out.write("\n]}\n")
        out.seek(count_at)
        out.write(str(count))
    return count
