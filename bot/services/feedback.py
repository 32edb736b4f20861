"""/feedback: free text to the admins, kept."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import outbound, users, validation
from bot.services.users import Actor
from storage.models import Feedback


async def send(session: AsyncSession, *, actor: Actor, text: str, admin_ids: list[int]) -> None:
    text = validation.text(text, field="feedback", limit=validation.FEEDBACK_MAX)
    session.add(Feedback(user_id=actor.user_id, text=text))
    admins = {admin.telegram_id for admin in await users.admins(session)} | set(admin_ids)
    # Plain header and body: the sender escapes them and splits feedback past 4096 characters.
    header = f"Feedback from {actor.name} ({actor.role.value}, id {actor.telegram_id}):"
    for chat_id in sorted(admins):
        await outbound.queue_relay_text(
            session, chat_id=chat_id, header=header, body=text, ticket_id=None, message_id=None
        )
