"""Claiming due rows for one sender among several processes: one `UPDATE ... RETURNING`.

The outbox's mail sender and the Telegram delivery sender both claim what they send this way,
so two processes (the running bot and a job started from cron) never send the same row. The
claim writes a lease into the rows (their `next_try_at`, so they are not due to anyone else
until it ends) and returns them. On PostgreSQL the rows are picked `FOR UPDATE SKIP LOCKED`:
concurrent claimers skip each other's rows instead of waiting for them. On SQLite the UPDATE
holds the database's write lock, so claims simply take turns. A claimer that dies gives its
rows back when the lease ends.

With `in_order_of` (the deliveries' chat), a row is claimed only together with every older
unfinished row of its group: PostgreSQL may skip a locked older row of a chat (another claim
in progress), and claiming the newer ones would send the chat's messages out of order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, Result, Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased


def skip_locked(session: AsyncSession, due: Select[Any]) -> Select[Any]:
    """`due` with FOR UPDATE SKIP LOCKED where the database has it (PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return due.with_for_update(skip_locked=True)
    return due


async def claim(
    session: AsyncSession,
    model: Any,
    due: Select[Any],
    *,
    values: Mapping[str, Any],
    returning: Sequence[Any],
    in_order_of: str | None = None,
    unfinished: Callable[[Any], ColumnElement[bool]] | None = None,
    params: Mapping[str, Any] | None = None,
) -> Result[Any]:
    """Set `values` (the lease) on the rows `due` selects and return `returning` of them.

    `due` selects rows of `model` (what it returns is replaced by their ids). With
    `in_order_of` (the name of the column that groups rows) and `unfinished(rows)` (the
    condition, on `model` or an alias of it, of a row still to be sent), a row is left out
    when an older unfinished row of its group is not claimed with it. `params` are the values
    of `due`'s bind parameters. The caller commits.
    """
    picked = skip_locked(session, due.with_only_columns(model.id)).cte("picked")
    if session.get_bind().dialect.name == "postgresql":
        # Referenced twice below: evaluated once, so both references see the same locked rows.
        picked = picked.prefix_with("MATERIALIZED")
    statement = update(model).where(model.id == picked.c.id)
    if in_order_of is not None:
        if unfinished is None:
            raise ValueError("in_order_of needs unfinished: which older rows must come along")
        older = aliased(model)
        left_out = exists().where(
            getattr(older, in_order_of) == getattr(model, in_order_of),
            older.id < model.id,
            unfinished(older),
            older.id.not_in(select(picked.c.id)),
        )
        statement = statement.where(~left_out)
    statement = (
        statement.values(**values)
        .returning(*returning)
        .execution_options(synchronize_session=False)
    )
    return await session.execute(statement, params)
