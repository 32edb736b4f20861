from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


async def test_register_without_phone_skips_it(harness: Harness) -> None:
    bob = harness.user(1002, "Bob")
    await harness.register(bob, name="Bob", email="bob@example.com")
    user = await registered_user(harness, 1002)
    assert user.phone is None and user.registered_at is not None


async def test_invalid_email_is_refused_and_asked_again(harness: Harness) -> None:
    carol = harness.user(1003, "Carol")
    await carol.send("/start")
    await carol.receive_text("full name")
    await carol.send("Carol")
    await carol.receive_text("email")
    await carol.send("carol at example dot com")
    await carol.receive_text("does not look like an email")
    await carol.send("carol@example.com")
    await carol.receive_text("6-digit code")
    assert len(await harness.mails_to("carol@example.com")) == 1


async def test_over_long_name_is_refused(harness: Harness) -> None:
    dave = harness.user(1004, "Dave")
    await dave.send("/start")
    await dave.receive_text("full name")
    await dave.send("D" * 101)
    reply = await dave.receive_text("too long")
    assert "at most 100" in reply["text"]
    await dave.send("Dave")
    await dave.receive_text("email")


async def test_three_wrong_codes_need_a_new_code(harness: Harness) -> None:
    erin = harness.user(1005, "Erin")
    await erin.send("/start")
    await erin.receive_text("full name")
    await erin.send("Erin")
    await erin.receive_text("email")
    await erin.send("erin@example.com")
    await erin.receive_text("6-digit code")
    good = await harness.latest_code("erin@example.com")
    wrong = "000000" if good != "000000" else "111111"
    await erin.send(wrong)
    await erin.receive_text("2 tries left")
    await erin.send(wrong)
    await erin.receive_text("1 try left")
    await erin.send(wrong)
    await erin.receive_text("Too many wrong codes")
    await erin.send(good)  # even the right code no longer works
    await erin.receive_text("Too many wrong codes")
    await erin.send("/resend")
    await erin.receive_text("new code is on its way")
    fresh = await harness.latest_code("erin@example.com")
    await erin.send(fresh)
    await erin.receive_text("verified")
    user = await registered_user(harness, 1005)
    assert user.registered_at is None  # not until the phone question is answered


async def test_expired_code_is_refused(harness: Harness, time_machine) -> None:
    frank = harness.user(1006, "Frank")
    await frank.send("/start")
    await frank.receive_text("full name")
    await frank.send("Frank")
    await frank.receive_text("email")
    await frank.send("frank@example.com")
    await frank.receive_text("6-digit code")
    code = await harness.latest_code("frank@example.com")
    time_machine.move_to(datetime.now(UTC) + timedelta(minutes=16), tick=True)
    await frank.send(code)
    await frank.receive_text("expired")


async def test_unregistered_customer_cannot_open_tickets(harness: Harness) -> None:
    gina = harness.user(1007, "Gina")
    await gina.send("/new")
    await gina.receive_text("register first")
    await gina.send("hello?")
    await gina.receive_text("register first")
