"""Claiming a job's period in the job-runs table: a unique (job, period) insert, one winner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.email.mails import insert_ignoring
from storage.db import SessionFactory
from storage.models import JobRun

T = TypeVar("T")

RUNNING = "running"
DONE = "done"
FAILED = "failed"

STALE_AFTER = timedelta(hours=1)  # a run still "running" this long died (SIGKILL): take it over


@dataclass(frozen=True)
class Claim:
    id: int
    job: str
    period: str


async def claim(
    session: AsyncSession,
    *,
    job: str,
    period: str,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
) -> Claim | None:
    """Claim (job, period) for this run; None when it is done or being run elsewhere.

    A failed run, or one left running by a dead process for STALE_AFTER, is taken over by an
    update guarded on its old state, so two claimers still cannot both win.
    """
    now = utcnow()
    values = {
        "job": job,
        "period": period,
        "status": RUNNING,
        "started_at": now,
        "window_start": window_start,
        "window_end": window_end,
    }
    inserted = await session.execute(
        insert_ignoring(session, JobRun, "job", "period").values(values).returning(JobRun.id)
    )
    run_id = inserted.scalar()
    if run_id is not None:
        return Claim(run_id, job, period)
    existing = (
        await session.execute(
            select(JobRun.id, JobRun.status, JobRun.started_at).where(
                JobRun.job == job, JobRun.period == period
            )
        )
    ).one()
    stale = existing.status == RUNNING and existing.started_at <= now - STALE_AFTER
    if existing.status != FAILED and not stale:
        return None
    taken = await session.execute(
        update(JobRun)
        .where(
            JobRun.id == existing.id,
            JobRun.status == existing.status,
            JobRun.started_at == existing.started_at,
        )
        .values(
            status=RUNNING,
            started_at=now,
            window_start=window_start,
            window_end=window_end,
            finished_at=None,
        )
    )
    return Claim(existing.id, job, period) if taken.rowcount == 1 else None


async def run_window(
    session_factory: SessionFactory,
    *,
    job: str,
    period: str,
    now: datetime,
    first_window: timedelta,
    work: Callable[[AsyncSession, datetime], Awaitable[tuple[T, dict[str, Any]]]],
) -> tuple[datetime, T] | None:
    """Run `work` once for (job, period): claim the period, read where the previous successful
    run stopped (else `first_window` before `now`), then `work(session, start)` in a
    transaction of its own that also records the run done with the detail `work` returns; if
    it fails, the run is recorded failed (a later run takes it over) and the error raised.
    None: the period is done, or being run elsewhere."""
    async with session_factory() as session:
        async with session.begin():
            claimed = await claim(session, job=job, period=period, window_end=now)
            if claimed is None:
                return None
            start = await last_window_end(session, job=job) or now - first_window
            await set_window(session, claimed, start=start, end=now)
        try:
            async with session.begin():
                result, detail = await work(session, start)
                await finish(session, claimed, detail=detail)
        except BaseException as exc:
            async with session_factory() as failed, failed.begin():
                await finish(failed, claimed, status=FAILED, detail={"error": type(exc).__name__})
            raise
    return start, result


async def finish(
    session: AsyncSession, run: Claim, *, status: str = DONE, detail: dict[str, Any] | None = None
) -> None:
    await session.execute(
        update(JobRun)
        .where(JobRun.id == run.id)
        .values(status=status, finished_at=utcnow(), detail=detail)
    )


async def last_window_end(session: AsyncSession, *, job: str) -> datetime | None:
    """Where the previous successful run of `job` stopped reading."""
    return await session.scalar(
        select(func.max(JobRun.window_end)).where(JobRun.job == job, JobRun.status == DONE)
    )


def iso_week(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


async def is_done(session: AsyncSession, *, job: str, period: str) -> bool:
    status = await session.scalar(
        select(JobRun.status).where(JobRun.job == job, JobRun.period == period)
    )
    return status == DONE


async def set_window(session: AsyncSession, run: Claim, *, start: datetime, end: datetime) -> None:
    await session.execute(
        update(JobRun).where(JobRun.id == run.id).values(window_start=start, window_end=end)
    )
