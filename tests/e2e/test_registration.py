from __future__ import annotations

from sqlalchemy import select

from storage.models import User
from tests.support.harness import Harness


async def registered_user(harness: Harness, telegram_id: int) -> User | None:
    async with harness.resources.session_factory() as session:
        return await session.scalar(select(User).where(User.telegram_id == telegram_id))


async def test_register_with_code_stores_verified_profile(harness: Harness) -> None:
    alice = harness.user(1001, "Alice", "alice")
    await harness.register(
        alice, name="Alice Liddell", email="Alice@Example.com", phone="+44 20 7946 0958"
    )

    user = await registered_user(harness, 1001)
    assert user.name == "Alice Liddell"
    assert user.email == "Alice@example.com"
    assert user.email_verified_at is not None
    assert user.phone == "+44 20 7946 0958"
    await alice.send("/profile")
    profile = await alice.receive_text("Your profile")
    assert "Alice@example.com (verified)" in profile["text"]
