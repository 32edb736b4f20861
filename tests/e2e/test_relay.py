"""The customer–agent relay through the real Application and the stand-in."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import delete, func, select, update

from bot import delivery
from bot.clock import utcnow
from bot.services import outbound
from storage.models import ChatMessageRef, Delivery, EmailOutbox, Message
from tests.support.harness import (
    AGENT_ID,
    Harness,
    assigned_ticket,
    customer_with_ticket,
    started_bot,
)


async def test_text_relays_both_ways_with_header(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send("My screen is blank.\nSince this morning.")
    relayed = await agent.receive()
    assert relayed["text"] == f"#{number} · Alice\nMy screen is blank.\nSince this morning."
    assert relayed["entities"][0]["type"] == "bold"

    await agent.reply(relayed, "Have you tried turning it on?")
    answer = await customer.receive()
    assert answer["text"] == f"#{number} · Sam Support\nHave you tried turning it on?"

    await agent.send(f"/reply {number} Still there?")
    await agent.receive_text("Sent to the customer")
    assert (await customer.receive())["text"].endswith("Still there?")

    await agent.send("hello?")
    await agent.receive_text("not about a ticket")


async def test_assignment_tells_agent_customer_and_queues_mail(harness: Harness) -> None:
    customer, number = await customer_with_ticket(harness)
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number} @sam")
    await harness.admin.receive_text("is assigned")
    notice = await agent.receive_text(f"#{number} · Alice is assigned to you")
    assert "Subject: Help" in notice["text"] and "Details here" in notice["text"]
    await customer.receive_text("Sam Support is now handling your ticket")
    mails = await harness.mails_to("alice@example.com")
    assert [m.kind for m in mails if m.kind.startswith("status")] == ["status:assigned"]
    # replying to the assignment notice reaches the customer too
    await agent.reply(notice, "Hi Alice, looking into it")
    assert (await customer.receive())["text"].endswith("Hi Alice, looking into it")


async def test_assign_without_agent_offers_buttons(harness: Harness) -> None:
    _, number = await customer_with_ticket(harness)
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number}")
    offer = await harness.admin.receive_text(f"Assign #{number}")
    await harness.admin.press(offer, "Sam Support (0 open)")
    await agent.receive_text("is assigned to you")
    query = await harness.admin.press_data(offer, f"assign:{number}:424242")  # not an agent
    await harness.admin.wait_until(lambda _: query in harness.standin.callback_answers)
    assert harness.standin.callback_answers[query]["text"] == "No agent 424242."


async def test_messages_before_assignment_wait_and_arrive_in_order(harness: Harness) -> None:
    customer, number = await customer_with_ticket(harness)
    for n in range(3):
        await customer.send(f"waiting {n}")
        await customer.receive_text("reaches an agent as soon as one is assigned")
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number} {AGENT_ID}")
    await agent.receive_text("is assigned to you")
    texts = [(await agent.receive())["text"] for _ in range(3)]
    assert texts == [f"#{number} · Alice\nwaiting {n}" for n in range(3)]


async def test_photo_with_caption_is_copied_and_answered(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send_photo(content=b"\x89PNG fake", caption="the error <b>here</b>")
    copied = await agent.receive()
    assert copied["photo"] and copied["caption"] == f"#{number} · Alice\nthe error <b>here</b>"
    assert harness.standin.count("copyMessage") == 1
    await agent.reply(copied, "Thanks, that helps")
    assert (await customer.receive())["text"].endswith("Thanks, that helps")
    await agent.send_document(content=b"%PDF", filename="fix.pdf", caption="Try this")
    await agent.wait_until(lambda _: True)
    # a document without a reply is not about a ticket
    await agent.receive_text("not about a ticket")


async def test_every_media_kind_reaches_the_agent(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send_document(content=b"%PDF", filename="log.pdf", caption="log")
    await customer.send_voice(content=b"ogg")
    await customer.send_video(content=b"mp4", caption="clip")
    await customer.send_sticker(content=b"webp")
    got = [await agent.receive() for _ in range(5)]
    assert "document" in got[0] and got[0]["caption"].startswith(f"#{number} · Alice")
    assert "voice" in got[1] and "video" in got[2]
    assert got[3]["text"] == f"#{number} · Alice\n(sticker)" and "sticker" in got[4]
    async with harness.resources.session_factory() as session:
        kinds = list(await session.scalars(select(Message.media_kind).order_by(Message.id)))
    assert kinds == ["document", "voice", "video", "sticker"]


async def test_several_tickets_ask_which_one(harness: Harness) -> None:
    customer, agent, first = await assigned_ticket(harness)
    second = await harness.open_ticket(customer, subject="Other thing", description="d")
    await customer.send("about the other thing")
    question = await customer.receive_text("Which ticket")
    await customer.press(question, f"#{second} Other thing")
    await customer.receive_text("reaches an agent as soon as one is assigned")
    # replying to a message of the first ticket routes there without asking
    notice = next(m for m in customer.inbox if "is now handling your ticket" in m.get("text", ""))
    await customer.reply(notice, "back to the first")
    assert (await agent.receive())["text"] == f"#{first} · Alice\nback to the first"
    await customer.press_data(question, f"pick:999:{first}")
    await asyncio.sleep(0.2)
    answers = [a.get("text") for a in harness.standin.callback_answers.values()]
    assert "This button is not valid." in answers


async def test_no_active_ticket_gets_a_hint(harness: Harness) -> None:
    customer = harness.user(1001, "Alice")
    await harness.register(customer, name="Alice", email="alice@example.com")
    await customer.send("hello")
    await customer.receive_text("Send /new to open one")


async def test_long_message_arrives_whole_in_parts(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    words = ("lorem ipsum dolor sit amet " * 200)[:4096]
    await customer.send(words)
    first, second = await agent.receive(), await agent.receive()
    assert first["text"].startswith(f"#{number} · Alice (1/2)\n")
    assert second["text"].startswith(f"#{number} · Alice (2/2)\n")
    body = [part["text"].split("\n", 1)[1] for part in (first, second)]
    assert len(first["text"]) <= 4096 and len(second["text"]) <= 4096
    assert f"{body[0]} {body[1]}" == words or body[0] + body[1] == words
    # the agent can reply to either part
    await agent.reply(second, "Got it all")
    assert (await customer.receive())["text"].endswith("Got it all")
    async with harness.resources.session_factory() as session:
        row = (
            await session.execute(
                select(Delivery.status, Delivery.parts_sent)
                .where(Delivery.chat_id == AGENT_ID)
                .order_by(Delivery.id.desc())
                .limit(1)
            )
        ).one()  # the long message: the last row queued for the agent
    assert tuple(row) == ("sent", 2)


async def test_faults_deliver_exactly_once_in_order(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    faults = harness.standin.faults
    faults.add("sendMessage", "429", retry_after=1, times=3, chat_id=AGENT_ID)
    faults.add("sendMessage", "502", times=2, chat_id=AGENT_ID)
    faults.add("sendMessage", "timeout", times=1, chat_id=AGENT_ID)
    for n in range(5):
        await customer.send(f"message {n}")
    texts = [(await agent.receive(timeout=30))["text"] for _ in range(5)]
    assert texts == [f"#{number} · Alice\nmessage {n}" for n in range(5)]
    await asyncio.sleep(1)
    relayed = [m for m in agent.inbox if (m.get("text") or "").startswith(f"#{number} · Alice\n")]
    assert len(relayed) == 5
    async with harness.resources.session_factory() as session:
        rows = (await session.execute(select(Delivery.status, Delivery.last_error))).all()
        unstamped = await session.scalar(select(Delivery.id).where(Delivery.sent_at.is_(None)))
    # sent in the end: the errors of the failed tries are cleared, the time of sending stored
    assert set(rows) == {("sent", None)} and unstamped is None


async def test_redelivered_update_is_stored_once(harness: Harness) -> None:
    customer, agent, _number = await assigned_ticket(harness)
    await harness.standin.wait_acknowledged()
    await harness.application.updater.stop()
    sent = await customer.send("only once")
    update_id = harness.standin.store.updates[-1]["update_id"]
    harness.standin.push_update({"update_id": update_id, "message": sent})
    await harness.application.updater.start_polling(poll_interval=0, timeout=1)
    await agent.receive_text("only once")
    await harness.standin.wait_acknowledged()
    await asyncio.sleep(0.5)
    assert len([m for m in agent.inbox if "only once" in (m.get("text") or "")]) == 1
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 1
        assert await session.scalar(select(func.count()).select_from(EmailOutbox)) >= 1


async def test_rate_limiter_keeps_the_bot_within_telegrams_overall_limit(tmp_path) -> None:
    async with started_bot(tmp_path, rate_limiter=True) as harness:
        chats = range(5000, 5090)
        for chat_id in chats:
            harness.standin.store.register_chat(
                {"id": chat_id, "type": "private", "first_name": "C"}
            )
        async with harness.resources.session_factory() as session:
            for chat_id in chats:
                await outbound.queue_text(session, chat_id=chat_id, text="notice")
            await session.commit()
        before = len(harness.standin.calls)
        harness.application.bot_data.delivery.kick()
        for chat_id in chats:
            await harness.standin.user(chat_id).wait_until(lambda inbox: inbox, timeout=20)
        sends = [
            at
            for (method, _, _), at in zip(
                harness.standin.calls[before:],
                harness.standin.store.call_times[before:],
                strict=True,
            )
            if method == "sendMessage"
        ]
    # AIORateLimiter: a burst of 30, then 30 a second; 90 sends need at least 2 seconds.
    assert len(sends) == 90
    assert sends[-1] - sends[0] >= 1.9


async def test_a_backlog_longer_than_one_batch_goes_out_in_one_pass(harness: Harness) -> None:
    chats = range(7000, 7004)
    for chat_id in chats:
        harness.standin.store.register_chat({"id": chat_id, "type": "private", "first_name": "C"})
    per_chat = delivery.BATCH // 2  # twice a batch over four chats
    async with harness.resources.session_factory() as session:
        for n in range(per_chat):
            for chat_id in chats:
                await outbound.queue_text(session, chat_id=chat_id, text=f"notice {n}")
        await session.commit()

    await harness.application.bot_data.delivery.sweep()

    assert await delivery.pending_count(harness.resources.session_factory) == 0
    for chat_id in chats:
        texts = [m["text"] for m in harness.standin.user(chat_id).inbox]
        assert texts == [f"notice {n}" for n in range(per_chat)]


async def test_a_held_chat_with_a_long_backlog_does_not_hold_other_chats(harness: Harness) -> None:
    held, other = 7100, 7101
    for chat_id in (held, other):
        harness.standin.store.register_chat({"id": chat_id, "type": "private", "first_name": "C"})
    async with harness.resources.session_factory() as session:
        for n in range(delivery.BATCH + 10):
            await outbound.queue_text(session, chat_id=held, text=f"held {n}")
        for n in range(3):
            await outbound.queue_text(session, chat_id=other, text=f"other {n}")
        first = await session.scalar(select(func.min(Delivery.id)).where(Delivery.chat_id == held))
        # Telegram said "retry after an hour" for the held chat's oldest row.
        await session.execute(
            update(Delivery)
            .where(Delivery.id == first)
            .values(next_try_at=utcnow() + timedelta(hours=1))
        )
        await session.commit()

    await harness.application.bot_data.delivery.sweep()

    assert [m["text"] for m in harness.standin.user(other).inbox] == [
        f"other {n}" for n in range(3)
    ]
    assert harness.standin.user(held).inbox == []
    assert await delivery.pending_count(harness.resources.session_factory) == delivery.BATCH + 10


async def test_a_message_does_not_wait_for_another_chats_backlog(harness: Harness) -> None:
    customer, agent, _ = await assigned_ticket(harness)
    busy = harness.user(7200, "Busy")
    await busy.send("/help")  # the stand-in knows the chat
    await busy.receive()
    harness.standin.latency = 0.05  # each Bot API call: 50 ms
    async with harness.resources.session_factory() as session:
        for n in range(40):  # two seconds of sending to one chat
            await outbound.queue_text(session, chat_id=busy.id, text=f"notice {n}")
        await session.commit()
    harness.application.bot_data.delivery.kick()
    await busy.wait_until(lambda inbox: len(inbox) >= 3)

    await customer.send("Urgent, please")
    await agent.receive_text("Urgent, please", timeout=1)
    assert len(busy.inbox) < 20  # sent while the other chat's backlog is still going out


async def test_rows_queued_for_a_busy_chat_follow_without_the_sweep(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    harness.standin.latency = 0.02
    for n in range(30):  # each message is queued while the agent's chat is being sent to
        await customer.send(f"part {n}")

    def parts(inbox: list[dict]) -> list[str]:
        return [m["text"] for m in inbox if "part " in (m.get("text") or "")]

    # well before the next sweep (every 5 s) would pick up a forgotten row
    inbox = await agent.wait_until(lambda inbox: len(parts(inbox)) >= 30, timeout=3)
    assert parts(inbox) == [f"#{number} · Alice\npart {n}" for n in range(30)]


async def test_a_reply_finds_its_ticket_by_the_header_while_no_reference_is_stored(
    harness: Harness,
) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send("Is anyone there?")
    relayed = await agent.receive_text("Is anyone there?")
    # as if the send's confirmation had not been stored yet (or a crash had lost it)
    refs = select(func.count()).select_from(ChatMessageRef)
    refs = refs.where(ChatMessageRef.telegram_message_id == relayed["message_id"])
    async with harness.resources.session_factory() as session:
        for _ in range(200):
            if await session.scalar(refs):
                break
            await session.rollback()  # the next read sees new commits
            await asyncio.sleep(0.02)
        else:
            raise AssertionError("the relayed message's reference was never stored")
        await session.execute(delete(ChatMessageRef))
        await session.commit()

    await agent.reply(relayed, "Yes, here.")
    assert (await customer.receive())["text"] == f"#{number} · Sam Support\nYes, here."


async def test_a_header_does_not_open_someone_elses_ticket(harness: Harness) -> None:
    customer, _agent, number = await assigned_ticket(harness)
    other = harness.user(AGENT_ID + 1, "Olga", "olga")
    await harness.add_agent(other, "Olga Other")
    # a message in Olga's chat that starts like a relayed one of a ticket she does not have
    lookalike = harness.standin.store.bot_message(other.chat, {"text": f"#{number} · Alice\nhi"})

    await other.reply(lookalike, "Let me in")
    await other.receive_text(f"You have no ticket #{number}.")
    await asyncio.sleep(0.3)
    assert not [m for m in customer.inbox if "Let me in" in (m.get("text") or "")]
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0
