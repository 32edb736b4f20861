"""Hostile input through the real Application and the stand-in, driven by hypothesis.

Each example sends a few random moves (texts, commands with hostile arguments, forged
buttons) as a customer, an agent, an admin or a stranger, waits until every chat involved has
handled them, then checks: nothing failed (no apology, no error logged, no Bot API call
refused: the stand-in refuses malformed HTML like Telegram), and the database is consistent.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.services import access
from handlers.framework import SORRY
from storage.models import Activity, Delivery, Dialogue, Message, Ticket, User
from tests.support.harness import Harness, assigned_ticket

STRANGER_ID = 3003

# -- strategies -------------------------------------------------------------------------------
NASTY = [
    "<b>", "</i>", "<a href='x'>", "&", "&amp;", "&#0;", "<", ">", '"', "'",
    "*bold*", "_it_", "`code`", "```", "[l](http://x)", "~", "||", "\\", "#", "@",
    "'; DROP TABLE users; --", "' OR 1=1 --", "%s", "{0}", "${x}", "NULL",
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202e", "\u2066", "\ufeff",
    "😀", "👨‍👩‍👧", "🇺🇦", "ﷺ", "مرحبا", "שלום", "٣", "²", "①", "\n", " ", "\t",
]  # fmt: skip
PIECE = st.one_of(
    st.sampled_from(NASTY),
    # No lone surrogates and no control characters: Telegram never delivers those.
    st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12),
)
TEXT = st.lists(PIECE, min_size=1, max_size=8).map("".join)
LONG = st.sampled_from(["😀" * 2048, "a" * 4096, "&<>" * 1365, "🇺🇦 " * 1000])
NUMBER = st.one_of(
    st.integers(-(10**25), 10**25).map(str),
    st.sampled_from(["٣", "²", "#1", "#", "1.5", "1e9", "0x1", "-0", "0", "١٢", "①", "@"]),
    TEXT,
)
COMMAND_NAME = st.one_of(
    st.sampled_from([c.name for c in access.COMMANDS]),
    st.sampled_from(["unknown", "<b>", "a&b", "ti<i>cket", "HELP", "ticket@other_bot"]),
)
COMMAND = st.builds(
    lambda name, args: " ".join([f"/{name}", *args]),
    COMMAND_NAME,
    st.lists(st.one_of(NUMBER, TEXT), max_size=3),
)
PREFIXES = ["new", "assign", "page", "rate", "pick", "erase", "x", ""]
BUTTON = st.one_of(
    st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]),
        st.sampled_from(PREFIXES),
        st.lists(NUMBER, max_size=3),
    ),
    TEXT,
).filter(lambda data: 1 <= len(data.encode()) <= 64)
# Kinds drawn explicitly: a plain one_of would favour its first branch and rarely reach commands.
KINDS = {
    "text": st.tuples(st.just("send"), TEXT),
    "command": st.tuples(st.just("send"), COMMAND),
    "long": st.tuples(st.just("send"), LONG),
    "press": st.tuples(st.just("press"), BUTTON),
}
MOVE = st.sampled_from(["command", "command", "text", "press", "long"]).flatmap(KINDS.get)
ACTOR = st.sampled_from(["customer", "agent", "admin", "stranger"])

# Refusals the stand-in gives that are a harmless no-op, not a failure of ours.
HARMLESS = ("message is not modified", "there is no text in the message to edit")


# Menus for admins who never wrote to the bot are refused ("chat not found"), on purpose.
IGNORED_CALLS = ("getUpdates", "setMyCommands", "deleteMyCommands")


class Watch(logging.Handler):
    """Collects warnings and errors of the bot's own loggers."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("bot", "handlers", "storage", "telegram")):
            message = record.getMessage()
            if not any(text in message for text in HARMLESS):
                self.records.append(f"{record.name}: {message}")


@pytest.fixture
def watch():
    handler = Watch()
    root = logging.getLogger()
    root.addHandler(handler)
    yield handler
    root.removeHandler(handler)


class World:
    """The people of one running bot, set up once per test function."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.people: dict = {}
        self.calls_seen = 0

    async def ready(self) -> None:
        if self.people:
            return
        customer, agent, self.number = await assigned_ticket(self.harness)
        stranger = self.harness.user(STRANGER_ID, "Mallory", "mallory")
        self.people = {
            "customer": customer,
            "agent": agent,
            "admin": self.harness.admin,
            "stranger": stranger,
        }
        for person in self.people.values():
            await settle(person)
        self.calls_seen = len(self.harness.standin.calls)


async def settle(person) -> None:
    """Wait until this chat has handled everything sent so far (its updates run in order)."""
    before = len(person.inbox)
    await person.send("/profile")
    await person.wait_until(
        lambda inbox: any(
            "Your profile" in (m.get("text") or "") or "not registered" in (m.get("text") or "")
            for m in inbox[before:]
        ),
        timeout=15,
    )
    person.cursor = len(person.inbox)


async def check_consistent(harness: Harness) -> None:
    """The database invariants every example must leave intact."""
    async with harness.resources.session_factory() as session:
        users = {u.telegram_id: u for u in await session.scalars(select(User))}
        tickets = list(await session.scalars(select(Ticket)))
        opened = {
            a.ticket_id
            for a in await session.scalars(select(Activity).where(Activity.source == "telegram"))
            if a.activity.get("status") == "Open" and "requester" in a.activity
        }
        for ticket in tickets:
            assert ticket.id in opened, f"ticket #{ticket.id} has no Open activity"
            assert 0 < len(ticket.subject) <= 150 and ticket.description
        for delivery in await session.scalars(select(Delivery)):
            assert delivery.chat_id in users, f"delivery {delivery.id} to unknown chat"
            assert delivery.status in ("pending", "sent", "blocked"), (
                delivery.id,
                delivery.status,
                delivery.last_error,
            )
        for user in users.values():
            if user.registered_at is not None and user.role == "customer":
                assert user.name and user.email and user.deleted_at is None, user.telegram_id
            assert user.name is None or len(user.name) <= 100
        expected_keys = {
            ("registration", "email"): {"name"},
            ("registration", "code"): {"name", "email"},
            ("registration", "phone"): {"name", "email"},
            ("new_ticket", "description"): {"subject"},
            ("new_ticket", "priority"): {"subject", "description", "nonce"},
            ("rating", "comment"): {"ticket"},
        }
        for row in await session.scalars(select(Dialogue)):
            assert row.chat_id == row.user_id and row.user_id in users
            keys = expected_keys.get((row.name, row.state))
            if keys is None:
                assert (row.name, row.state) in {
                    ("registration", "name"),
                    ("new_ticket", "subject"),
                }
            else:
                assert keys <= set(row.data), (row.name, row.state, row.data)
        for message in await session.scalars(select(Message)):
            assert message.ticket_id is not None or message.kind == "customer", message.id


async def check_clean(world: World, watch: Watch) -> None:
    harness = world.harness
    await harness.application.bot_data.delivery.wait_idle()
    for person in world.people.values():
        apologies = [m for m in person.inbox if SORRY in (m.get("text") or "")]
        assert not apologies, f"{person} was told something went wrong"
    calls = harness.standin.calls[world.calls_seen :]
    world.calls_seen = len(harness.standin.calls)
    refused = [
        (method, status, params.get("text", "")[:80])
        for method, params, status in calls
        if status >= 400 and method not in IGNORED_CALLS
    ]
    assert not refused, refused
    assert not watch.records, watch.records
    await check_consistent(harness)


async def play(world: World, moves: list[tuple[str, tuple[str, str]]]) -> None:
    involved = []
    for who, (kind, value) in moves:
        person = world.people[who]
        if kind == "send":
            await person.send(value)
        else:
            if not person.inbox:
                await settle(person)
            await person.press_data(person.inbox[-1], value)
        involved.append(person)
    for person in dict.fromkeys(involved):
        await settle(person)


HOSTILE = settings(
    max_examples=40,
    deadline=None,
    database=None,
    # The bot and its database live on between examples, so shrinking could not replay an
    # example faithfully (and would take minutes): report the failing example as found.
    phases=[Phase.generate],
    report_multiple_bugs=False,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HOSTILE
@given(moves=st.lists(st.tuples(ACTOR, MOVE), min_size=1, max_size=4))
async def test_random_moves_get_answers_and_keep_the_database_consistent(
    harness: Harness, watch: Watch, moves
) -> None:
    world = await world_of(harness)
    await play(world, moves)
    await check_clean(world, watch)


@HOSTILE
@given(texts=st.lists(st.one_of(TEXT, COMMAND), min_size=1, max_size=6))
async def test_dialogues_survive_hostile_answers(harness: Harness, watch: Watch, texts) -> None:
    """Registration and /new, every answer hostile: refused clearly, or stored escaped."""
    world = await world_of(harness)
    stranger, customer = world.people["stranger"], world.people["customer"]
    moves = [("stranger", ("send", "/start"))] + [("stranger", ("send", t)) for t in texts]
    moves += [("customer", ("send", "/new"))] + [("customer", ("send", t)) for t in texts]
    await play(world, moves)
    await check_clean(world, watch)
    for person in (stranger, customer):
        await person.send("/cancel")
    await play(world, [])
    await settle(stranger)
    await settle(customer)


async def world_of(harness: Harness) -> World:
    """One world per running bot: the examples of a test share it (and its history)."""
    if not hasattr(harness, "world"):
        harness.world = World(harness)
    await harness.world.ready()
    return harness.world


# -- deterministic cases: each of these failed before its fix ------------------------------------
async def answers(person, text: str) -> list[str]:
    before = len(person.inbox)
    await person.send(text)
    await settle(person)
    return [
        m.get("text") or ""
        for m in person.inbox[before:]
        if "Your profile" not in m.get("text", "")
    ]


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("/ticket ²", "Give a ticket number"),
        ("/ticket 99999999999999999999", "Give a ticket number"),
        ("/ticket ٣", "You have no ticket #3"),
        ("/status 1 ☃", "Usage: /status N"),
        ("/assign -5 @", "Give a ticket number"),
        ("/assign 1 99999999999999999999", "No agent"),
        ("/assign 1 --5", "No agent"),
        ("/assign 1 ²", "No agent"),
        ("/report ²", "Usage: /report"),
        ("/<b>", "I don't know /<b>."),
        ("/a&b", "I don't know /a&b."),
    ],
)
async def test_wrong_arguments_get_a_clear_answer(harness: Harness, watch, command, expected):
    if command.startswith("/assign 1"):
        await assigned_ticket(harness)
    said = await answers(harness.admin, command)
    assert any(expected in text for text in said), said
    assert not any(SORRY in text for text in said)
    assert not watch.records


@pytest.mark.parametrize(
    "data",
    [
        "rate:99999999999999999999:5",
        "rate:1:²",
        "pick:99999999999999999999:1",
        "pick:1:99999999999999999999",
        "page:all:²",
        "page:all:99999999999999999999",
        "assign:1:99999999999999999999",
        "assign:1:--5",
    ],
)
async def test_forged_buttons_are_refused(harness: Harness, watch, data) -> None:
    person = harness.admin if data.startswith("assign") else harness.user(1001, "Alice")
    if person is not harness.admin:  # an unregistered person's buttons are refused before
        await harness.register(person, name="Alice", email="alice@example.com")
    await settle(person)
    query = await person.press_data(person.inbox[-1], data)
    answers = harness.standin.callback_answers
    await person.wait_until(lambda _: query in answers, timeout=5)
    await settle(person)
    assert answers[query]["text"] in ("This button is not valid.", "No agent --5.")
    assert not watch.records


async def test_long_emoji_text_is_relayed_whole(harness: Harness, watch) -> None:
    customer, agent, number = await assigned_ticket(harness)
    text = "😀" * 2048  # 4096 UTF-16 units: the header makes it too long for one message
    await customer.send(text)
    first = await agent.receive_text(f"#{number} · Alice (1/2)")
    second = await agent.receive_text(f"#{number} · Alice (2/2)")
    bodies = [m["text"].split("\n", 1)[1] for m in (first, second)]
    assert "".join(bodies) == text
    await customer.send_photo(content=b"\x89PNG", caption="😀" * 600)
    copied = await agent.receive()
    assert copied["caption"].startswith(f"#{number} · Alice\n😀") and copied["caption"][-1] == "…"
    assert not watch.records


async def test_long_ticket_card_and_notices_arrive(harness: Harness, watch) -> None:
    customer = harness.user(1001, "Alice", "alice")
    await harness.register(customer, name="A&B <Alice>", email="alice@example.com")
    description = "🙂 & <desc> " * 333  # 3996 characters, 4995 UTF-16 units
    number = await harness.open_ticket(customer, subject="S" * 150, description=description)
    await customer.send(f"/ticket {number}")
    await customer.receive_text(f"#{number} · SSS")
    shown = ""
    while shown.count("<desc>") < 333:  # the description continues in further messages
        shown += (await customer.receive())["text"]
    agent = harness.user(2001, "Sam", "sam")
    await harness.add_agent(agent, "Sam & <Co>")
    await harness.admin.send(f"/assign {number} 2001")
    await agent.receive_text("A&B <Alice> is assigned to you")
    await customer.send("/feedback " + "<&>😀" * 999)
    await harness.admin.receive_text("Feedback from A&B <Alice>")
    await harness.admin.send("/removeagent 2001")
    await harness.admin.receive_text("Sam & <Co> is no longer an agent")
    await harness.application.bot_data.delivery.wait_idle()
    await asyncio.sleep(0.2)
    refused = [c for c in harness.standin.calls if c[2] >= 400 and c[0] not in IGNORED_CALLS]
    assert not refused, refused
    assert not watch.records


# -- updates the bot does not handle -------------------------------------------------------------
UNHANDLED = [
    {"channel_post": {"message_id": 1, "date": 1, "chat": {"id": -1001, "type": "channel",
                      "title": "News"}, "text": "/help"}},
    {"poll": {"id": "p1", "question": "Q?",
              "options": [{"text": "a", "voter_count": 0, "persistent_id": "o1"}],
              "total_voter_count": 0, "is_closed": False, "is_anonymous": True,
              "type": "regular", "allows_multiple_answers": False, "allows_revoting": False,
              "members_only": False}},
    {"inline_query": {"id": "q1", "from": {"id": 1001, "is_bot": False, "first_name": "A"},
                      "query": "<b>", "offset": ""}},
    {"my_chat_member": {"chat": {"id": 1001, "type": "private", "first_name": "A"},
                        "from": {"id": 1001, "is_bot": False, "first_name": "A"}, "date": 1,
                        "old_chat_member": {"status": "member", "user": {"id": 1,
                                            "is_bot": True, "first_name": "B"}},
                        "new_chat_member": {"status": "kicked", "until_date": 0,
                                            "user": {"id": 1, "is_bot": True,
                                                     "first_name": "B"}}}},
]  # fmt: skip


async def test_unhandled_updates_are_ignored_on_purpose(harness: Harness, watch) -> None:
    customer, agent, number = await assigned_ticket(harness)
    for update in UNHANDLED:
        harness.standin.push_update(update)
    sent = await customer.send("first")
    await customer.edit(sent, "edited <b>")
    await customer.send_in_group(-42, "/help")
    await customer.send_in_group(-42, "hello group & <all>")
    await harness.admin.send_in_group(-42, f"/status {number} closed")
    await settle(customer)
    await settle(harness.admin)
    await harness.standin.wait_acknowledged(timeout=5)
    await harness.application.bot_data.delivery.wait_idle()
    # The edit is carried (relay fidelity), escaped like any text; the rest changed nothing.
    assert [m["text"] for m in agent.inbox[-1:]] == [f"#{number} · Alice\nedited <b>\n(edited)"]
    assert harness.standin.chat(-42).inbox == []
    async with harness.resources.session_factory() as session:
        ticket = await session.get(Ticket, number)
        texts = list(await session.scalars(select(Message.text)))
    assert ticket.status == "Open" and texts == ["edited <b>"]
    assert not watch.records


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(texts=st.lists(st.one_of(TEXT, COMMAND), min_size=1, max_size=5))
async def test_group_messages_are_ignored(harness: Harness, watch, texts) -> None:
    customer = harness.user(1001, "Alice", "alice")
    for text in texts:
        await customer.send_in_group(-42, text)
    await settle(customer)
    assert harness.standin.chat(-42).inbox == []
    async with harness.resources.session_factory() as session:
        assert list(await session.scalars(select(Message))) == []
    assert not watch.records


# -- a user who blocked the bot, and failures ----------------------------------------------------
async def test_blocked_customer_changes_nothing_else(harness: Harness, watch) -> None:
    customer, agent, number = await assigned_ticket(harness)
    customer.block()
    await agent.send(f"/reply {number} are you there?")
    await agent.receive_text("Sent to the customer")
    await harness.application.bot_data.delivery.wait_idle()
    async with harness.resources.session_factory() as session:
        user = await session.scalar(select(User).where(User.telegram_id == customer.id))
        statuses = list(await session.scalars(select(Delivery.status)))
    assert user.blocked_at is not None and "pending" in statuses  # held for their return
    await customer.send("/help")  # answered into a blocked chat: refused, logged, no crash
    await customer.send("/<b>")  # a refusal from the guard, same
    await asyncio.sleep(0.5)
    customer.unblock()
    await customer.receive_text("are you there?")  # what was held for them
    await customer.send("back again")
    assert (await agent.receive_text("back again"))["text"].endswith("back again")
    async with harness.resources.session_factory() as session:
        user = await session.scalar(select(User).where(User.telegram_id == customer.id))
    assert user.blocked_at is None
    assert not [r for r in watch.records if "failed" in r]


async def test_a_failure_is_logged_with_the_update_id_and_apologised_for_once(
    harness: Harness, monkeypatch, caplog
) -> None:
    from bot.services import users

    customer = harness.user(1001, "Alice", "alice")

    async def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(users, "profile", broken)
    await customer.send("/start")
    await customer.receive_text("full name")
    await customer.send("/profile")  # unregistered: no service call, fine
    await customer.receive_text("not registered")
    monkeypatch.setattr(users, "touch", broken)  # the guard itself fails now
    sent = await customer.send("/help")
    await customer.receive_text(SORRY)
    await asyncio.sleep(0.5)
    texts = [m["text"] for m in customer.inbox]
    assert texts.count(SORRY) == 1 and not any("secret" in t for t in texts)
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    update_id = harness.standin.calls and re.search(r"update (\d+) failed", failures[0].message)
    assert update_id and int(update_id.group(1)) > 0
    assert sent["text"] == "/help"
    monkeypatch.undo()
    await customer.send("/cancel")  # the bot goes on
    await customer.receive_text("Registration cancelled")
