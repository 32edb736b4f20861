"""Polling's acknowledgements (bot/polling.py): nothing unprocessed is confirmed, nothing
processed runs again, and a long update does not hold up the next ones."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.polling import BATCH_WAIT_SECONDS, UpdateAcks


def updates(*ids: int) -> list[Update]:
    return [Update(update_id) for update_id in ids]


def ids(batch: list[Update]) -> list[int]:
    return [update.update_id for update in batch]


async def test_offsets_never_pass_an_update_still_being_processed() -> None:
    acks = UpdateAcks()
    assert ids(acks.new(updates(5, 6), asked=None)) == [5, 6]
    acks.processed(6)
    assert acks.offset(7) == 5  # 5 is still running: Telegram must keep it
    # Telegram gives 5 and 6 back with the new 7: only 7 is new
    assert ids(acks.new(updates(5, 6, 7), asked=5)) == [7]
    acks.processed(5)
    acks.processed(7)
    assert acks.offset(8) == 8


async def test_an_update_from_a_poll_sent_before_it_was_processed_is_not_run_again() -> None:
    acks = UpdateAcks()
    acks.new(updates(5), asked=None)
    asked = acks.offset(6)  # a long poll goes out now, with offset 5 ...
    acks.processed(5)  # ... 5 finishes meanwhile ...
    assert ids(acks.new(updates(5, 6), asked=asked)) == [6]  # ... and comes back with 6
    acks.processed(6)
    assert ids(acks.new(updates(), asked=7)) == []  # confirmed past both: forgotten
    assert ids(acks.new(updates(7), asked=7)) == [7]


async def test_the_next_poll_waits_for_a_slow_update_only_briefly() -> None:
    acks = UpdateAcks()
    acks.new(updates(1), asked=None)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await acks.all_processed(BATCH_WAIT_SECONDS)
    assert loop.time() - began < BATCH_WAIT_SECONDS + 0.05
    acks.processed(1)
    began = loop.time()
    await acks.all_processed(10)
    assert loop.time() - began < 0.01
