from __future__ import annotations

from sqlalchemy import select

from storage.models import Activity, Ticket
from tests.support.harness import Harness


async def test_new_ticket_dialogue_opens_ticket_with_priority(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    number = await harness.open_ticket(
        alice, subject="Printer on fire", description="It is really on fire.", priority="Urgent"
    )
    async with harness.resources.session_factory() as session:
        ticket = await session.get(Ticket, number)
        history = list(await session.scalars(select(Activity).where(Activity.ticket_id == number)))
    assert (ticket.subject, ticket.priority, ticket.status) == ("Printer on fire", 4, "Open")
    assert [a.activity for a in history] == [{"status": "Open", "priority": 4, "requester": 1001}]
    assert history[0].performer_id == 1001 and history[0].performer_type == "user"

    await alice.send("/tickets")
    listing = await alice.receive_text("Your tickets")
    assert f"#{number} [Open] Printer on fire" in listing["text"]
    await alice.send(f"/ticket {number}")
    card = await alice.receive_text(f"#{number}")
    assert "Priority: Urgent" in card["text"] and "It is really on fire." in card["text"]


async def test_over_long_subject_is_refused_and_nothing_is_opened(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    await alice.send("/new")
    await alice.receive_text("subject")
    await alice.send("S" * 151)
    await alice.receive_text("at most 150")
    await alice.send("/cancel")
    await alice.receive_text("no ticket was opened")
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(Ticket)) is None


async def test_forged_priority_button_is_refused(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    await alice.send("/new")
    await alice.receive_text("subject")
    await alice.send("Subject")
    await alice.receive_text("Describe")
    await alice.send("Description")
    buttons = await alice.receive_text("How urgent")
    await alice.press_data(buttons, "new:deadbeef:high")
    await alice.press_data(buttons, "assign:1:2")
    await alice.press_data(buttons, "totally-unknown")
    nonce = buttons["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1]
    await alice.press_data(buttons, f"new:{nonce}:mega")
    await harness.standin.wait_acknowledged()
    await alice.wait_until(lambda _: len(harness.standin.callback_answers) == 4)
    answers = [a.get("text") or "" for a in harness.standin.callback_answers.values()]
    assert any("earlier dialogue" in a for a in answers)
    assert sum("not available to you" in a for a in answers) == 2
    assert any("Choose a priority with the buttons" in a for a in answers)
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(Ticket)) is None
    await alice.press(buttons, "High")
    await alice.receive_text("is open")


async def test_ticket_of_another_customer_is_not_shown(harness: Harness) -> None:
    alice, bob = harness.user(1001, "Alice"), harness.user(1002, "Bob")
    await harness.register(alice, name="Alice", email="alice@example.com")
    await harness.register(bob, name="Bob", email="bob@example.com")
    number = await harness.open_ticket(alice, subject="Mine", description="Private")
    await bob.send(f"/ticket {number}")
    refusal = await bob.receive_text("no ticket")
    assert "Private" not in refusal["text"]
    await bob.send("/ticket abc")
    await bob.receive_text("Give a ticket number")


async def test_admin_lists_every_ticket_with_paging(harness: Harness) -> None:
    alice, bob = harness.user(1001, "Alice"), harness.user(1002, "Bob")
    await harness.register(alice, name="Alice", email="alice@example.com")
    await harness.register(bob, name="Bob", email="bob@example.com")
    for n in range(12):  # one customer may have 10 active tickets
        await harness.open_ticket(alice if n < 6 else bob, subject=f"Case {n}", description="d")
    admin = harness.admin
    await admin.send("/tickets all")
    first = await admin.receive_text("Tickets (all)")
    assert "1–10 of 12" in first["text"] and "Alice" in first["text"]
    await admin.press(first, "Older »")
    await admin.wait_until(lambda inbox: "11–12 of 12" in (inbox[-1].get("text") or ""))
    await admin.send("/tickets everything")
    await admin.receive_text("Use /tickets open")
