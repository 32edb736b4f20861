"""`python bot.py demo`: a scripted session against the built-in Bot API stand-in.

Nothing leaves the machine: the bot runs its real HTTP stack against a local stand-in, in a
throwaway database, and the conversation is printed as a transcript.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import re
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TextIO

from sqlalchemy import select

from bot.app import build_application, running
from bot.config import load_settings
from bot.resources import Resources
from bot.standin import BotApiStandin, StandinUser
from storage.migrate import upgrade
from storage.models import EmailOutbox

TOKEN = "100000:DEMO-token"
EXAMPLE_KB = Path(__file__).resolve().parent.parent / "examples" / "kb"
ADMIN_ID = 10


class Transcript:
    """Plays people's messages and prints what the bot answers in each chat."""

    def __init__(self, standin: BotApiStandin, names: dict[int, str], out: TextIO) -> None:
        self.standin = standin
        self.out = out
        self.names = names
        self.seen: dict[int, int] = {}

    def section(self, title: str) -> None:
        self.print(f"\n── {title} " + "─" * max(0, 60 - len(title)))

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def says(self, user: StandinUser, text: str, *, topic: str | None = None) -> None:
        """`user` writes `text` (in their chat's topic named `topic`, if given)."""
        thread = user.topic_named(topic).thread_id if topic else None
        where = f"[{topic}] " if topic else ""
        self.print(f"{self.names[user.id]:>8} › {where}{text}")
        await user.send(text, thread=thread)
        await self.answers()

    async def replies(self, user: StandinUser, to: dict, text: str) -> None:
        quoted = (to.get("text") or "").splitlines()[0]
        self.print(f"{self.names[user.id]:>8} › (replying to “{quoted}”) {text}")
        await user.reply(to, text)
        await self.answers()

    async def presses(self, user: StandinUser, message: dict, label: str) -> None:
        self.print(f"{self.names[user.id]:>8} › [{label}]")
        await user.press(message, label)
        await self.answers()

    async def answers(self, quiet: float = 0.4, first_within: float = 15) -> None:
        """Print every new bot message, in any chat: wait for the first, then for quiet."""
        await self.standin.wait_acknowledged()
        waited, idle, printed_any = 0.0, 0.0, False
        while idle < quiet and waited < first_within:
            printed = False
            for telegram_id, name in self.names.items():
                inbox = self.standin.user(telegram_id).inbox
                for message in inbox[self.seen.get(telegram_id, 0) :]:
                    self._print(name, message)
                    printed = printed_any = True
                self.seen[telegram_id] = len(inbox)
            idle = 0.0 if printed or not printed_any else idle + 0.05
            waited += 0.05
            await asyncio.sleep(0.05)

    def last(self, user: StandinUser) -> dict:
        return user.inbox[-1]

    def _print(self, name: str, message: dict) -> None:
        created = message.get("forum_topic_created") or message.get("forum_topic_edited")
        if created is not None:
            verb = "opens" if "forum_topic_created" in message else "renames"
            self.print(f"{'bot':>8} » {name}: ({verb} the topic “{created.get('name', '')}”)")
            return
        text = message.get("text") or message.get("caption") or "(media)"
        lines = text.splitlines() or [""]
        thread = message.get("message_thread_id")
        topic = self.standin.chat(message["chat"]["id"]).topics.get(thread) if thread else None
        where = f"[{topic.name}] " if topic is not None else ""
        self.print(f"{'bot':>8} » {name}: {where}{lines[0]}")
        for line in lines[1:]:
            self.print(f"{'':>8}   {line}")
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            self.print(f"{'':>8}   " + "  ".join(f"[{b['text']}]" for b in row))


async def _mailed_code(resources: Resources, address: str) -> str:
    async with resources.session_factory() as session:
        text = await session.scalar(
            select(EmailOutbox.text)
            .where(EmailOutbox.recipient == address)
            .order_by(EmailOutbox.id.desc())
        )
    return re.search(r"\b(\d{6})\b", text or "").group(1)


async def _load_articles(resources: Resources, folder: Path) -> None:
    from bot.kb.files import read_folder
    from bot.services import kb

    async with resources.session_factory() as session:
        await kb.import_articles(session, read_folder(folder))
        await session.commit()


async def play(kb_folder: Path | None = EXAMPLE_KB) -> int:
    """The demo; `kb_folder` is the knowledge base /new suggests articles from (None: none)."""
    await _act(_script, kb_folder=kb_folder)
    # The second act: the same bot with topic mode on, a topic per ticket on both sides.
    await _act(_topics_script, topics=True, require_email_verification=False)
    print("\nThat was the whole story. Run `make run` with a token to use it for real.")
    return 0


async def _act(
    script: Callable[[BotApiStandin, Resources, TextIO], Awaitable[None]],
    *,
    kb_folder: Path | None = None,
    topics: bool = False,
    **settings_: object,
) -> None:
    """Run `script(standin, resources, out)` against a fresh stand-in and database."""
    out = sys.stdout
    with tempfile.TemporaryDirectory(prefix="helpdesk-demo-") as folder:
        async with BotApiStandin(
            token=TOKEN, bot_username="helpdesk_demo_bot", topics_enabled=topics
        ) as standin:
            settings = load_settings(
                _env_file=None,
                telegram_bot_token=TOKEN,
                telegram_api_url=standin.url,
                database_url=f"sqlite+aiosqlite:///{Path(folder) / 'demo.db'}",
                admin_ids=[ADMIN_ID],
                email_backend="console",
                digest_schedule="off",
                admin_digest_schedule="off",
                **settings_,
            )
            await asyncio.to_thread(upgrade, settings.database_url)
            resources = Resources.open(settings)
            if kb_folder is not None:
                await _load_articles(resources, kb_folder)
            application = build_application(resources, rate_limiter=False)
            # The console mail backend prints whole mails; the transcript shows them as a line.
            with contextlib.redirect_stdout(io.StringIO()):
                async with running(application):
                    await script(standin, resources, out)


async def _topics_script(standin: BotApiStandin, resources: Resources, out: TextIO) -> None:
    admin = standin.user(ADMIN_ID, first_name="Ada", username="ada")
    agent = standin.user(20, first_name="Sam", username="sam_support")
    bob = standin.user(40, first_name="Bob", username="bob")
    show = Transcript(standin, {ADMIN_ID: "Ada", 20: "Sam", 40: "Bob"}, out)
    show.section("Topic mode: each ticket its own topic")
    show.print("Topic mode is on for the bot (@BotFather), so every ticket gets a topic of its")
    show.print("own in Sam's chat and in the customer's: no headers, no swipe-to-reply.")
    await show.says(admin, "/addagent Sam Support")
    token = re.search(r"start=(\S+)", show.last(admin)["text"]).group(1)
    await show.says(agent, f"/start {token}")
    for answer in ("/start", "Bob Builder", "bob@example.com", "/skip"):
        await show.says(bob, answer)

    show.section("Bob opens two tickets; Ada gives both to Sam")
    for subject, description in (
        ("Printer", "It prints blank pages."),
        ("Invoice", "November's invoice never came."),
    ):
        await show.says(bob, "/new")
        await show.says(bob, subject)
        await show.says(bob, description)
        await show.presses(bob, show.last(bob), "Medium")
    await show.says(admin, "/assign 1 @sam_support")
    await show.says(admin, "/assign 2 @sam_support")

    show.section("Each conversation stays in its topic")
    await show.says(bob, "Even the test page is blank.", topic="#1 · Printer")
    await show.says(agent, "Please send me a photo of the toner.", topic="#1 · Printer")
    await show.says(agent, "It went out this morning, by mail.", topic="#2 · Invoice")
    await show.says(bob, "Got it, thanks!", topic="#2 · Invoice")
    await show.says(agent, "/resolve", topic="#2 · Invoice")


async def _script(standin: BotApiStandin, resources: Resources, out: TextIO) -> None:
    admin = standin.user(ADMIN_ID, first_name="Ada", username="ada")
    agent = standin.user(20, first_name="Sam", username="sam_support")
    alice = standin.user(30, first_name="Alice", username="alice")
    show = Transcript(standin, {ADMIN_ID: "Ada", 20: "Sam", 30: "Alice"}, out)
    show.print(
        "A helpdesk in Telegram: Ada is an admin, Sam becomes an agent, Alice is a customer."
    )

    show.section("Ada invites Sam as an agent")
    await show.says(admin, "/addagent Sam Support")
    token = re.search(r"start=(\S+)", show.last(admin)["text"]).group(1)
    await show.says(agent, f"/start {token}")

    show.section("Alice registers")
    await show.says(alice, "/start")
    await show.says(alice, "Alice Liddell")
    await show.says(alice, "alice@example.com")
    code = await _mailed_code(resources, "alice@example.com")
    show.print(f"{'':>8}   (📧 a mail to alice@example.com carries the code {code})")
    await show.says(alice, code)
    await show.says(alice, "/skip")

    show.section("Alice asks something the knowledge base answers: no ticket needed")
    await show.says(alice, "/new")
    await show.says(alice, "Where is my parcel?")
    await show.says(alice, "I ordered on Monday and want to track my order.")
    if "These articles" in (show.last(alice).get("text") or ""):
        await show.presses(alice, show.last(alice), "Track your order")
        await show.presses(alice, show.last(alice), "That solved it")
    else:  # no knowledge base: the ticket is opened as usual
        await show.presses(alice, show.last(alice), "Low")

    show.section("Alice opens a ticket")
    await show.says(alice, "/new")
    await show.says(alice, "Cannot log in")
    await show.says(alice, "The app says my password is wrong, but I just reset it.")
    if "These articles" in (show.last(alice).get("text") or ""):
        await show.presses(alice, show.last(alice), "None of these")
    await show.presses(alice, show.last(alice), "High")
    await show.says(alice, "/tickets")

    show.section("Ada assigns the ticket to Sam")
    await show.says(admin, "/tickets unassigned")
    await show.says(admin, "/assign 1 @sam_support")

    show.section("Sam and Alice talk; Sam keeps a private note")
    await show.says(agent, "/note 1 Password resets were delayed this morning.")
    await show.replies(agent, _last_from(agent, "Alice"), "Could you try once more now?")
    await show.says(alice, "It works now, thank you!")
    await show.says(agent, "/resolve 1")

    show.section("Alice closes the ticket and rates it")
    await show.says(alice, "/close 1")
    await show.presses(alice, _last_with(alice, "Rate it"), "5")
    await show.says(alice, "Very quick, thanks Sam.")

    show.section("Ada looks at the team and the numbers")
    await show.says(admin, "/agents")
    await show.says(admin, "/ticket 1")
    await show.says(admin, "/report 1")
    await show.says(admin, "/kb")


def _last_with(user: StandinUser, text: str) -> dict:
    return next(m for m in reversed(user.inbox) if text in (m.get("text") or ""))


def _last_from(agent: StandinUser, customer: str) -> dict:
    return next(m for m in reversed(agent.inbox) if f"· {customer}" in (m.get("text") or ""))
