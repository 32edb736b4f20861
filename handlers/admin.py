"""Admins: inviting agents and seeing the team."""

from __future__ import annotations

from markupsafe import Markup
from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.formatting import pack_lines
from bot.services import agents, invites, lifecycle, tickets, validation
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext
from handlers.framework import Answer, Edit, Reply, Result, action

NO_AGENTS = "No agents yet. Invite one with /addagent <name> [email]."


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
        Markup(
            "Invite for <b>{}</b>, valid 7 days and usable once:\n{}\n\n"
            "Send it to the new agent; opening it makes their Telegram account an agent."
        ).format(invite.name, link)
    )


@action
async def list_agents(update: Update, context: HelpdeskContext) -> Result:
    team = await agents.team(context.session)
    if not team:
        return Reply(NO_AGENTS)
    tz = context.resources.settings.tz
    lines = [Markup("<b>Agents</b> (id · username · name · open tickets · last active)")]
    for agent in team:
        username = f"@{agent.username}" if agent.username else "—"
        seen = (
            agent.last_active_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            if agent.last_active_at
            else "never"
        )
        lines.append(
            Markup("<code>{}</code> · {} · {} · {} · {}").format(
                agent.telegram_id, username, agent.name, agent.open_load, seen
            )
        )
    return [Reply(text) for text in pack_lines(lines)]


@action
async def assign(update: Update, context: HelpdeskContext) -> Reply:
    args = context.args or []
    if not args:
        raise Invalid("Usage: /assign N [agent id or @username]")
    number = validation.ticket_number(args[0])
    if len(args) == 1:
        view = await tickets.view(context.session, actor=context.actor, number=number)
        team = await agents.team(context.session, include_admins=True)
        if not team:
            return Reply(NO_AGENTS)
        buttons = [
            [(f"{agent.name} ({agent.open_load} open)", f"assign:{number}:{agent.telegram_id}")]
            for agent in team
        ]
        return Reply(f"Assign #{number} ({view.subject}) to:", buttons=buttons)
    ticket = await lifecycle.assign(
        context.session, by=context.actor, number=number, agent_ref=" ".join(args[1:])
    )
    return Reply(f"#{ticket.id} is assigned. The agent and the customer have been told.")


@action
async def assign_button(update: Update, context: HelpdeskContext) -> Result:
    try:
        _, number, agent_id = update.callback_query.data.split(":")
        number = validation.ticket_number(number)
        validation.small_number(agent_id.removeprefix("-"), digits=18)
    except (ValueError, Invalid):
        return Answer("This button is not valid.", alert=True)
    await lifecycle.assign(context.session, by=context.actor, number=number, agent_ref=agent_id)
    return [Answer(f"#{number} assigned"), Edit(f"#{number} is assigned.")]


@action
async def remove_agent(update: Update, context: HelpdeskContext) -> Reply:
    if not context.args:
        raise Invalid("Usage: /removeagent <agent id or @username>")
    removed = await lifecycle.remove_agent(
        context.session, by=context.actor, agent_ref=" ".join(context.args)
    )
    return Reply(f"{removed.name} is no longer an agent.")


def handlers() -> list:
    return [
        CommandHandler("addagent", add_agent),
        CommandHandler("agents", list_agents),
        CommandHandler("assign", assign),
        CallbackQueryHandler(assign_button, pattern=r"^assign:"),
        CommandHandler("removeagent", remove_agent),
    ]
