"""The per-ticket rules of metrics.md, in Python: one fold over a ticket's sorted activities.

The same `apply` keeps a ticket's summary row up to date one activity at a time (the bot's own
writes) and, folded over all of a ticket's activities, is the full recomputation that the
bulk SQL of `bot.reports.bulk` and the maintained rows are checked against.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from storage.types import MICROSECONDS, from_micros, to_micros

OPEN = "Open"
PENDING = "Pending"
WAITING_CUSTOMER = "Waiting for Customer"
WAITING_THIRD_PARTY = "Waiting for Third Party"
RESOLVED = "Resolved"
CLOSED = "Closed"
STATUSES = (OPEN, PENDING, WAITING_CUSTOMER, WAITING_THIRD_PARTY, RESOLVED, CLOSED)
SOLVED = frozenset({RESOLVED, CLOSED})
SYSTEM = "system"

# status -> (summary attribute with its finished microseconds, report column)
TIMED = {
    OPEN: ("open_us", "time_open"),
    PENDING: ("pending_us", "time_pending"),
    WAITING_CUSTOMER: ("waiting_customer_us", "time_waiting_on_customer"),
    WAITING_THIRD_PARTY: ("waiting_third_party_us", "time_waiting_on_third_party"),
}

COLUMNS = (
    "source",
    "ticket_id",
    "created_at",
    "status",
    "priority",
    "agent_id",
    "time_open",
    "time_pending",
    "time_waiting_on_customer",
    "time_waiting_on_third_party",
    "first_response",
    "first_resolution",
    "full_resolution",
    "reopens",
    "open_intervals",
)
TIME_COLUMNS = (
    "time_open",
    "time_pending",
    "time_waiting_on_customer",
    "time_waiting_on_third_party",
    "first_response",
    "first_resolution",
    "full_resolution",
)


@dataclass(slots=True)
class State:
    """A ticket's summary so far; times are microseconds since the epoch (as stored)."""

    source: str
    ticket_id: int
    created_at: int | None = None
    last_at: int | None = None
    activity_count: int = 0
    status: str | None = None
    status_since: int | None = None
    open_us: int = 0
    pending_us: int = 0
    waiting_customer_us: int = 0
    waiting_third_party_us: int = 0
    first_response_at: int | None = None
    first_resolution_at: int | None = None
    full_resolution_at: int | None = None
    reopens: int = 0
    priority: int | None = None
    agent_id: int | None = None
    requester: int | None = None
    rating: int | None = None
    end_at: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


STATE_FIELDS = tuple(f.name for f in fields(State))


def is_public_note(activity: Mapping[str, Any]) -> bool:
    """A note is private when it carries `"private": true`; every other note is public."""
    note = activity.get("note")
    if note is None:
        return False
    return not (isinstance(note, Mapping) and note.get("private") is True)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def apply(
    state: State,
    *,
    at: int,
    performer_type: str,
    performer_id: int | None,
    activity: Mapping[str, Any],
    requester: int | None,
) -> None:
    """Fold one activity (not earlier than the last one) into the ticket's summary.

    `requester` is the ticket's requester (the last one given in all its activities): the
    incremental path passes the stored one and recomputes the ticket when it changes.
    """
    first = state.activity_count == 0
    if first:
        state.created_at = at
    state.activity_count += 1
    state.last_at = at

    status = activity.get("status")
    changed = status is not None and status != state.status
    if changed:
        status = str(status)
        previous = state.status
        if previous is not None and previous in TIMED:
            attr = TIMED[previous][0]
            setattr(state, attr, getattr(state, attr) + at - state.status_since)
        if previous in SOLVED and status not in SOLVED:
            state.reopens += 1
        if status in SOLVED:
            if state.first_resolution_at is None:
                state.first_resolution_at = at
            if previous not in SOLVED:
                state.full_resolution_at = at
        state.status = status
        state.status_since = at

    for key in ("priority", "agent_id", "requester", "rating"):
        value = activity.get(key)
        if value is not None:
            setattr(state, key, int(value))

    if (
        not first
        and state.first_response_at is None
        and performer_type != SYSTEM
        and (requester is None or performer_id is None or performer_id != requester)
        and (is_public_note(activity) or (changed and status != OPEN))
    ):
        state.first_response_at = at


@dataclass(slots=True)
class Act:
    """One activity as the rules see it (`at` in microseconds, ties broken by `id`)."""

    at: int
    id: int
    performer_type: str
    performer_id: int | None
    activity: Mapping[str, Any] = field(default_factory=dict)


def compute(source: str, ticket_id: int, activities: Iterable[Act]) -> State:
    """The full recomputation of one ticket from all its activities."""
    ordered = sorted(activities, key=lambda a: (a.at, a.id))
    requester = None
    for act in ordered:
        if act.activity.get("requester") is not None:
            requester = int(act.activity["requester"])
    state = State(source=source, ticket_id=ticket_id)
    for act in ordered:
        apply(
            state,
            at=act.at,
            performer_type=act.performer_type,
            performer_id=act.performer_id,
            activity=act.activity,
            requester=requester,
        )
    return state


_HOUR_US = 3600 * MICROSECONDS
_HOUR_TEXT: dict[int, str] = {}  # hours since the epoch -> `YYYY-MM-DDTHH:`
_MINUTE_SECOND_TEXT = tuple(f"{m:02d}:{s:02d}Z" for m in range(60) for s in range(60))


def iso(micros: int) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` (UTC) of microseconds since the epoch (fractions dropped)."""
    hour, rest = divmod(micros, _HOUR_US)
    text = _HOUR_TEXT.get(hour)
    if text is None:
        text = from_micros(hour * _HOUR_US).strftime("%Y-%m-%dT%H:")
        if len(_HOUR_TEXT) < 100_000:
            _HOUR_TEXT[hour] = text
    return text + _MINUTE_SECOND_TEXT[rest // MICROSECONDS]


# the stored summary's fields a report row needs, in this order (see row_of_summary)
SUMMARY_FIELDS = (
    "source",
    "ticket_id",
    "created_at",
    "status",
    "status_since",
    "open_us",
    "pending_us",
    "waiting_customer_us",
    "waiting_third_party_us",
    "first_response_at",
    "first_resolution_at",
    "full_resolution_at",
    "reopens",
    "priority",
    "agent_id",
)
_OPEN_COLUMN = {status: (i, column) for i, (status, (_, column)) in enumerate(TIMED.items())}


def row_of_summary(values: tuple[Any, ...] | list[Any], as_of: int) -> tuple[Any, ...]:
    """One report row (COLUMNS' order) from a summary's SUMMARY_FIELDS values (extra values after
    them are ignored), completing the unfinished interval at `as_of` (an as-of before the
    interval began adds nothing)."""
    source, ticket_id, created_at, status, since, op, pe, wc, wt, fr, fs, fu, reopens, pr, ag = (
        values[:15]
    )
    open_intervals = None
    current = _OPEN_COLUMN.get(status)
    if current is not None:
        index, open_intervals = current
        extra = as_of - since if as_of > since else 0
        if index == 0:
            op += extra
        elif index == 1:
            pe += extra
        elif index == 2:
            wc += extra
        else:
            wt += extra
    us = MICROSECONDS
    return (
        source,
        ticket_id,
        iso(created_at),
        status,
        pr,
        ag,
        op // us,
        pe // us,
        wc // us,
        wt // us,
        None if fr is None else (fr - created_at) // us,
        None if fs is None else (fs - created_at) // us,
        None if fu is None or status not in SOLVED else (fu - created_at) // us,
        reopens,
        open_intervals,
    )


def report_row(state: State, as_of: int) -> tuple[Any, ...]:
    """The report row of a summary state (the same arithmetic as the report's)."""
    return row_of_summary([getattr(state, name) for name in SUMMARY_FIELDS], as_of)


def as_of_micros(value: datetime) -> int:
    return to_micros(value)
