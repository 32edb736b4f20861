"""Admins: inviting agents and seeing the team."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.formatting import esc
from bot.services import agents, invites
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext
from handlers.framework import Reply, action


@action
async def add_agent(update: Update, context: HelpdeskContext) -> Reply:
    args = context.args or []
    email = args.pop() if len(args) > 1 and "@" in args[-1] else None
    if not args:
        raise Invalid("Usage: /addagent <name> [email]")
    invite = await invites.create(
        context.session, by=context.actor, name=" ".join(args), email=email
    )
    link = f"https://t.me/{context.bot_data.bot_username}?start={invite.token}"
    return Reply(
        f"Invite for <b>{esc(invite.name)}</b>, valid 7 days and usable once:\n{esc(link)}\n\n"
        "Send it to the new agent; opening it makes their Telegram account an agent."
    )


@action
async def list_agents(update: Update, context: HelpdeskContext) -> Reply:
    team = await agents.team(context.session)
    if not team:
        return Reply("No agents yet. Invite one with /addagent <name> [email].")
    tz = context.resources.settings.tz
    lines = ["<b>Agents</b> (id · username · name · open tickets · last active)"]
    for agent in team:
        username = f"@{esc(agent.username)}" if agent.username else "—"
        seen = (
            agent.last_active_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            if agent.last_active_at
            else "never"
        )
        lines.append(
            f"<code>{agent.telegram_id}</code> · {username} · {esc(agent.name)}"
            f" · {agent.open_load} · {seen}"
        )
    return Reply("\n".join(lines))


def handlers() -> list:
    return [CommandHandler("addagent", add_agent), CommandHandler("agents", list_agents)]
