"""Scheduled jobs: registered on python-telegram-bot's JobQueue, or run once from the command line.

Every job opens its own sessions, isolates failures per item, and claims what must not happen
twice in the database (its period in job_runs, a ping per breach, a mail per dedupe key), so
any number of processes may run it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from apscheduler.triggers.cron import CronTrigger

from bot.config import OFF

if TYPE_CHECKING:
    from bot.email.service import Delivered
    from bot.resources import Resources

log = logging.getLogger(__name__)

JOB_NAMES = (
    "weekly-digest",
    "admin-digest",
    "sla-reminders",
    "auto-close",
    "email-outbox",
    "delivery-sweep",
)

DESCRIPTIONS = {
    "weekly-digest": "mail each customer the tickets solved since the last digest "
    "(DIGEST_SCHEDULE)",
    "admin-digest": "tickets by status, unassigned, late and per agent to the admins "
    "(ADMIN_DIGEST_SCHEDULE)",
    "sla-reminders": "ping agents whose tickets waited longer than SLA_FIRST_RESPONSE_HOURS",
    "auto-close": "close tickets Waiting for Customer for AUTO_CLOSE_DAYS (0: off)",
    "email-outbox": "send queued mails, retrying failures",
    "delivery-sweep": "retry pending Telegram deliveries",
}

# The sweep of pending Telegram deliveries: `await sweep(resources)`. The running bot passes
# its own sender's sweep; run from the command line, a one-off Bot does the sending.
DeliverySweep = Callable[["Resources"], Awaitable[Any]]

OUTBOX_INTERVAL_SECONDS = 5
SWEEP_INTERVAL_SECONDS = 5
SLA_INTERVAL_SECONDS = 5 * 60
AUTO_CLOSE_INTERVAL_SECONDS = 60 * 60
OUTBOX_BATCH = 100


class JobError(Exception):
    """A job cannot run as asked (bad input): one line for stderr, exit status 2."""


def cron(expression: str, tz: Any) -> CronTrigger | None:
    """A trigger for a cron expression (days by name) in `tz`; None for `off`."""
    if expression.strip().lower() == OFF:
        return None
    return CronTrigger.from_crontab(expression, timezone=tz)


def schedule_jobs(
    job_queue: Any, resources: Resources, *, delivery_sweep: DeliverySweep | None = None
) -> None:
    """Register every job on python-telegram-bot's JobQueue (cron ones in TIMEZONE)."""
    settings = resources.settings

    def callback(name: str) -> Callable[[Any], Awaitable[None]]:
        async def run_scheduled(_context: Any) -> None:
            try:
                await _run(
                    name,
                    resources,
                    dry_run=False,
                    from_report=None,
                    out=None,
                    delivery_sweep=delivery_sweep,
                )
            except Exception:
                log.exception("job %s failed", name)

        return run_scheduled

    for name, expression in (
        ("weekly-digest", settings.digest_schedule),
        ("admin-digest", settings.admin_digest_schedule),
    ):
        trigger = cron(expression, settings.tz)
        if trigger is not None:
            job_queue.run_custom(callback(name), job_kwargs={"trigger": trigger}, name=name)
    job_queue.run_repeating(
        callback("sla-reminders"), interval=SLA_INTERVAL_SECONDS, first=30, name="sla-reminders"
    )
    if settings.auto_close_days > 0:
        job_queue.run_repeating(
            callback("auto-close"),
            interval=AUTO_CLOSE_INTERVAL_SECONDS,
            first=60,
            name="auto-close",
        )
    job_queue.run_repeating(
        callback("email-outbox"), interval=OUTBOX_INTERVAL_SECONDS, first=1, name="email-outbox"
    )
    if delivery_sweep is not None:
        job_queue.run_repeating(
            callback("delivery-sweep"),
            interval=SWEEP_INTERVAL_SECONDS,
            first=1,
            name="delivery-sweep",
        )


async def run_job(
    name: str,
    resources: Resources,
    *,
    dry_run: bool = False,
    from_report: Path | None = None,
    out: TextIO = sys.stdout,
    delivery_sweep: DeliverySweep | None = None,
    send_mail: bool = True,
) -> int:
    """Run one job once, now, as from the command line; returns the exit status.

    The mail the job queued is sent before returning (unless `send_mail` is false: the running
    bot sends it) and counted on `out`; 1 when some could not be sent (it stays queued for a
    retry), 2 for bad input (one line on stderr).
    """
    try:
        if name not in JOB_NAMES:
            raise JobError(f"unknown job {name!r} (known: {', '.join(JOB_NAMES)})")
        if from_report is not None and name != "weekly-digest":
            raise JobError("--from-report works only with weekly-digest")
        if name == "email-outbox" and not send_mail:
            raise JobError("--queue-only: this job is the one that sends the queued mail")
        mark = None
        if send_mail and not dry_run and name != "email-outbox":
            mark = await _outbox_mark(resources)
        delivered = await _run(
            name,
            resources,
            dry_run=dry_run,
            from_report=from_report,
            out=out,
            delivery_sweep=delivery_sweep,
        )
    except JobError as exc:
        print(f"job {name}: {exc}", file=sys.stderr)
        return 2
    if mark is not None:
        delivered = await _send_outbox(resources, after_id=mark)
    if delivered is None:
        return 0
    out.write(f"{_sent_line(name, delivered)}\n")
    return 1 if delivered.failed else 0


@dataclass(frozen=True)
class _Call:
    """One run of a job: what it runs on and how it was asked to run."""

    resources: Resources
    dry_run: bool
    from_report: Path | None
    out: TextIO | None
    delivery_sweep: DeliverySweep | None


async def _weekly_digest(call: _Call) -> list[str] | None:
    from bot.jobs import digest, digest_from_report

    settings, factory = call.resources.settings, call.resources.session_factory
    if call.from_report is not None:
        result = await digest_from_report.run(
            factory, call.from_report, tz=settings.tz, dry_run=call.dry_run
        )
        job = digest_from_report.JOB
    else:
        result = await digest.run(factory, tz=settings.tz, dry_run=call.dry_run)
        job = digest.JOB
    if call.out is not None:
        digest.print_result(result, call.out, dry_run=call.dry_run, tz=settings.tz, job=job)
    return None


async def _admin_digest(call: _Call) -> list[str]:
    from bot.jobs import admin

    resources = call.resources
    return await admin.run(resources.session_factory, resources.settings, dry_run=call.dry_run)


async def _sla_reminders(call: _Call) -> list[str]:
    from bot.jobs import sla

    resources = call.resources
    lines = await sla.remind(
        resources.session_factory,
        limit_hours=resources.settings.sla_first_response_hours,
        dry_run=call.dry_run,
    )
    return lines or ["sla-reminders: no ticket past the limit needs a reminder"]


async def _auto_close(call: _Call) -> list[str]:
    from bot.jobs import autoclose

    resources = call.resources
    lines = await autoclose.run(
        resources.session_factory, days=resources.settings.auto_close_days, dry_run=call.dry_run
    )
    return lines or ["auto-close: no ticket to close"]


async def _email_outbox(call: _Call) -> list[str] | Delivered:
    if call.dry_run:
        return [await _due_line(call.resources)]
    return await _send_outbox(call.resources)


async def _delivery_sweep(call: _Call) -> list[str]:
    from bot.delivery import pending_count, sweep_once

    if call.dry_run:
        pending = await pending_count(call.resources.session_factory)
        return [f"delivery-sweep: would try {pending} pending delivery(ies)"]
    sent = await (call.delivery_sweep or sweep_once)(call.resources)
    return [f"delivery-sweep: delivered {sent}"]


# Every job by name: what it runs (it returns lines to print, or the mail it sent).
JOBS: dict[str, Callable[[_Call], Awaitable[list[str] | Delivered | None]]] = {
    "weekly-digest": _weekly_digest,
    "admin-digest": _admin_digest,
    "sla-reminders": _sla_reminders,
    "auto-close": _auto_close,
    "email-outbox": _email_outbox,
    "delivery-sweep": _delivery_sweep,
}
assert tuple(JOBS) == JOB_NAMES and set(DESCRIPTIONS) == set(JOBS)


async def _run(
    name: str,
    resources: Resources,
    *,
    dry_run: bool,
    from_report: Path | None,
    out: TextIO | None,
    delivery_sweep: DeliverySweep | None,
) -> Delivered | None:
    """Run the job; the email-outbox job returns what it sent (a dry run: None)."""
    done = await JOBS[name](_Call(resources, dry_run, from_report, out, delivery_sweep))
    if done is None or not isinstance(done, list):
        return done
    if out is not None:
        for line in done:
            out.write(f"{line}\n")
    return None


async def _due_line(resources: Resources) -> str:
    from sqlalchemy import func, select

    from bot.clock import utcnow
    from storage.models import EmailOutbox

    async with resources.session_factory() as session:
        due = await session.scalar(
            select(func.count()).where(
                EmailOutbox.status == "pending", EmailOutbox.next_try_at <= utcnow()
            )
        )
    return f"email-outbox: would try {due} due mail(s)"


async def _outbox_mark(resources: Resources) -> int:
    """The newest outbox row's id: the rows a job queues after this call have higher ids."""
    from sqlalchemy import func, select

    from storage.models import EmailOutbox

    async with resources.session_factory() as session:
        return await session.scalar(select(func.max(EmailOutbox.id))) or 0


async def _send_outbox(resources: Resources, *, after_id: int | None = None) -> Delivered:
    """Send every due mail (with an id above `after_id`), one try each; failures stay queued."""
    from bot.email.service import Delivered

    delivered = Delivered()
    while True:  # until a pass claims nothing: a failed mail waits for its retry time
        batch = await resources.email.deliver(
            resources.session_factory, limit=OUTBOX_BATCH, after_id=after_id
        )
        delivered += batch
        if not batch.sent and not batch.failed:
            return delivered
        await asyncio.sleep(0)


def _sent_line(name: str, delivered: Delivered) -> str:
    line = f"{name}: sent {delivered.sent} mail(s), {delivered.failed} failed"
    if delivered.failed:
        line += " (queued for a retry by the running bot or `job email-outbox`)"
    return line
