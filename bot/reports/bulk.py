"""Summary rows computed in bulk with window functions (after an import).

One statement through SQLAlchemy Core, the same on SQLite and PostgreSQL: times are BIGINT
microseconds, so durations are integer subtractions. The tickets to recompute are listed in a
temporary scope table; their summary rows are replaced by ones computed from all of their
activities (so an overlapping import still counts every activity once).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    case,
    cast,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateTable

from bot.reports.metrics import OPEN, SOLVED, SYSTEM, TIMED
from storage.models import Activity, TicketSummary

A = Activity.__table__
S = TicketSummary.__table__

scope = Table(
    "report_scope",
    MetaData(),
    Column("source", String(16), primary_key=True),
    Column("ticket_id", BigInteger, primary_key=True),
    Column("end_at", BigInteger),
    prefixes=["TEMPORARY"],
)


async def open_scope(session: AsyncSession) -> None:
    """Create (if needed) and empty the temporary table of tickets to recompute."""
    await session.execute(CreateTable(scope, if_not_exists=True))
    await session.execute(delete(scope))


async def add_to_scope(session: AsyncSession, rows: list[dict]) -> None:
    """Rows of {source, ticket_id, end_at} (each ticket once)."""
    if rows:
        await session.execute(insert(scope), rows)


def _last_given(key: str):
    """The last non-null value of `activity[key]` in the scoped ticket's sorted activities."""
    a = A.alias(f"last_{key}")
    value = cast(a.c.activity[key].as_string(), BigInteger)
    return (
        select(value)
        .where(
            a.c.source == scope.c.source,
            a.c.ticket_id == scope.c.ticket_id,
            # a cheap test of the text first: most activities do not name the key at all
            cast(a.c.activity, Text).like(f'%"{key}"%'),
            a.c.activity[key].as_string().is_not(None),
        )
        .order_by(a.c.performed_at.desc(), a.c.id.desc())
        .limit(1)
        .scalar_subquery()
        .label(key)
    )


def _activities():
    """The scoped tickets' activities, each with its time, performer, the status it names, whether
    it is a public note, and its place in the ticket's sorted activities (`rn`)."""
    t = type_coerce(A.c.performed_at, BigInteger)
    note = A.c.activity["note"].as_string()
    private = A.c.activity[("note", "private")].as_boolean()
    ticket = (A.c.source, A.c.ticket_id)
    return (
        select(
            A.c.source,
            A.c.ticket_id,
            A.c.id,
            t.label("t"),
            A.c.performer_type.label("ptype"),
            A.c.performer_id.label("pid"),
            A.c.activity["status"].as_string().label("st"),
            case(
                (and_(note.is_not(None), func.coalesce(private, false()) == false()), 1),
                else_=0,
            ).label("pub"),
            func.row_number().over(partition_by=ticket, order_by=(t, A.c.id)).label("rn"),
        )
        .join_from(A, scope, and_(A.c.source == scope.c.source, A.c.ticket_id == scope.c.ticket_id))
        .cte("base")
    )


def _ticket_facts():
    """Per scoped ticket: its end time and the last requester, priority, agent and rating."""
    return select(
        scope.c.source,
        scope.c.ticket_id,
        scope.c.end_at,
        _last_given("requester"),
        _last_given("priority"),
        _last_given("agent_id"),
        _last_given("rating"),
    ).cte("tk")


def _status_changes(base):
    """The activities that change the status in force (metrics.md), each with the status before
    it (`prev`) and the time of the next change (`nxt`, None for the last: the open interval)."""
    b_ticket = (base.c.source, base.c.ticket_id)
    b_order = (base.c.t, base.c.id)
    statuses = (
        select(
            base,
            func.lag(base.c.st).over(partition_by=b_ticket, order_by=b_order).label("prev"),
        )
        .where(base.c.st.is_not(None))
        .subquery("statuses")
    )
    s_ticket = (statuses.c.source, statuses.c.ticket_id)
    return (
        select(
            statuses,
            func.lead(statuses.c.t)
            .over(partition_by=s_ticket, order_by=(statuses.c.t, statuses.c.id))
            .label("nxt"),
        )
        .where(or_(statuses.c.prev.is_(None), statuses.c.prev != statuses.c.st))
        .subquery("changes")
    )


def _responder(rel, tk):
    """An activity that may be a first response: not the first, nor a job's, nor the requester's."""
    return and_(
        rel.c.rn > 1,
        rel.c.ptype != SYSTEM,
        or_(tk.c.requester.is_(None), rel.c.pid.is_(None), rel.c.pid != tk.c.requester),
    )


def _by_changes(c, tk):
    """Per ticket, from its status changes: the status in force and since when, the time in each
    status, the first response by a status change, first and full resolution, reopens."""
    solved = c.c.st.in_(sorted(SOLVED))
    sums = [
        func.sum(
            case((and_(c.c.st == status, c.c.nxt.is_not(None)), c.c.nxt - c.c.t), else_=0)
        ).label(attr)
        for status, (attr, _) in TIMED.items()
    ]
    return (
        select(
            c.c.source,
            c.c.ticket_id,
            func.max(case((c.c.nxt.is_(None), c.c.st))).label("status"),
            func.max(case((c.c.nxt.is_(None), c.c.t))).label("status_since"),
            *sums,
            func.min(case((and_(_responder(c, tk), c.c.st != OPEN), c.c.t))).label("fr_status"),
            func.min(case((solved, c.c.t))).label("first_resolution_at"),
            func.max(
                case(
                    (and_(solved, or_(c.c.prev.is_(None), c.c.prev.not_in(sorted(SOLVED)))), c.c.t)
                )
            ).label("full_resolution_at"),
            func.sum(
                case(
                    (and_(c.c.prev.in_(sorted(SOLVED)), c.c.st.not_in(sorted(SOLVED))), 1), else_=0
                )
            ).label("reopens"),
        )
        .join_from(c, tk, and_(c.c.source == tk.c.source, c.c.ticket_id == tk.c.ticket_id))
        .group_by(c.c.source, c.c.ticket_id)
        .subquery("by_changes")
    )


def _by_activities(base, tk):
    """Per ticket, from all its activities: creation, last activity, count, and the first
    response by a public note."""
    return (
        select(
            base.c.source,
            base.c.ticket_id,
            func.min(base.c.t).label("created_at"),
            func.max(base.c.t).label("last_at"),
            func.count().label("activity_count"),
            func.min(case((and_(_responder(base, tk), base.c.pub == 1), base.c.t))).label(
                "fr_note"
            ),
        )
        .join_from(base, tk, and_(base.c.source == tk.c.source, base.c.ticket_id == tk.c.ticket_id))
        .group_by(base.c.source, base.c.ticket_id)
        .subquery("by_rows")
    )


def summary_select():
    """SELECT producing one summary row (ticket_summaries' columns) per scoped ticket: the
    named parts above joined, the first response the earlier of its two kinds."""
    base = _activities()
    tk = _ticket_facts()
    g = _by_changes(_status_changes(base), tk)
    r = _by_activities(base, tk)
    first_response = case(
        (g.c.fr_status.is_(None), r.c.fr_note),
        (r.c.fr_note.is_(None), g.c.fr_status),
        (g.c.fr_status < r.c.fr_note, g.c.fr_status),
        else_=r.c.fr_note,
    )
    zero = literal(0, BigInteger)
    return (
        select(
            tk.c.source,
            tk.c.ticket_id,
            r.c.created_at,
            r.c.last_at,
            r.c.activity_count,
            g.c.status,
            g.c.status_since,
            *(func.coalesce(g.c[attr], zero).label(attr) for attr, _ in TIMED.values()),
            first_response.label("first_response_at"),
            g.c.first_resolution_at,
            g.c.full_resolution_at,
            func.coalesce(g.c.reopens, literal(0, Integer)).label("reopens"),
            tk.c.priority,
            tk.c.agent_id,
            tk.c.requester,
            tk.c.rating,
            tk.c.end_at,
        )
        .join_from(tk, r, and_(r.c.source == tk.c.source, r.c.ticket_id == tk.c.ticket_id))
        .outerjoin(g, and_(g.c.source == tk.c.source, g.c.ticket_id == tk.c.ticket_id))
    )


SUMMARY_COLUMNS = (
    "source",
    "ticket_id",
    "created_at",
    "last_at",
    "activity_count",
    "status",
    "status_since",
    *(attr for attr, _ in TIMED.values()),
    "first_response_at",
    "first_resolution_at",
    "full_resolution_at",
    "reopens",
    "priority",
    "agent_id",
    "requester",
    "rating",
    "end_at",
)


async def recompute_scope(session: AsyncSession) -> None:
    """Replace the summary rows of the scoped tickets by ones computed from their activities.

    A ticket keeps the latest `end_at` of the files it came from.
    """
    in_scope = exists().where(S.c.source == scope.c.source, S.c.ticket_id == scope.c.ticket_id)
    old = (
        select(type_coerce(S.c.end_at, BigInteger))
        .where(S.c.source == scope.c.source, S.c.ticket_id == scope.c.ticket_id)
        .scalar_subquery()
    )
    await session.execute(
        update(scope).values(
            end_at=case(
                (
                    and_(old.is_not(None), or_(scope.c.end_at.is_(None), old > scope.c.end_at)),
                    old,
                ),
                else_=scope.c.end_at,
            )
        )
    )
    await session.execute(delete(S).where(in_scope))
    await session.execute(
        insert(S).from_select([S.c[name] for name in SUMMARY_COLUMNS], summary_select())
    )
    await session.execute(delete(scope))
