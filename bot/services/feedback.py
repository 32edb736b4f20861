"""/feedback: free text to the admins, kept."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot import notices
from bot.formatting import esc
from bot.services import users, validation
from bot.services.users import Actor
from storage.models import Feedback


async def send(session: AsyncSession, *, actor: Actor, text: str, admin_ids: list[int]) -> None:
    text = validation.text(text, field="feedback", limit=validation.FEEDBACK_MAX)
    session.add(Feedback(user_id=actor.user_id, text=text))
    admins = {admin.telegram_id for admin in await users.admins(session)} | set(admin_ids)
    await notices.to_staff(
        session,
        sorted(admins),
        f"<b>Feedback from {esc(actor.name)}</b> ({actor.role.value}, id {actor.telegram_id}):\n"
        f"{esc(text)}",
    )
