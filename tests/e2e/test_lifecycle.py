"""Statuses, notes, closing and rating, through the real Application."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Activity, Message, Ticket
from tests.support.harness import Harness, assigned_ticket, customer_with_ticket


async def history(harness: Harness, number: int) -> list[tuple[str, int | None, dict]]:
    async with harness.resources.session_factory() as session:
        rows = await session.scalars(
            select(Activity).where(Activity.ticket_id == number).order_by(Activity.id)
        )
        return [(a.performer_type, a.performer_id, a.activity) for a in rows]


async def ticket(harness: Harness, number: int) -> Ticket:
    async with harness.resources.session_factory() as session:
        return await session.get(Ticket, number)


async def test_every_status_change_is_told_and_recorded(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    for arg, name in [
        ("pending", "Pending"),
        ("waiting-third-party", "Waiting for Third Party"),
        ("waiting-customer", "Waiting for Customer"),
        ("open", "Open"),
    ]:
        await agent.send(f"/status {number} {arg}")
        await agent.receive_text(f"→ {name}")
        told = await customer.receive_text(f"#{number}")
        assert f"is now {name}" in told["text"]
    await agent.send(f"/status {number} open")
    await agent.receive_text("already Open")
    await agent.send(f"/status {number} sideways")
    await agent.receive_text("Usage: /status N")
    await agent.send(f"/resolve {number}")
    await agent.receive_text("is resolved")
    await customer.receive_text("is now Resolved")
    statuses = [doc["status"] for _, _, doc in await history(harness, number) if "status" in doc]
    assert statuses == [
        "Open",
        "Pending",
        "Waiting for Third Party",
        "Waiting for Customer",
        "Open",
        "Resolved",
    ]
    mails = {m.kind for m in await harness.mails_to("alice@example.com")}
    assert {"status:assigned", "status:waiting_customer", "status:resolved"} <= mails


async def test_first_response_is_the_first_public_answer(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await agent.send(f"/note {number} customer sounds upset")
    await agent.receive_text("Internal note added")
    await customer.send("any news?")
    await agent.receive_text("any news?")
    assert (await ticket(harness, number)).first_response_at is None
    await agent.send(f"/reply {number} On it!")
    await agent.receive_text("Sent to the customer")
    first = (await ticket(harness, number)).first_response_at
    assert first is not None
    await agent.send(f"/reply {number} Still on it")
    await agent.receive_text("Sent to the customer")
    assert (await ticket(harness, number)).first_response_at == first


async def test_note_never_reaches_the_customer(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await agent.send(f"/note {number} internal: refund approved <secret>")
    await agent.receive_text("The customer does not see it")
    await agent.send(f"/reply {number} visible answer")
    await customer.receive_text("visible answer")
    assert not [m for m in customer.inbox if "refund approved" in (m.get("text") or "")]
    notes = [doc for _, _, doc in await history(harness, number) if "note" in doc]
    assert {"id": notes[0]["note"]["id"], "type": 2, "private": True} == notes[0]["note"]
    async with harness.resources.session_factory() as session:
        kinds = list(await session.scalars(select(Message.kind).order_by(Message.id)))
    assert kinds == ["note", "agent"]


async def test_customer_closes_and_rates_with_comment(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send(f"/close {number}")
    await customer.receive_text(f"Ticket #{number} is closed")
    prompt = await customer.receive_text("Rate it from 1")
    labels = [b["text"] for b in prompt["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["1", "2", "3", "4", "5"]
    await agent.receive_text("the customer changed the status to Closed")
    await customer.press(prompt, "4")
    await customer.receive_text("Send a comment, or /skip")
    await customer.send("Quick and friendly")
    await customer.receive_text("Thank you for the feedback")
    closed = await ticket(harness, number)
    assert (closed.status, closed.rating, closed.rating_comment) == (
        "Closed",
        4,
        "Quick and friendly",
    )
    assert ("user", 1001, {"rating": 4}) in await history(harness, number)
    await customer.press_data(prompt, f"rate:{number}:5")  # a stale second press changes nothing
    await customer.wait_until(lambda _: len(harness.standin.callback_answers) >= 2)
    assert (await ticket(harness, number)).rating == 4


async def test_agent_close_asks_for_rating_and_skip_works(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await agent.send(f"/status {number} closed")
    await agent.receive_text("→ Closed")
    prompt = await customer.receive_text("Rate it from 1")
    await customer.press(prompt, "2")
    await customer.receive_text("or /skip")
    await customer.send("/skip")
    await customer.receive_text("Thank you!")
    assert (await ticket(harness, number)).rating == 2
    mails = {m.kind for m in await harness.mails_to("alice@example.com")}
    assert "status:closed" in mails


async def test_message_on_resolved_ticket_reopens_it(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await agent.send(f"/resolve {number}")
    await customer.receive_text("is now Resolved")
    await customer.send("It broke again")
    await customer.receive_text(f"Ticket #{number} is open again")
    assert (await agent.receive_text("It broke again"))["text"].startswith(f"#{number} · Alice")
    assert (await ticket(harness, number)).status == "Open"
    performers = [(p, doc) for _, p, doc in await history(harness, number) if "status" in doc]
    assert performers[-1] == (1001, {"status": "Open"})


async def test_closed_ticket_is_not_reopened_by_messages(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send(f"/close {number}")
    await customer.receive_text("is closed")
    await customer.send("one more thing")
    await customer.receive_text("Send /new to open one")
    await agent.send(f"/reply {number} hello?")
    await agent.receive_text("is closed")


async def test_queue_lists_open_assigned_tickets(harness: Harness) -> None:
    _customer, agent, number = await assigned_ticket(harness)
    await agent.send("/queue")
    queue = await agent.receive_text("Your open tickets")
    assert f"#{number} [Open] Help · Alice" in queue["text"]
    await agent.send(f"/resolve {number}")
    await agent.receive_text("is resolved")
    await agent.send("/queue")
    await agent.receive_text("Your queue is empty")


async def test_customer_cannot_read_or_close_another_customers_ticket(harness: Harness) -> None:
    _, number = await customer_with_ticket(harness)
    bob, _ = await customer_with_ticket(harness, telegram_id=1002, name="Bob Stone")
    await bob.send(f"/ticket {number}")
    await bob.receive_text(f"You have no ticket #{number}")
    await bob.send(f"/close {number}")
    await bob.receive_text(f"You have no ticket #{number}")
    assert (await ticket(harness, number)).status == "Open"
    await bob.press_data(bob.inbox[-1], f"rate:{number}:5")
    await bob.wait_until(lambda _: harness.standin.callback_answers)
    assert (await ticket(harness, number)).rating is None
