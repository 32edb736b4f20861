"""/search: subjects, descriptions, messages and notes of the tickets one may see, best first,
with escaped snippets and paging buttons; on SQLite (FTS5) and PostgreSQL (tsvector)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.clock import utcnow
from storage.models import Ticket, User
from tests.support.harness import Harness, assigned_ticket

REFUSED = "is not available to you"


async def answer_to(person, text: str) -> dict:
    """The one message the bot sends back to `text`."""
    before = len(person.inbox)
    await person.send(text)
    await person.wait_until(lambda inbox: len(inbox) > before, timeout=10)
    return person.inbox[before]


def numbers_in(message: dict) -> list[int]:
    """The ticket numbers of the result lines, in order."""
    return [
        int(line[1:].split(" ", 1)[0])
        for line in message["text"].splitlines()
        if line.startswith("#")
    ]


def bold(message: dict) -> list[str]:
    text = message["text"]
    return [
        text[e["offset"] : e["offset"] + e["length"]]
        for e in message.get("entities", [])
        if e["type"] == "bold"
    ]


async def test_subject_description_messages_and_notes_are_found_by_those_who_may_see_them(
    harness: Harness,
) -> None:
    customer, agent, mine = await assigned_ticket(harness)  # "Help" / "Details here"
    await customer.send("My router blinks orange since Monday")
    await agent.receive_text("router blinks orange")
    await agent.send(f"/note {mine} Firmware outdated, ask for the serial")
    await agent.receive_text("Internal note added")
    other = await harness.open_ticket(
        customer, subject="Printer jammed", description="Paper stuck in the tray"
    )
    admin = harness.admin

    found = await answer_to(agent, "/search orange router")
    assert numbers_in(found) == [mine], found["text"]
    assert f"#{mine} [Open] Help" in found["text"] and "1–1 of 1" in found["text"]
    assert {"router", "orange"} <= set(bold(found))
    found = await answer_to(agent, "/search FIRMWARE")  # a note; case does not matter
    assert numbers_in(found) == [mine] and "Firmware" in bold(found)
    # Not assigned to this agent: as if it did not exist.
    nothing = await answer_to(agent, "/search printer")
    assert "No tickets you may see match printer" in nothing["text"]
    assert numbers_in(await answer_to(agent, "/search details")) == [mine]

    assert numbers_in(await answer_to(admin, "/search printer")) == [other]  # subject
    assert numbers_in(await answer_to(admin, "/search tray stuck")) == [other]  # description
    assert numbers_in(await answer_to(admin, "/search serial")) == [mine]  # the note
    # Every word must occur in the ticket.
    assert numbers_in(await answer_to(admin, "/search printer router")) == []

    refused = await answer_to(customer, "/search router")
    assert REFUSED in refused["text"] and "orange" not in refused["text"]


async def test_more_matches_rank_first(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    once = await harness.open_ticket(alice, subject="Question", description="The battery drains")
    unrelated = await harness.open_ticket(alice, subject="Login", description="Forgot password")
    often = await harness.open_ticket(
        alice, subject="Battery dead", description="The battery is dead, a new battery too"
    )
    found = await answer_to(harness.admin, "/search battery")
    assert numbers_in(found) == [often, once]
    assert unrelated not in numbers_in(found)


async def test_snippets_are_escaped_and_hostile_queries_get_an_answer(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    number = await harness.open_ticket(
        alice, subject="<i>Odd</i> & co", description="Look: <b>x</b> & <name> zebra here"
    )
    admin = harness.admin
    found = await answer_to(admin, "/search zebra")
    assert f"#{number} [Open] <i>Odd</i> & co" in found["text"]
    assert "<b>x</b> & <name> zebra" in found["text"]
    assert bold(found)[-1] == "zebra"

    # Operators of FTS5 or tsquery are not operators here: only the words count.
    for query in ['"zebra', "zebra*", "-zebra", "(zebra)", "^zebra:", "zebra & !here|"]:
        found = await answer_to(admin, f"/search {query}")
        assert numbers_in(found) == [number], (query, found["text"])
    for query in [
        '") OR 1=1 --',
        "NEAR(zebra here",
        "zebra AND here",
        "x" * 300,
        "'; DROP TABLE tickets; --",
    ]:
        found = await answer_to(admin, f"/search {query}")
        assert "No tickets you may see match" in found["text"], (query, found["text"])
    for query in ["", "***", "-- ()"]:
        found = await answer_to(admin, f"/search {query}")
        assert "Usage: /search words" in found["text"], (query, found["text"])
    # A long query is cut to its first words instead of refused.
    found = await answer_to(admin, "/search zebra " + "look " * 500)
    assert numbers_in(found) == [number]


async def test_results_come_ten_a_page_with_buttons(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    async with harness.resources.session_factory() as session:
        customer = await session.scalar(select(User.id).where(User.telegram_id == 1001))
        session.add_all(
            Ticket(
                customer_id=customer,
                subject=f"Kettle {n}",
                description="It whistles " * (n % 3 + 1),
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            for n in range(25)
        )
        await session.commit()
    admin = harness.admin
    first = await answer_to(admin, "/search kettle")
    assert "1–10 of 25" in first["text"] and len(numbers_in(first)) == 10
    seen = numbers_in(first)
    await admin.press(first, "Next »")
    await admin.wait_until(lambda _: "11–20 of 25" in first["text"])
    seen += numbers_in(first)
    await admin.press(first, "Next »")
    await admin.wait_until(lambda _: "21–25 of 25" in first["text"])
    seen += numbers_in(first)
    assert sorted(seen) == list(range(1, 26))
    labels = [b["text"] for row in first["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["« Previous"]
    await admin.press(first, "« Previous")
    await admin.wait_until(lambda _: "11–20 of 25" in first["text"])

    # Forged and stale buttons: a clear answer, the message stays as it is.
    search_id = first["reply_markup"]["inline_keyboard"][0][0]["callback_data"].split(":")[1]
    for data in ["search:999999:0", "search:abc:10", "search:1", f"search:{search_id}:-1"]:
        await admin.press_data(first, data)
    agent = harness.user(2001, "Sam")
    await harness.add_agent(agent, "Sam Support")
    await agent.send("/search kettle")
    mine = await agent.receive_text("No tickets you may see match")  # none assigned to Sam
    await agent.press_data(mine, f"search:{search_id}:10")  # the admin's saved search
    await alice.press_data(mine, f"search:{search_id}:0")
    await alice.wait_until(lambda _: len(harness.standin.callback_answers) >= 9)
    await asyncio.sleep(0.2)
    answers = [a.get("text") or "" for a in harness.standin.callback_answers.values()]
    assert sum("search has expired" in a for a in answers) == 2, answers
    assert sum("not valid" in a for a in answers) == 3, answers
    assert sum(REFUSED in a for a in answers) == 1, answers
    assert "11–20 of 25" in first["text"]


async def test_erased_texts_are_no_longer_found(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send("unicorn glitter everywhere")
    await agent.receive_text("unicorn glitter")
    admin = harness.admin
    assert numbers_in(await answer_to(admin, "/search unicorn glitter")) == [number]
    await customer.send("/deleteme")
    confirm = await customer.receive_text("cannot be undone")
    await customer.press(confirm, "Yes, erase my data")
    await customer.wait_until(lambda inbox: "is erased" in (inbox[-1].get("text") or ""))
    gone = await answer_to(admin, "/search unicorn")
    assert "No tickets you may see match unicorn" in gone["text"]
    # The erasure blanks the ticket's subject and description too: nothing of theirs is found.
    assert (
        "No tickets you may see match details"
        in (await answer_to(admin, "/search details"))["text"]
    )
