from __future__ import annotations

import re

from sqlalchemy import select, update

from bot.clock import utcnow
from storage.models import AgentInvite, Role, User
from tests.support.harness import ADMIN_ID, Harness


async def invite_token(harness: Harness, name: str = "Zoe Agent") -> str:
    await harness.admin.send(f"/addagent {name} zoe@example.com")
    invite = await harness.admin.receive_text("Invite for")
    assert "https://t.me/helpdesk_test_bot?start=" in invite["text"]
    return re.search(r"start=([A-Za-z0-9_-]+)", invite["text"]).group(1)


async def test_invite_makes_an_agent_once(harness: Harness) -> None:
    token = await invite_token(harness)
    zoe, mallory = harness.user(2001, "Zoe", "zoe"), harness.user(2002, "Mallory")
    await zoe.send(f"/start {token}")
    await zoe.receive_text("You are now an agent")
    await harness.admin.receive_text("accepted the invite")
    await mallory.send(f"/start {token}")
    await mallory.receive_text("already been used")
    async with harness.resources.session_factory() as session:
        roles = dict((await session.execute(select(User.telegram_id, User.role))).all())
        stored = await session.scalar(select(AgentInvite.token_hash))
    assert roles[2001] == Role.AGENT and roles[2002] == Role.CUSTOMER
    assert token not in stored  # only the hash is kept
    await harness.admin.send("/agents")
    listing = await harness.admin.receive_text("Agents")
    assert "2001" in listing["text"] and "@zoe" in listing["text"]
    # the agent's chat gets the agents' menu, customers the default one
    agent_menu = {c["command"] for c in harness.standin.commands({"type": "chat", "chat_id": 2001})}
    default_menu = {c["command"] for c in harness.standin.commands()}
    assert {"queue", "reply", "note"} <= agent_menu and "new" not in agent_menu
    assert "new" in default_menu and "assign" not in default_menu


async def test_expired_invite_is_refused(harness: Harness) -> None:
    token = await invite_token(harness)
    async with harness.resources.session_factory() as session:
        await session.execute(update(AgentInvite).values(expires_at=utcnow()))
        await session.commit()
    yuri = harness.user(2003, "Yuri")
    await yuri.send(f"/start {token}")
    await yuri.receive_text("has expired")
    await yuri.send("/start not-a-real-token")
    await yuri.receive_text("not valid")
    await yuri.send("/start bad*token!")
    await yuri.receive_text("not valid")


async def test_customer_cannot_use_admin_or_agent_commands(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    for command in ("/addagent Eve", "/agents", "/assign 1 2", "/queue", "/note 1 hi", "/report"):
        await alice.send(command)
        await alice.receive_text("not available to you")
    await alice.send("/frobnicate")
    await alice.receive_text("I don't know /frobnicate")
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(AgentInvite)) is None


async def test_help_lists_commands_per_role(harness: Harness) -> None:
    alice = harness.user(1001, "Alice")
    await alice.send("/help")
    customer_help = (await alice.receive_text("What you can do"))["text"]
    await harness.admin.send("/help")
    admin_help = (await harness.admin.receive_text("What you can do"))["text"]
    assert "/new" in customer_help and "/assign" not in customer_help
    assert "/assign" in admin_help and "/addagent" in admin_help and "/new" not in admin_help
    admin_menu = harness.standin.commands({"type": "chat", "chat_id": ADMIN_ID})
    assert {c["command"] for c in admin_menu} >= {"assign", "agents", "addagent"}
