"""Topic mode: a forum topic per ticket in the agent's and the customer's private chats,
through the real Application and the stand-in's topics (getMe has_topics_enabled)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.standin import StandinUser
from storage.models import Delivery, TicketTopic
from tests.support.harness import AGENT_ID, Harness, customer_with_ticket, started_bot

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03"


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[Harness]:
    async with started_bot(tmp_path, topic_mode=True) as running:
        yield running


async def receive_in(user: StandinUser, thread: int | None, containing: str) -> dict:
    """The next message with that text in that topic (None: outside topics)."""
    while True:
        message = await user.receive_text(containing)
        if message.get("message_thread_id") == thread:
            return message


async def assigned_ticket(harness: Harness) -> tuple[StandinUser, StandinUser, int]:
    """As tests.support.harness.assigned_ticket, in topic mode: the card has no header."""
    customer, number = await customer_with_ticket(harness)
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number} {AGENT_ID}")
    await harness.admin.receive_text("is assigned")
    await agent.receive_text("Subject: Help")
    await customer.receive_text("is now handling your ticket")
    return customer, agent, number


async def topic_of(user: StandinUser, name: str) -> int:
    """The thread id of the live topic with that name in the user's chat, once it exists."""
    await user.wait_until(
        lambda _: any(t.name == name and not t.deleted for t in user.topics.values())
    )
    return user.topic_named(name).thread_id


async def stored_topics(harness: Harness, number: int) -> dict[int, int | None]:
    async with harness.resources.session_factory() as session:
        rows = await session.execute(
            select(TicketTopic.chat_id, TicketTopic.thread_id).where(
                TicketTopic.ticket_id == number
            )
        )
        return dict(rows.all())


async def test_assignment_opens_a_topic_at_each_side_and_messages_flow_in_them(
    harness: Harness,
) -> None:
    customer, agent, number = await assigned_ticket(harness)
    agent_topic = agent.topic_named(f"#{number} · Help")
    customer_topic = customer.topic_named(f"#{number} · Help")
    assert await stored_topics(harness, number) == {
        agent.id: agent_topic.thread_id,
        customer.id: customer_topic.thread_id,
    }
    card = agent.in_thread(agent_topic.thread_id)[1]
    assert "Subject: Help" in card["text"] and "is assigned to you" not in card["text"]

    # The customer writes in the topic: the agent gets the text alone, in the ticket's topic.
    await customer.send("The printer is on fire", thread=customer_topic.thread_id)
    relayed = await receive_in(agent, agent_topic.thread_id, "printer")
    assert relayed["text"] == "The printer is on fire" and "entities" not in relayed

    # The agent writes in the topic without replying: it reaches the customer's topic.
    await agent.send("Unplug it, please.", thread=agent_topic.thread_id)
    answer = await receive_in(customer, customer_topic.thread_id, "Unplug")
    assert answer["text"] == "Unplug it, please."
    await agent.send_photo(PNG, caption="like this", thread=agent_topic.thread_id)
    photo = await receive_in(customer, customer_topic.thread_id, "like this")
    assert "photo" in photo and photo["caption"] == "like this"

    # Outside any topic a customer with one ticket is handled as before: it reaches the topic.
    await customer.send("Done, it is off now.")
    outside = await receive_in(agent, agent_topic.thread_id, "it is off")
    assert outside["text"] == "Done, it is off now."


async def test_commands_in_a_topic_take_no_number_and_the_name_shows_the_state(
    harness: Harness,
) -> None:
    customer, agent, number = await assigned_ticket(harness)
    thread = agent.topic_named(f"#{number} · Help").thread_id
    customer_thread = customer.topic_named(f"#{number} · Help").thread_id

    await agent.send("/note the customer is nice", thread=thread)
    await agent.receive_text(f"Internal note added to #{number}")
    await agent.send("/status pending", thread=thread)
    await agent.receive_text("Pending")
    await agent.send("/ticket", thread=thread)
    await agent.receive_text(f"#{number} · Help")
    await agent.send("/reply From the command", thread=thread)
    await receive_in(customer, customer_thread, "From the command")

    await agent.send("/resolve", thread=thread)
    resolved = await agent.receive_text(f"#{number} is resolved")
    assert resolved["message_thread_id"] == thread  # the answer stays in the topic
    await agent.wait_until(lambda _: agent.topics[thread].name == f"✅ #{number} · Help")
    await customer.wait_until(
        lambda _: customer.topics[customer_thread].name == f"✅ #{number} · Help"
    )
    # The customer writes again: the ticket reopens and both names come back.
    await customer.send("It is burning again", thread=customer_thread)
    await receive_in(agent, thread, "burning again")
    await agent.wait_until(lambda _: agent.topics[thread].name == f"#{number} · Help")
    await customer.wait_until(
        lambda _: customer.topics[customer_thread].name == f"#{number} · Help"
    )


async def test_a_customer_with_two_tickets_writes_to_each_in_its_topic(harness: Harness) -> None:
    customer, agent, first = await assigned_ticket(harness)
    second = await harness.open_ticket(customer, subject="Mail", description="No mail")
    await harness.admin.send(f"/assign {second} {agent.id}")
    await harness.admin.receive_text("is assigned")
    first_topic = await topic_of(customer, f"#{first} · Help")
    second_topic = await topic_of(customer, f"#{second} · Mail")
    await customer.send("about mail", thread=second_topic)
    await customer.send("about help", thread=first_topic)
    mail = await receive_in(agent, await topic_of(agent, f"#{second} · Mail"), "about mail")
    helped = await receive_in(agent, await topic_of(agent, f"#{first} · Help"), "about help")
    assert mail["text"] == "about mail" and helped["text"] == "about help"


async def test_a_deleted_topic_gets_the_header_layout_then_a_new_topic(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    customer, agent, number = await assigned_ticket(harness)
    old = agent.topic_named(f"#{number} · Help").thread_id
    agent.delete_topic(old)
    with caplog.at_level(logging.WARNING, logger="bot.topics"):
        await customer.send("first after the deletion")
        fallback = await receive_in(agent, None, "first after")
        assert fallback["text"] == f"#{number} · Alice\nfirst after the deletion"
        await customer.send("second after the deletion")
        again = await agent.receive_text("second after")
    new = agent.topic_named(f"#{number} · Help").thread_id
    assert new != old and again["message_thread_id"] == new
    assert again["text"] == "second after the deletion"
    assert len([r for r in caplog.records if "gone" in r.getMessage()]) == 1


async def test_a_send_landing_outside_a_deleted_topic_opens_a_new_one(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    old = agent.topic_named(f"#{number} · Help").thread_id
    agent.delete_topic(old)
    harness.standin.deleted_topic_lands_in_chat = True  # the other reported behaviour
    await customer.send("lands outside")
    await receive_in(agent, None, "lands outside")
    await customer.send("next one")
    again = await agent.receive_text("next one")
    assert again["message_thread_id"] not in (None, old)


async def test_failing_topic_sends_fall_back_to_headers_and_lose_nothing(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    harness.standin.fail_topic_sends = True
    for n in range(5):
        await customer.send(f"message {n}")
    texts = []
    for n in range(5):
        texts.append((await agent.receive_text(f"message {n}"))["text"])
    assert texts == [f"#{number} · Alice\nmessage {n}" for n in range(5)]


async def test_topic_refused_at_creation_uses_headers_until_it_works(
    harness: Harness,
) -> None:
    customer, number = await customer_with_ticket(harness)
    agent = harness.user(2001, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    harness.standin.topics_enabled = False  # switched off in @BotFather while running
    await harness.admin.send(f"/assign {number} {agent.id}")
    card = await agent.receive_text("is assigned to you")
    assert card["text"].startswith(f"#{number} · Alice is assigned to you")
    assert "message_thread_id" not in card and agent.topics == {}
    harness.standin.topics_enabled = True
    await customer.send("now with topics")
    relayed = await agent.receive_text("now with topics")
    assert relayed["message_thread_id"] == agent.topic_named(f"#{number} · Help").thread_id


async def test_429_on_create_and_a_lost_answer_lose_no_message(harness: Harness) -> None:
    _, number = await customer_with_ticket(harness)
    agent = harness.user(2001, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    harness.standin.faults.add("createForumTopic", "429", retry_after=1, chat_id=agent.id)
    # The topic is created but its id never reaches the bot (as a crash between creating it
    # and storing its id): the card must still arrive, in a topic the bot knows.
    harness.standin.faults.add("createForumTopic", "drop_after_accept", chat_id=agent.id)
    await harness.admin.send(f"/assign {number} {agent.id}")
    card = await agent.receive_text("Subject: Help", timeout=15)
    await harness.application.bot_data.delivery.wait_idle()  # the send is confirmed
    async with harness.resources.session_factory() as session:
        stored = await session.scalar(
            select(TicketTopic.thread_id).where(
                TicketTopic.ticket_id == number, TicketTopic.chat_id == agent.id
            )
        )
        pending = await session.scalar(
            select(Delivery.id).where(Delivery.status == "pending", Delivery.chat_id == agent.id)
        )
    assert card["message_thread_id"] == stored and pending is None
    created = [t for t in agent.topics.values() if t.name == f"#{number} · Help"]
    assert len(created) == 2  # one left empty by the lost answer; nothing lost
    assert [m for m in agent.inbox if "Subject: Help" in (m.get("text") or "")] == [card]


async def test_topics_off_keeps_the_header_layout(tmp_path) -> None:
    from tests.support.harness import assigned_ticket as assigned_with_headers

    async with started_bot(tmp_path, topic_mode=True, topics="off") as harness:
        customer, agent, number = await assigned_with_headers(harness)
        await customer.send("no topics please")
        relayed = await agent.receive_text("no topics please")
        assert relayed["text"] == f"#{number} · Alice\nno topics please"
        assert agent.topics == {} and customer.topics == {}


async def test_reassignment_marks_the_old_agents_topic_and_opens_one_at_the_new(
    harness: Harness,
) -> None:
    customer, agent, number = await assigned_ticket(harness)
    old_thread = agent.topic_named(f"#{number} · Help").thread_id
    other = harness.user(2002, "Kim", "kim")
    await harness.add_agent(other, "Kim Support")
    await harness.admin.send(f"/assign {number} {other.id}")
    await harness.admin.receive_text("is assigned")
    await other.receive_text("Subject: Help")
    new_thread = await topic_of(other, f"#{number} · Help")
    await agent.wait_until(lambda _: agent.topics[old_thread].name == f"↪ #{number} · Help")
    await customer.send("who is there?")
    relayed = await receive_in(other, new_thread, "who is there?")
    assert relayed["text"] == "who is there?"
    assert not [m for m in agent.inbox if m.get("text") == "who is there?"]


async def test_edits_and_albums_in_topics_have_no_header(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    agent_thread = agent.topic_named(f"#{number} · Help").thread_id
    customer_thread = customer.topic_named(f"#{number} · Help").thread_id
    sent = await customer.send("teh printer", thread=customer_thread)
    copy = await receive_in(agent, agent_thread, "teh printer")
    await harness.application.bot_data.delivery.wait_idle()
    await customer.edit(sent, "the printer")
    await agent.wait_until(lambda _: copy["text"] == "the printer\n(edited)")
    await agent.send_album([PNG, PNG], caption="two photos", thread=agent_thread)
    first = await receive_in(customer, customer_thread, "two photos")
    second = await customer.receive()
    assert second["message_thread_id"] == customer_thread
    assert first["media_group_id"] == second["media_group_id"] is not None
    assert not [m for m in customer.inbox if (m.get("text") or "").startswith(f"#{number} ·")]


async def test_erasure_leaves_no_subject_in_topic_names(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    thread = agent.topic_named(f"#{number} · Help").thread_id
    await customer.send("/deleteme")
    confirm = await customer.receive_text("erase")
    await customer.press(
        confirm,
        next(
            b["text"]
            for row in confirm["reply_markup"]["inline_keyboard"]
            for b in row
            if "erase" in b["text"].lower() or "yes" in b["text"].lower()
        ),
    )
    await agent.wait_until(lambda _: agent.topics[thread].name == f"✅ #{number} · [erased]")
    await harness.application.bot_data.delivery.wait_idle()
    async with harness.resources.session_factory() as session:
        names = list(await session.scalars(select(TicketTopic.name)))
        chats = list(await session.scalars(select(TicketTopic.chat_id)))
    assert all("Help" not in name for name in names) and customer.id not in chats
