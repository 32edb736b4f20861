"""Erasure that erases: /deleteme and `python bot.py erase USER_ID` leave nothing of the person.

The check reads every table of `storage.models` from the metadata, so a table added later is
covered without touching this file.
"""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import JSON, Integer, String, select

from bot.jobs import admin as admin_digest
from storage.models import Activity, Base, Delivery, Message, Ticket, TicketSummary, User
from tests.support.harness import AGENT_ID, Harness
from tests.test_cli import run_bot

CUSTOMER_ID = 7_123_456_789  # a number no other column of the test holds by chance
NAME = "Zelda Quartermaine"
USERNAME = "zquarter"
EMAIL = "zelda.quartermaine@example.com"
PHONE = "+44 7700 900123"
LONG_WORD = "Brobdingnagian"
BOSS = "boss@example.com"

# What the customer wrote; every one of these must be gone afterwards.
WRITTEN = {
    "subject_a": "Flux capacitor sparks",
    "description_a": "It sparks every Tuesday at noon",
    "text": "my secret order 4711-XYZ",
    "caption": "screenshot of the sparks",
    "comment": "Rating comment platypus",
    "subject_b": "Second problem gazebo",
    "description_b": "gazebo description words",
    "waiting": "pending words zebra",
    "waiting_caption": "waiting photo caption",
    "subject_c": "Third issue marmalade",
    "description_c": "marmalade details",
    "held": "this one stays pending lychee",
    "choose": "which one am I kiwi",
    "feedback": "Feedback about quokkas",
    "draft": "Draft subject wombat",
}


def identifying() -> list[str]:
    return [
        "Zelda",
        "Quartermaine",
        USERNAME,
        EMAIL,
        PHONE,
        "7700 900123",
        LONG_WORD,
        str(CUSTOMER_ID),
        *WRITTEN.values(),
    ]


async def leftovers(
    harness: Harness, needles: list[str], ids: set[int], *, newcomer: int | None = None
) -> list[str]:
    """Every text value (String, Text, JSON) of every table containing a needle
    (case-insensitive), and every integer value that is one of `ids`; the users row `newcomer`
    (the same Telegram account writing again, a new customer) is not looked at."""
    lowered = [needle.lower() for needle in needles]
    found = []
    async with harness.resources.session_factory() as session:
        for table in Base.metadata.sorted_tables:
            texts = [c for c in table.columns if isinstance(c.type, String | JSON)]
            numbers = [c for c in table.columns if isinstance(c.type, Integer)]
            for row in (await session.execute(select(table))).mappings():
                if table.name == "users" and row["id"] == newcomer:
                    continue
                for column in texts:
                    value = row[column.name]
                    if value is None:
                        continue
                    if not isinstance(value, str):
                        value = json.dumps(value, ensure_ascii=False)
                    for needle in lowered:
                        if needle in value.lower():
                            found.append(f"{table.name}.{column.name} has {needle!r}: {value!r}")
                for column in numbers:
                    if row[column.name] in ids:
                        found.append(f"{table.name}.{column.name} = {row[column.name]}")
    return found


async def settled(harness: Harness) -> None:
    await harness.standin.wait_acknowledged()
    await harness.application.bot_data.delivery.wait_idle()


async def test_deleteme_leaves_nothing_that_ties_back(harness: Harness) -> None:
    admin, standin = harness.admin, harness.standin
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    zelda = harness.user(CUSTOMER_ID, "Zelda", USERNAME)
    await harness.register(zelda, name=NAME, email=EMAIL, phone=PHONE)

    # Ticket A: assigned, a conversation delivered both ways, then closed and rated.
    a = await harness.open_ticket(
        zelda, subject=WRITTEN["subject_a"], description=WRITTEN["description_a"]
    )
    await admin.send(f"/assign {a} {AGENT_ID}")
    await agent.receive_text(f"#{a} · {NAME} is assigned to you")
    await zelda.send(WRITTEN["text"])
    await agent.receive_text(WRITTEN["text"])
    photo = await zelda.send_photo(content=b"\x89PNG zelda", caption=WRITTEN["caption"])
    copied = await agent.receive_text(WRITTEN["caption"])
    assert copied["photo"]
    long_text = " ".join([LONG_WORD] * 272)  # with its header past 4096: arrives in parts
    await zelda.send(long_text)
    await agent.receive_text(f"#{a} · {NAME} (2/2)")
    await agent.send(f"/reply {a} Dear Zelda, we are on it")
    await zelda.receive_text("Dear Zelda")
    await zelda.send(f"/close {a}")
    prompt = await zelda.receive_text("How did we do")
    await zelda.press(prompt, "4")
    await zelda.receive_text("Anything you would like to add")
    await zelda.send(WRITTEN["comment"])
    await zelda.receive_text("Thank you for the feedback")

    # Ticket B: no agent yet, so its messages wait on it (a text and a photo).
    b = await harness.open_ticket(
        zelda, subject=WRITTEN["subject_b"], description=WRITTEN["description_b"]
    )
    await zelda.send(WRITTEN["waiting"])
    await zelda.receive_text("reaches an agent as soon as one is assigned")
    waiting_photo = await zelda.send_photo(
        content=b"\x89PNG waiting", caption=WRITTEN["waiting_caption"]
    )
    await zelda.receive_text("reaches an agent as soon as one is assigned")

    # Ticket C: assigned; one message is held back by Telegram (pending), one awaits a choice.
    c = await harness.open_ticket(
        zelda, subject=WRITTEN["subject_c"], description=WRITTEN["description_c"]
    )
    await admin.send(f"/assign {c} {AGENT_ID}")
    await agent.receive_text(f"#{c} · {NAME} is assigned to you")
    standin.faults.add("sendMessage", "429", retry_after=600, chat_id=agent.id)
    await zelda.send(WRITTEN["choose"])
    choose = await zelda.receive_text("Which ticket")
    await zelda.press(choose, f"#{c} {WRITTEN['subject_c']}")
    await zelda.send(WRITTEN["held"])
    choose_again = await zelda.receive_text("Which ticket")
    await zelda.press(choose_again, f"#{c} {WRITTEN['subject_c']}")
    await zelda.send(WRITTEN["choose"])
    unpicked = await zelda.receive_text("Which ticket")
    await settled(harness)
    async with harness.resources.session_factory() as session:
        pending = await session.scalar(
            select(Delivery).where(Delivery.chat_id == agent.id, Delivery.status == "pending")
        )
    assert pending is not None  # Telegram asked to wait: the relay to the agent is queued

    await zelda.send(f"/feedback {WRITTEN['feedback']}")
    await zelda.receive_text("went to the admins")
    # The admin digest lists ticket B, unassigned, by its subject, in Telegram and by mail.
    with_mail = harness.settings.model_copy(update={"admin_emails": [BOSS]})
    await admin_digest.run(harness.resources.session_factory, with_mail)
    await admin.receive_text(WRITTEN["subject_b"])
    await zelda.send("/new")
    await zelda.receive_text("subject")
    await zelda.send(WRITTEN["draft"])
    await zelda.receive_text("Describe")

    photo_file_ids = {photo["photo"][-1]["file_id"], waiting_photo["photo"][-1]["file_id"]}
    photo_message_ids = {photo["message_id"], waiting_photo["message_id"]}
    async with harness.resources.session_factory() as session:
        stored_files = set(await session.scalars(select(Message.file_id)))
    assert photo_file_ids <= stored_files  # the check below looks for something that was there
    before = await leftovers(harness, identifying(), {CUSTOMER_ID})
    assert any("feedback.text" in line for line in before)
    assert any("dialogues.data" in line for line in before)
    assert any("deliveries.payload" in line and "lychee" in line for line in before)
    assert any("email_outbox.text" in line and "gazebo" in line for line in before)

    # The erasure, in the middle of the /new dialogue.
    agent_seen = len(agent.inbox)
    await zelda.send("/deleteme")
    confirm = await zelda.receive_text("cannot be undone")
    await zelda.press(confirm, "Yes, erase my data")
    await zelda.wait_until(lambda inbox: "data is erased" in (inbox[-1].get("text") or ""))
    await settled(harness)

    found = await leftovers(harness, [*identifying(), *photo_file_ids], {CUSTOMER_ID})
    assert found == []
    async with harness.resources.session_factory() as session:
        tickets = {t.id: t for t in await session.scalars(select(Ticket))}
        sources = set(await session.scalars(select(Message.source_message_id)))
        erased = await session.get(User, tickets[a].customer_id)
        requesters = set(await session.scalars(select(TicketSummary.requester)))
        history = list(
            await session.scalars(
                select(Activity).where(Activity.ticket_id == c).order_by(Activity.id)
            )
        )
    # Rows of other people that named them keep their use, without them.
    digest = (await harness.mails_to(BOSS))[0]
    assert digest.kind == "admin-digest" and f"#{b} [erased]" in digest.text
    # Tickets stay for the statistics, closed, anonymised, with their rating number.
    assert [tickets[n].status for n in (a, b, c)] == ["Closed"] * 3
    assert (tickets[a].rating, tickets[a].rating_comment) == (4, None)
    assert not sources & photo_message_ids
    assert erased.deleted_at is not None and erased.telegram_id < 0
    assert requesters == {erased.telegram_id}
    assert history[0].activity["requester"] == erased.telegram_id
    assert history[-1].activity == {"status": "Closed"} and history[-1].performer_type == "system"
    # The agent learns why #C closed, with neither name nor subject; only that (the relays
    # Telegram had held back are dropped).
    told = await agent.receive_text(f"#{c} is closed: its customer erased their personal data")
    await settled(harness)
    assert [m.get("text") for m in agent.inbox[agent_seen:]] == [told["text"]]

    # Their old buttons are refused, clearly, and change nothing.
    # (Pressed as data: the rating and the confirmation lost their keyboards when answered.)
    pick = unpicked["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    for message, data in [(prompt, f"rate:{a}:5"), (unpicked, pick), (confirm, "erase:yes")]:
        query = await zelda.press_data(message, data)
        await zelda.wait_until(lambda _, q=query: q in standin.callback_answers)
        assert "no longer valid" in standin.callback_answers[query]["text"]
    # Writing again: the /new they were in is over, and they are a new, unregistered customer.
    await zelda.send("Still there?")
    await zelda.receive_text("Please register first")
    await zelda.send("/tickets")
    await zelda.receive_text("Please register first")
    async with harness.resources.session_factory() as session:
        again = await session.scalar(select(User).where(User.telegram_id == CUSTOMER_ID))
    assert again is not None and again.id != erased.id and again.registered_at is None

    # An assignment afterwards relays nothing of theirs.
    await admin.send(f"/assign {b} {AGENT_ID}")
    await admin.receive_text("is closed")
    await admin.send(f"/status {b} open")
    await admin.receive_text("→")
    agent_seen = len(agent.inbox)
    await admin.send(f"/assign {b} {AGENT_ID}")
    await admin.receive_text("is assigned")
    await agent.receive_text(f"#{b} · erased user is assigned to you")
    await settled(harness)
    await asyncio.sleep(0.2)
    arrived = agent.inbox[agent_seen:]
    assert len(arrived) == 1 and not arrived[0].get("photo")
    text = arrived[0]["text"].lower()
    assert not [needle for needle in identifying() if needle.lower() in text]
    await agent.reply(copied["message_id"], "hello?")
    await agent.receive_text("erased their data")
    # Telegram gives the newcomer's username and id again; the rest knows nothing of them.
    assert await leftovers(harness, identifying(), {CUSTOMER_ID}, newcomer=again.id) == []


async def test_erase_command_line_does_what_deleteme_does(harness: Harness) -> None:
    zelda = harness.user(CUSTOMER_ID, "Zelda", USERNAME)
    await harness.register(zelda, name=NAME, email=EMAIL, phone=PHONE)
    number = await harness.open_ticket(
        zelda, subject=WRITTEN["subject_a"], description=WRITTEN["description_a"]
    )
    await zelda.send(WRITTEN["text"])
    await zelda.receive_text("reaches an agent")
    await zelda.send("/new")
    await zelda.receive_text("subject")
    await zelda.send(WRITTEN["draft"])
    await zelda.receive_text("Describe")
    env = {"DATABASE_URL": harness.settings.database_url}

    unknown = await asyncio.to_thread(run_bot, "erase", "424242", env=env)
    assert unknown.returncode == 2, unknown.stderr
    assert unknown.stderr.strip() == "erase: No user with Telegram id 424242."
    for malformed in ("zelda", "-1", "0"):
        refused = await asyncio.to_thread(run_bot, "erase", malformed, env=env)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1

    done = await asyncio.to_thread(run_bot, "erase", str(CUSTOMER_ID), env=env)
    assert done.returncode == 0, done.stderr
    assert f"closed now: #{number}" in done.stdout
    assert await leftovers(harness, identifying(), {CUSTOMER_ID}) == []
    async with harness.resources.session_factory() as session:
        ticket = await session.get(Ticket, number)
    assert ticket.status == "Closed"
    # Again: they are no longer known by that id.
    twice = await asyncio.to_thread(run_bot, "erase", str(CUSTOMER_ID), env=env)
    assert twice.returncode == 2

    # The running bot still had them in the /new dialogue: it is over, and they start afresh.
    await zelda.send(WRITTEN["description_a"])
    await zelda.receive_text("That conversation has ended")
    await zelda.send("/new")
    await zelda.receive_text("Please register first")


async def test_staff_are_not_erased_and_the_refusal_changes_nothing(harness: Harness) -> None:
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    env = {"DATABASE_URL": harness.settings.database_url}
    refused = await asyncio.to_thread(run_bot, "erase", str(AGENT_ID), env=env)
    assert refused.returncode == 2
    assert "/removeagent" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    async with harness.resources.session_factory() as session:
        kept = await session.scalar(select(User).where(User.telegram_id == AGENT_ID))
    assert kept.deleted_at is None and kept.role == "agent"
