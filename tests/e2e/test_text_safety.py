"""Every message the bot can build is accepted by Telegram's (the stand-in's strict) HTML parser.

One tour of the helpdesk as each role: every command of `access.COMMANDS` with no argument,
hostile arguments and someone else's ticket; forged buttons of every prefix; the empty states
of a fresh install; the main happy paths with hostile names, subjects and texts; the jobs'
notices. Then: the stand-in refused no message (no text it could not parse), every command
got an answer, every value reads as typed, and no text shows an escaping artefact (a value
escaped twice reads `&lt;b&gt;` in the chat).
"""

from __future__ import annotations

import asyncio
import re

from sqlalchemy import func, select

from bot.delivery import FAILED, PENDING
from bot.jobs import admin as admin_digest
from bot.jobs import autoclose, sla
from bot.services import access
from bot.standin import StandinUser
from storage.models import Delivery
from tests.support.harness import Harness

HOSTILE = "<b>x</b> & <name>"
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
ARTEFACTS = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);", re.IGNORECASE)
SENT_TEXT = {"sendMessage": "text", "editMessageText": "text", "sendPhoto": "caption"}


class Tour:
    """Drives the bot and keeps what went unanswered."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.standin = harness.standin
        self.unanswered: list[str] = []

    def _refused(self) -> int:
        return len(self.standin.refusals)

    async def send(self, user: StandinUser, text: str) -> None:
        """Send `text`; wait for the bot's answer in the chat (or a refusal). A notice arriving
        meanwhile passes for the answer: the steps whose order matters wait for their text."""
        inbox, refused = len(user.inbox), self._refused()
        await user.send(text)
        ok = await self.standin.store.wait_for(
            lambda: len(user.inbox) > inbox or self._refused() > refused, 5
        )
        if not ok:
            self.unanswered.append(f"{user.id}: {text}")

    async def press(self, user: StandinUser, message: dict, data: str) -> None:
        """Press a (forged) button; wait for the bot to answer it."""
        refused = self._refused()
        query = await user.press_data(message, data)
        answers = self.standin.callback_answers
        ok = await self.standin.store.wait_for(
            lambda: query in answers or self._refused() > refused, 5
        )
        if not ok:
            self.unanswered.append(f"{user.id}: button {data}")

    async def every_command(self, user: StandinUser, *, foreign: int) -> None:
        """Every command with no argument, hostile ones, and a ticket that is not the user's."""
        for command in access.COMMANDS:
            for args in ("", HOSTILE, f"999999 {HOSTILE}", f"{foreign} {HOSTILE}", str(foreign)):
                if command.name == "resolve" and args == str(foreign):
                    continue  # a real change, done in the happy path
                await self.send(user, f"/{command.name} {args}".rstrip())
        await self.send(user, f"/{HOSTILE}")
        await self.send(user, "/nosuchcommand")
        await self.send(user, "/cancel")

    async def forged_buttons(self, user: StandinUser, *, foreign: int) -> None:
        """Buttons of every prefix with data the bot never offered (never "erase:yes")."""
        target = user.inbox[-1]
        for prefix in [*access.BUTTON_COMMANDS, "junk"]:
            shapes = (f"{prefix}:{HOSTILE}", f"{prefix}:999999:1", f"{prefix}:{foreign}:1")
            for data in (*shapes, f"{prefix}:all:0"):  # "page:all:0" is a real one
                await self.press(user, target, data[:64])
        await self.press(user, target, "")

    async def delivered(self) -> None:
        """Wait until the delivery queue has sent everything."""
        self.harness.application.bot_data.delivery.kick()

        async def pending() -> int:
            async with self.harness.resources.session_factory() as session:
                query = select(func.count()).where(Delivery.status == PENDING)
                return await session.scalar(query.select_from(Delivery))

        for _ in range(200):
            if not await pending():
                break
            await asyncio.sleep(0.05)
        assert not await pending(), "deliveries still pending"
        await self.standin.wait_acknowledged()
        await self.quiet()

    async def quiet(self, seconds: float = 0.3) -> None:
        """Until the bot has made no Bot API call (but polling) for `seconds`."""

        def calls() -> int:
            return sum(method != "getUpdates" for method, _, _ in self.standin.calls)

        for _ in range(100):
            before = calls()
            await asyncio.sleep(seconds)
            if calls() == before:
                return
        raise AssertionError("the bot never went quiet")


async def test_every_message_the_bot_builds_is_accepted_and_reads_as_typed(
    harness: Harness,
) -> None:
    tour = Tour(harness)
    admin = harness.admin
    standin = harness.standin

    # A fresh install: no agents, no tickets, an empty queue, an unregistered stranger.
    for command in access.commands_for(access.ADMIN):
        await tour.send(admin, f"/{command.name}")
    await tour.send(admin, "/cancel")
    stranger = harness.user(1009, "Stranger")
    await tour.every_command(stranger, foreign=1)
    await tour.send(stranger, HOSTILE)

    # The happy paths, with hostile values wherever a person types one.
    alice, bob = harness.user(1001, "Alice", "alice"), harness.user(1002, "Bob")
    await harness.register(alice, name=f"Alice {HOSTILE}", email="alice@example.com")
    await harness.register(bob, name=f"Bob {HOSTILE}", email="bob@example.com")
    await tour.send(alice, "/tickets")
    mine = await harness.open_ticket(alice, subject=f"Mine {HOSTILE}", description=HOSTILE)
    foreign = await harness.open_ticket(bob, subject=f"Bob's {HOSTILE}", description=HOSTILE)
    agent = harness.user(2001, "Sam", "sam")
    await harness.add_agent(agent, f"Sam {HOSTILE}")
    await tour.send(admin, "/agents")
    await tour.send(admin, f"/assign {mine}")
    choose = await admin.receive_text("to:")
    rows = choose["reply_markup"]["inline_keyboard"]
    (sam,) = [
        b["callback_data"] for row in rows for b in row if b["callback_data"].endswith(":2001")
    ]
    await tour.press(admin, choose, sam)
    await alice.receive_text("is now handling your ticket")
    relayed = await agent.receive_text(f"#{mine} · Alice")
    await alice.send(f"Hello {HOSTILE}")
    relayed = await agent.receive_text(f"Hello {HOSTILE}")
    await agent.reply(to=relayed, text=f"Answer {HOSTILE}")
    await alice.receive_text(f"Answer {HOSTILE}")
    await alice.send_photo(PNG, caption=f"Photo {HOSTILE}")
    await agent.receive_text(f"Photo {HOSTILE}")
    await tour.send(agent, f"/note {mine} Note {HOSTILE}")
    await tour.send(agent, "/queue")
    await tour.send(agent, f"/ticket {mine}")
    await tour.send(agent, f"/status {mine} waiting-customer")
    await alice.receive_text("is now Waiting for Customer")
    await tour.send(admin, "/tickets all")
    await tour.send(admin, f"/ticket {mine}")
    await tour.send(alice, "/tickets")
    await tour.send(alice, f"/ticket {mine}")
    await tour.send(alice, "/profile")
    await tour.send(alice, f"/feedback Feedback {HOSTILE}")
    await admin.receive_text(f"Feedback {HOSTILE}")
    await tour.send(alice, f"/close {mine}")
    rating = await alice.receive_text("Rate it")
    await alice.press(rating, "5")
    await alice.receive_text("Anything you would like to add")
    await tour.send(alice, f"Comment {HOSTILE}")
    await tour.send(admin, f"/resolve {foreign}")
    await admin.receive_text(f"#{foreign} is resolved")

    # The jobs: an SLA reminder, the auto-close of Bob's ticket, the admins' digest.
    await tour.send(bob, f"Still there? {HOSTILE}")
    await bob.receive_text("is now Open")
    await tour.send(admin, f"/assign {foreign} 2001")
    await admin.receive_text(f"#{foreign} is assigned")
    await sla.remind(harness.resources.session_factory, limit_hours=0)
    await tour.send(agent, f"/status {foreign} waiting-customer")
    await agent.receive_text(f"#{foreign}: Open → Waiting for Customer")
    async with harness.resources.session_factory() as session, session.begin():
        assert await autoclose.close_ticket_by_job(session, ticket_id=foreign, days=7)
    await admin_digest.run(harness.resources.session_factory, harness.settings)
    await tour.delivered()
    assert any("⏰" in (m.get("text") or "") for m in agent.inbox)
    assert any("We closed ticket" in (m.get("text") or "") for m in bob.inbox)
    assert any("daily digest" in (m.get("text") or "") for m in admin.inbox)

    # Each role again, with bad arguments and forged buttons, now that there is data.
    for user in (alice, agent, admin):
        await tour.every_command(user, foreign=foreign)
        await tour.forged_buttons(user, foreign=foreign)
    await tour.send(alice, "/deleteme")
    await alice.press(alice.inbox[-1], "No, keep it")
    await tour.send(admin, "/removeagent 2001")
    await admin.receive_text("is no longer an agent. Tickets back")
    await tour.delivered()

    # Not about text, so not counted: the admin's menu is set at start-up, before the stand-in
    # knows the admin's chat; a forged button pressed twice edits a message to the same text.
    refused = [
        f"{method} {why}: {params}"
        for method, params, _, why in standin.refusals
        if (method in (*SENT_TEXT, "copyMessage") and "message is not modified" not in why)
        or "can't parse" in why
    ]
    assert refused == [], "\n".join(refused)
    assert tour.unanswered == []
    async with harness.resources.session_factory() as session:
        failed = select(func.count()).select_from(Delivery).where(Delivery.status == FAILED)
        assert await session.scalar(failed) == 0
    shown = [
        message.get("text") or message.get("caption") or ""
        for telegram_id in (1009, 1001, 1002, 2001, admin.id)
        for message in standin.user(telegram_id).inbox
    ]
    shown += [answer.get("text") or "" for answer in standin.callback_answers.values()]
    artefacts = [text for text in shown if ARTEFACTS.search(text)]
    assert artefacts == [], artefacts
    sent = [
        params.get(SENT_TEXT.get(method, "caption")) or ""
        for method, params, _ in standin.calls
        if method in (*SENT_TEXT, "copyMessage")
    ]
    assert not [text for text in sent if "&amp;lt;" in text or "&amp;amp;" in text]
    # The hostile values read exactly as typed: names, subjects, texts, usage lines.
    everything = "\n".join(shown)
    for typed in (
        f"Alice {HOSTILE}",
        f"Mine {HOSTILE}",
        f"Sam {HOSTILE}",
        f"Answer {HOSTILE}",
        "No agents yet. Invite one with /addagent <name> [email].",
        "I don't know /<b>x</b>.",
    ):
        assert typed in everything, typed


async def test_a_question_asked_again_after_a_redelivery_reads_the_same(harness: Harness) -> None:
    """A dialogue's last question is stored as markup and asked again as it was first sent:
    not escaped twice (`&lt;b&gt;` shown), not unescaped (the name's tags taken as markup)."""
    alice = harness.user(1001, "Alice")
    await alice.send("/start")
    await alice.receive_text("full name")
    await harness.standin.wait_acknowledged()
    await harness.application.updater.stop()
    answer = await alice.send(f"Al {HOSTILE}")
    update_id = harness.standin.store.updates[-1]["update_id"]
    harness.standin.push_update({"update_id": update_id, "message": answer})
    await harness.application.updater.start_polling(poll_interval=0, timeout=1)

    first = await alice.receive_text("What is your email")
    repeated = await alice.receive_text("What is your email")
    assert (
        first["text"]
        == repeated["text"]
        == (f"Thanks, Al {HOSTILE}. What is your email address? Updates on your tickets go there.")
    )
    assert first.get("entities") == repeated.get("entities")
    assert [r for r in harness.standin.refusals if r[0] == "sendMessage"] == []
