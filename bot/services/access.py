"""Who may do what: the one table behind the guard, /help and the command menus."""

from __future__ import annotations

from dataclasses import dataclass

from storage.models import Role

CUSTOMER, AGENT, ADMIN = Role.CUSTOMER, Role.AGENT, Role.ADMIN
EVERYONE = frozenset(Role)
STAFF = frozenset({AGENT, ADMIN})


@dataclass(frozen=True)
class Command:
    name: str
    roles: frozenset[Role]
    help: str
    usage: str = ""
    in_menu: bool = True


COMMANDS: tuple[Command, ...] = (
    Command("start", EVERYONE, "start or register"),
    Command("help", EVERYONE, "what you can do here"),
    Command("new", frozenset({CUSTOMER}), "open a new ticket"),
    Command(
        "tickets", frozenset({CUSTOMER, ADMIN}), "list tickets", "[open|unassigned|all|tag:word]"
    ),
    Command("ticket", EVERYONE, "show one ticket", "N"),
    Command("close", frozenset({CUSTOMER}), "close your ticket", "N"),
    Command("queue", STAFF, "tickets waiting for you"),
    Command("reply", STAFF, "answer a ticket's customer", "N text"),
    Command("note", STAFF, "internal note, never shown to the customer", "N text"),
    Command("status", STAFF, "change a ticket's status", "N status"),
    Command("resolve", STAFF, "mark a ticket resolved", "N"),
    Command("r", STAFF, "send a canned reply", "N name"),
    Command("canned", STAFF, "canned replies (admins: add, del)"),
    Command("tag", STAFF, "tag a ticket", "N word..."),
    Command("untag", STAFF, "remove a tag", "N word"),
    Command("transfer", STAFF, "hand a ticket to another agent", "N agent"),
    Command("history", STAFF, "the whole conversation as a file", "N"),
    Command("search", STAFF, "find tickets by their words", "words"),
    Command("assign", frozenset({ADMIN}), "assign a ticket to an agent", "N [agent]"),
    Command("agents", frozenset({ADMIN}), "list the agents"),
    Command("addagent", frozenset({ADMIN}), "invite a new agent", "name [email]"),
    Command("removeagent", frozenset({ADMIN}), "remove an agent", "agent"),
    Command("report", frozenset({ADMIN}), "summary and chart", "[days]"),
    Command("ban", frozenset({ADMIN}), "stop relaying a person's messages", "user [reason]"),
    Command("unban", frozenset({ADMIN}), "relay a banned person's messages again", "user"),
    Command("faq", EVERYONE, "search the help articles", "question"),
    Command("kb", frozenset({ADMIN}), "help articles: times shown and times they solved it"),
    Command("profile", EVERYONE, "your profile"),
    Command("feedback", frozenset({CUSTOMER, AGENT}), "send feedback to the admins", "text"),
    Command("deleteme", frozenset({CUSTOMER}), "erase your personal data"),
    Command("cancel", EVERYONE, "stop the current dialogue"),
    Command("skip", EVERYONE, "skip an optional answer", in_menu=False),
    Command("resend", frozenset({CUSTOMER}), "send a new email code", in_menu=False),
)
BY_NAME = {command.name: command for command in COMMANDS}

# Inline button data is "<prefix>:..."; each prefix belongs to the command that offers it.
BUTTON_COMMANDS = {
    "new": "new",
    "assign": "assign",
    "page": "tickets",
    "rate": "close",
    "pick": "new",
    "erase": "deleteme",
    "canned": "canned",
    # The knowledge base: an article of /faq; in /new, open an article, solved, still need help.
    "faq": "faq",
    "kbo": "new",
    "kbs": "new",
    "kbh": "new",
    "search": "search",
}


# What a banned person may still do (/ban): look at and close their tickets, erase their data.
# Anything else they send (messages, /new, /feedback, dialogue answers) is not passed on.
WHILE_BANNED = frozenset(
    {"help", "profile", "cancel", "skip", "tickets", "ticket", "close", "deleteme"}
)


def may_while_banned(command: str) -> bool:
    return command in WHILE_BANNED


def may_press_while_banned(data: str) -> bool:
    command = BUTTON_COMMANDS.get(data.split(":", 1)[0])
    return command is not None and may_while_banned(command)


def effective_role(stored_role: str, *, is_admin: bool) -> Role:
    """Admins come from ADMIN_IDS; everyone else has the role stored for them."""
    return ADMIN if is_admin else Role(stored_role)


def is_known_command(name: str) -> bool:
    return name in BY_NAME


def may_use(role: Role, command: str) -> bool:
    entry = BY_NAME.get(command)
    return entry is not None and role in entry.roles


def command_of_button(data: str) -> str | None:
    return BUTTON_COMMANDS.get(data.split(":", 1)[0])


def may_press(role: Role, data: str) -> bool:
    command = command_of_button(data)
    return command is not None and may_use(role, command)


def commands_for(role: Role, *, menu_only: bool = False) -> list[Command]:
    return [c for c in COMMANDS if role in c.roles and (c.in_menu or not menu_only)]
