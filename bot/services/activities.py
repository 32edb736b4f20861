"""The single write path of ticket history, in Freshdesk's activity shape (metrics.md).

Every activity also brings the ticket's summary row (`ticket_summaries`) up to date in the same
transaction, so reports read one row per ticket instead of replaying the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot.clock import utcnow_seconds
from bot.reports import metrics
from storage.models import Activity, TicketSummary
from storage.types import from_micros, to_micros

TELEGRAM = "telegram"
USER = "user"
SYSTEM = "system"

_TIME_FIELDS = frozenset(
    {
        "created_at",
        "last_at",
        "status_since",
        "first_response_at",
        "first_resolution_at",
        "full_resolution_at",
        "end_at",
    }
)


# Keys whose presence changes more of the summary than its count, last time and first response.
_SUMMARY_KEYS = ("status", "priority", "agent_id", "requester", "rating")


async def record(
    session: AsyncSession,
    *,
    ticket_id: int,
    activity: dict[str, Any],
    performer_id: int | None,
    performer_type: str = USER,
    at: datetime | None = None,
    source: str = TELEGRAM,
) -> None:
    """Write one activity of a ticket; `performer_id` is a Telegram user id (None for jobs)."""
    performed_at = (at or utcnow_seconds()).replace(microsecond=0)
    await session.execute(
        _INSERT,
        {
            "source": source,
            "ticket_id": ticket_id,
            "performed_at": performed_at,
            "performer_type": performer_type,
            "performer_id": performer_id,
            "activity": activity,
        },
    )
    if await _append(
        session, source, ticket_id, performed_at, performer_type, performer_id, activity
    ):
        return
    await _update_summary(
        session,
        source=source,
        ticket_id=ticket_id,
        at=to_micros(performed_at),
        performer_type=performer_type,
        performer_id=performer_id,
        activity=activity,
    )


_ACTIVITIES = Activity.__table__
_SUMMARIES = TicketSummary.__table__
_INSERT = insert(_ACTIVITIES)


def _append_statements() -> dict[str, Any]:
    """The UPDATEs of `_append`, built once (a statement built per call costs more than SQLite
    takes to run it): plain, and with the first-response rule with or without a performer."""
    s = _SUMMARIES.c
    at = bindparam("b_at", type_=s.last_at.type)  # a Timestamp (microseconds), also inside CASE
    plain = (
        update(_SUMMARIES)
        .where(
            s.source == bindparam("b_source"),
            s.ticket_id == bindparam("b_ticket_id"),
            s.last_at <= at,
            s.activity_count > 0,
        )
        .values(activity_count=s.activity_count + 1, last_at=at)
    )
    # metrics.apply: not the first activity (the row exists, so the count is above 0), no
    # first response yet, and not written by the requester.
    anyone = s.first_response_at.is_(None)
    not_requester = anyone & or_(s.requester.is_(None), s.requester != bindparam("b_performer"))
    return {
        "plain": plain,
        "anyone": plain.values(first_response_at=case((anyone, at), else_=s.first_response_at)),
        "not_requester": plain.values(
            first_response_at=case((not_requester, at), else_=s.first_response_at)
        ),
    }


_APPEND = _append_statements()


async def _append(
    session: AsyncSession,
    source: str,
    ticket_id: int,
    performed_at: datetime,
    performer_type: str,
    performer_id: int | None,
    activity: dict[str, Any],
) -> bool:
    """The common case in one UPDATE: an activity that only adds to the end of the history
    (no status, priority, agent, requester or rating; not earlier than the last one) changes
    the count, the last time and perhaps the first response, exactly as metrics.apply would.

    False when it does not apply (or the row is already loaded in the session, which the
    UPDATE would leave stale): the caller takes the general path.
    """
    if any(activity.get(key) is not None for key in _SUMMARY_KEYS):
        return False
    if identity_key(TicketSummary, (source, ticket_id)) in session.identity_map:
        return False
    params: dict[str, Any] = {"b_source": source, "b_ticket_id": ticket_id, "b_at": performed_at}
    statement = _APPEND["plain"]
    if performer_type != metrics.SYSTEM and metrics.is_public_note(activity):
        statement = _APPEND["anyone"]
        if performer_id is not None:
            statement = _APPEND["not_requester"]
            params["b_performer"] = performer_id
    result = await session.execute(statement, params)
    return result.rowcount == 1


async def _update_summary(
    session: AsyncSession,
    *,
    source: str,
    ticket_id: int,
    at: int,
    performer_type: str,
    performer_id: int | None,
    activity: dict[str, Any],
) -> None:
    """Fold the new activity into the ticket's summary, or recompute the ticket when the
    activity is out of order or names a different requester (both change earlier answers)."""
    summary = await session.get(TicketSummary, (source, ticket_id))
    requester = activity.get("requester")
    if (
        summary is None
        or at < to_micros(summary.last_at)
        or (requester is not None and int(requester) != summary.requester)
    ):
        await recompute(session, source=source, ticket_id=ticket_id, summary=summary)
        return
    state = state_of(summary)
    metrics.apply(
        state,
        at=at,
        performer_type=performer_type,
        performer_id=performer_id,
        activity=activity,
        requester=state.requester,
    )
    _store(summary, state)
    await session.flush()


async def recompute(
    session: AsyncSession,
    *,
    source: str,
    ticket_id: int,
    summary: TicketSummary | None = None,
) -> TicketSummary | None:
    """Rebuild one ticket's summary row from all its activities (the full recomputation)."""
    if summary is None:
        summary = await session.get(TicketSummary, (source, ticket_id))
    state = await compute(session, source=source, ticket_id=ticket_id)
    if state.activity_count == 0:
        if summary is not None:
            await session.delete(summary)
            await session.flush()
        return None
    if summary is None:
        summary = TicketSummary(source=source, ticket_id=ticket_id)
        session.add(summary)
    else:
        state.end_at = None if summary.end_at is None else to_micros(summary.end_at)
    _store(summary, state)
    await session.flush()
    return summary


async def compute(session: AsyncSession, *, source: str, ticket_id: int) -> metrics.State:
    """The ticket's summary computed in Python from all its activities (not stored)."""
    result = await session.execute(
        select(
            Activity.id,
            Activity.performed_at,
            Activity.performer_type,
            Activity.performer_id,
            Activity.activity,
        )
        .where(Activity.source == source, Activity.ticket_id == ticket_id)
        .order_by(Activity.performed_at, Activity.id)
    )
    acts = [
        metrics.Act(
            at=to_micros(performed_at),
            id=id_,
            performer_type=performer_type,
            performer_id=performer_id,
            activity=activity,
        )
        for id_, performed_at, performer_type, performer_id, activity in result
    ]
    return metrics.compute(source, ticket_id, acts)


def state_of(summary: TicketSummary) -> metrics.State:
    """The stored summary row as the rules' state (times in microseconds)."""
    values = {}
    for name in metrics.STATE_FIELDS:
        value = getattr(summary, name)
        if name in _TIME_FIELDS and value is not None:
            value = to_micros(value)
        values[name] = value
    return metrics.State(**values)


def _store(summary: TicketSummary, state: metrics.State) -> None:
    for name in metrics.STATE_FIELDS:
        if name in ("source", "ticket_id"):
            continue
        value = getattr(state, name)
        if name in _TIME_FIELDS and value is not None:
            value = from_micros(value)
        setattr(summary, name, value)
