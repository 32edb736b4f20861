"""The team chat (TEAM_CHAT_ID): a forum supergroup where every ticket has a topic and any
agent can answer, through the real Application and the stand-in's forum supergroups."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.standin import StandinUser
from storage.models import Ticket, TicketTopic, User
from tests.support.harness import Harness, customer_with_ticket, started_bot

TEAM = -1009876543210


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[Harness]:
    async with started_bot(tmp_path, team_chat=TEAM) as running:
        yield running


def team_inbox(harness: Harness) -> list[dict]:
    return harness.standin.chat(TEAM).inbox


async def team_topic(harness: Harness, number: int) -> int:
    """The thread of ticket #number's topic in the team chat, once it is open."""
    chat = harness.standin.chat(TEAM)
    await harness.standin.store.wait_for(
        lambda: any(t.name.endswith(f"#{number} · Help") for t in chat.topics.values()), 5
    )
    return next(t.thread_id for t in chat.topics.values() if t.name.endswith(f"#{number} · Help"))


async def in_team(harness: Harness, thread: int, text: str) -> dict:
    chat = harness.standin.chat(TEAM)
    found = await harness.standin.store.wait_for(
        lambda: any(
            m.get("message_thread_id") == thread and text in (m.get("text") or "")
            for m in chat.inbox
        ),
        5,
    )
    assert found, f"no {text!r} in the team topic {thread}: {chat.inbox}"
    return next(
        m
        for m in chat.inbox
        if m.get("message_thread_id") == thread and text in (m.get("text") or "")
    )


async def agent(harness: Harness, telegram_id: int, name: str) -> StandinUser:
    user = harness.user(telegram_id, name.split()[0], name.split()[0].lower())
    await harness.add_agent(user, name)
    return user


async def test_every_ticket_has_a_team_topic_and_the_first_agent_to_write_takes_it(
    harness: Harness,
) -> None:
    sam = await agent(harness, 2001, "Sam Support")
    kim = await agent(harness, 2002, "Kim Support")
    customer, number = await customer_with_ticket(harness)
    thread = await team_topic(harness, number)
    card = await in_team(harness, thread, "Subject: Help")
    assert "Details here" in card["text"] and "first agent to write" in card["text"]

    await customer.send("Is anyone there?")
    relayed = await in_team(harness, thread, "Is anyone there?")
    assert relayed["text"] == "Is anyone there?"

    await sam.send_in_group(TEAM, "Hello Alice, Sam here.", thread=thread)
    await customer.receive_text("Sam Support is now handling your ticket")
    assert (await customer.receive_text("Sam here"))["text"].endswith("Hello Alice, Sam here.")
    async with harness.resources.session_factory() as session:
        ticket = await session.get(Ticket, number)
        sam_id = await session.scalar(select(User.id).where(User.telegram_id == 2001))
        assert ticket.agent_id == sam_id

    # Any agent may answer there; the ticket stays with the first.
    await kim.send_in_group(TEAM, "Kim adds: try a restart", thread=thread)
    assert (await customer.receive_text("Kim adds"))["text"].endswith("Kim adds: try a restart")
    # The assigned agent's own answers from the private chat show in the team topic too.
    await sam.send(f"/reply {number} One more thing")
    await sam.receive_text("Sent to the customer")
    mirrored = await in_team(harness, thread, "One more thing")
    assert mirrored["text"] == "One more thing"


async def test_other_members_and_commands_in_the_team_chat_are_ignored(harness: Harness) -> None:
    customer, number = await customer_with_ticket(harness)
    thread = await team_topic(harness, number)
    stranger = harness.user(5005, "Eve", "eve")
    await stranger.send_in_group(TEAM, "I am not an agent", thread=thread)
    sam = await agent(harness, 2001, "Sam Support")
    await sam.send_in_group(TEAM, "/resolve", thread=thread)
    await sam.send_in_group(TEAM, "in General")  # not a ticket's topic
    await sam.send_in_group(TEAM, "the real answer", thread=thread)
    answer = await customer.receive_text("the real answer")
    texts = [m.get("text") or "" for m in customer.inbox]
    assert not any("not an agent" in t or "General" in t for t in texts)
    assert answer["text"].endswith("the real answer")
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(User).where(User.telegram_id == 5005)) is None
        assert (await session.get(Ticket, number)).status == "Open"
    # The bot said nothing in the group besides the tickets' topics.
    assert all(m.get("message_thread_id") == thread for m in team_inbox(harness))


async def test_closing_closes_the_team_topic_and_reopening_reopens_it(harness: Harness) -> None:
    sam = await agent(harness, 2001, "Sam Support")
    customer, number = await customer_with_ticket(harness)
    thread = await team_topic(harness, number)
    await sam.send_in_group(TEAM, "on it", thread=thread)
    await customer.receive_text("on it")
    await sam.send(f"/status {number} closed")
    await sam.receive_text("Closed")
    topic = harness.standin.chat(TEAM).topics[thread]
    await harness.standin.store.wait_for(lambda: topic.closed, 5)
    assert topic.closed and topic.name == f"✅ #{number} · Help"
    with pytest.raises(ValueError, match="TOPIC_CLOSED"):
        await sam.send_in_group(TEAM, "closed?", thread=thread)
    await harness.admin.send(f"/status {number} open")
    await harness.admin.receive_text("Open")
    await harness.standin.store.wait_for(lambda: not topic.closed, 5)
    assert topic.name == f"#{number} · Help"
    await harness.application.bot_data.delivery.wait_idle()
    async with harness.resources.session_factory() as session:
        stored = await session.scalar(select(TicketTopic).where(TicketTopic.chat_id == TEAM))
        assert stored.thread_id == thread and stored.closed is False


async def test_private_topics_keep_working_beside_the_team_chat(tmp_path) -> None:
    async with started_bot(tmp_path, topic_mode=True, team_chat=TEAM) as harness:
        sam = await agent(harness, 2001, "Sam Support")
        customer, number = await customer_with_ticket(harness)
        thread = await team_topic(harness, number)
        await sam.send_in_group(TEAM, "taking it", thread=thread)
        await sam.wait_until(
            lambda _: any(t.name == f"#{number} · Help" for t in sam.topics.values())
        )
        private = sam.topic_named(f"#{number} · Help").thread_id
        await customer.send("hello both")
        await in_team(harness, thread, "hello both")
        mine = await sam.receive_text("hello both")
        assert mine["message_thread_id"] == private
