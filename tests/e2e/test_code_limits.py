"""Verification mails are limited per person (3 an hour) and per address (5 a day), durably."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import build_application, running
from bot.resources import Resources
from bot.standin import BotApiStandin, StandinUser
from tests.support.harness import (
    BOT_USERNAME,
    TOKEN,
    Harness,
    make_settings,
    migrate,
    started_bot,
)


@contextlib.asynccontextmanager
async def bot_on(standin: BotApiStandin, tmp_path: Path) -> AsyncIterator[Harness]:
    """The real bot on this test's database; leaving the block stops it (a restart is two)."""
    settings = make_settings(tmp_path, standin.url)
    await asyncio.to_thread(migrate, settings)
    resources = Resources.open(settings)
    application = build_application(resources)
    async with running(application):
        yield Harness(
            standin=standin, resources=resources, settings=settings, application=application
        )


async def codes_to(harness: Harness, address: str) -> int:
    return sum(mail.kind == "verification" for mail in await harness.mails_to(address))


async def start_registration(person: StandinUser, email: str) -> None:
    await person.send("/start")
    await person.receive_text("full name")
    await person.send(person.info["first_name"])
    await person.receive_text("email")
    await person.send(email)


async def test_fourth_code_within_an_hour_is_refused_even_after_a_restart(tmp_path) -> None:
    async with BotApiStandin(token=TOKEN, bot_username=BOT_USERNAME) as standin:
        erin = standin.user(1005, first_name="Erin")
        async with bot_on(standin, tmp_path) as harness:
            await start_registration(erin, "erin@example.com")
            await erin.receive_text("6-digit code")
            for _ in range(2):
                await erin.send("/resend")
                await erin.receive_text("new code is on its way")
            await erin.send("/resend")
            refusal = await erin.receive_text("No new code for now")
            assert "3 codes in the last hour" in refusal["text"]
            assert "ask again in 60 minutes" in refusal["text"]
            assert await codes_to(harness, "erin@example.com") == 3

        async with bot_on(standin, tmp_path) as harness:  # the limit is stored, not remembered
            await erin.send("/resend")
            await erin.receive_text("3 codes in the last hour")
            assert await codes_to(harness, "erin@example.com") == 3
            # The last code sent still works: the limit stops mails, not the registration.
            await erin.send(await harness.latest_code("erin@example.com"))
            await erin.receive_text("verified")


async def test_sixth_code_to_one_address_in_a_day_is_refused_whoever_asks(
    tmp_path, time_machine
) -> None:
    # Dialogues outlive the day this test travels through.
    async with started_bot(tmp_path, dialogue_timeout_minutes=3 * 24 * 60) as harness:
        await _sixth_code_refused(harness, time_machine)


async def _sixth_code_refused(harness: Harness, time_machine) -> None:
    victim = "victim@example.com"
    mallory, trent, oscar = (
        harness.user(i, n) for i, n in ((3001, "Mal"), (3002, "Tre"), (3003, "Osc"))
    )
    await start_registration(mallory, victim)
    await mallory.receive_text("6-digit code")
    for _ in range(2):
        await mallory.send("/resend")
        await mallory.receive_text("new code is on its way")
    await start_registration(trent, victim)
    await trent.receive_text("6-digit code")
    await trent.send("/resend")
    await trent.receive_text("new code is on its way")
    await trent.send("/resend")
    refusal = await trent.receive_text("No new code for now")
    assert "this address got 5 codes in the last day" in refusal["text"]
    assert "ask again in 24 hours" in refusal["text"]

    # Someone new asking for the same address is refused at the address question, and may
    # give another address, which gets its code.
    await start_registration(oscar, victim)
    await oscar.receive_text("this address got 5 codes")
    await oscar.send("oscar@example.com")
    await oscar.receive_text("6-digit code")
    assert await codes_to(harness, victim) == 5

    # An hour later the person's limit has passed, the address's has not.
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=61), tick=True)
    await mallory.send("/resend")
    later = await mallory.receive_text("No new code for now")
    assert "this address got 5 codes" in later["text"] and "23 hours" in later["text"]

    # A day later the address may get codes again.
    time_machine.move_to(datetime.now(UTC) + timedelta(days=1), tick=True)
    await trent.send("/resend")
    await trent.receive_text("new code is on its way")
    assert await codes_to(harness, victim) == 6
