"""Simulated users, the control API, the standalone process and a PTB Application."""

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

ROOT = Path(__file__).resolve().parents[2]


async def test_user_identity_and_receive(standin, api):
    alice = standin.user(1001, first_name="Alice", username="alice", language_code="en")
    assert standin.user(1001) is alice
    sent = await alice.send("/start abc")
    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert sent["from"] == {
        "id": 1001,
        "is_bot": False,
        "first_name": "Alice",
        "username": "alice",
        "language_code": "en",
    }
    with pytest.raises(TimeoutError, match="inbox of Alice"):
        await alice.receive(timeout=0.1)
    await api.ok("sendMessage", chat_id=1001, text="Welcome")
    await api.ok("sendMessage", chat_id=1001, text="Ticket #1 created")
    assert (await alice.receive())["text"] == "Welcome"
    assert (await alice.receive_text(containing="#1"))["text"] == "Ticket #1 created"
    with pytest.raises(TimeoutError, match="no message containing '#2'"):
        await alice.receive_text(containing="#2", timeout=0.1)
    later = asyncio.get_running_loop().call_later(
        0.1, lambda: asyncio.ensure_future(api.ok("sendMessage", chat_id=1001, text="third"))
    )
    inbox = await alice.wait_until(lambda inbox: len(inbox) >= 3, timeout=2)
    later.cancel()
    assert inbox[-1]["text"] == "third"


async def test_reply_edit_and_media_from_users(standin, api):
    alice = standin.user(1001, first_name="Alice")
    await alice.send("first")
    bot_message = await api.ok("sendMessage", chat_id=1001, text="question?")
    answer = await alice.reply(to=bot_message, text="answer")
    assert answer["reply_to_message"]["text"] == "question?"
    edited = await alice.edit(answer, "better answer")
    assert edited["edit_date"] > 0
    video = await alice.send_video(b"mp4", caption="clip")
    sticker = await alice.send_sticker()
    updates = await api.ok("getUpdates")
    kinds = [next(k for k in u if k != "update_id") for u in updates]
    assert kinds == ["message", "message", "edited_message", "message", "message"]
    assert updates[3]["message"] == video and updates[4]["message"] == sticker
    with pytest.raises(ValueError, match="does not exist"):
        await alice.reply(to=999, text="x")


async def test_control_api(standin, http, api):
    response = await http.post(
        f"{standin.url}/_standin/send", json={"user_id": 7, "text": "hi", "first_name": "Remote"}
    )
    assert response.json()["result"]["from"]["first_name"] == "Remote"
    await api.ok("sendMessage", chat_id=7, text="reply")
    inbox = (await http.get(f"{standin.url}/_standin/inbox/7")).json()["result"]
    assert [m["text"] for m in inbox] == ["reply"]
    stats = (await http.get(f"{standin.url}/_standin/stats")).json()["result"]
    assert stats["calls"]["sendMessage"] == 1 and stats["pending_updates"] == 1


def test_standalone_process():
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.standin", "--port", "0", "--token", "42:T"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(trust_env=False) as client:
            me = client.post(f"{url}/bot42:T/getMe").json()["result"]
        assert me["id"] == 42
    finally:
        process.terminate()
        process.wait(5)
        process.stdout.close()
    assert process.returncode == 0


async def test_ptb_application_end_to_end(standin):
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = [[InlineKeyboardButton("Low", callback_data="prio:low")]]
        await update.message.reply_text(
            f"Hi {update.effective_user.first_name}, args={context.args}",
            reply_markup=InlineKeyboardMarkup(keyboard),
            do_quote=True,
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.callback_query.answer("Saved")
        await update.callback_query.edit_message_text(f"Priority: {update.callback_query.data}")

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(update.message.text.upper())

    app = (
        Application.builder()
        .token(standin.token)
        .base_url(f"{standin.url}/bot")
        .base_file_url(f"{standin.url}/file/bot")
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(pressed))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    alice = standin.user(1001, first_name="Alice")
    await app.initialize()
    await app.updater.start_polling(poll_interval=0, timeout=5)
    await app.start()
    try:
        await alice.send("/start abc")
        menu = await alice.receive(timeout=5)
        assert menu["text"] == "Hi Alice, args=['abc']"
        assert menu["reply_to_message"]["text"] == "/start abc"
        query_id = await alice.press(menu, "Low")
        await alice.wait_until(lambda inbox: inbox[0]["text"] == "Priority: prio:low")
        assert standin.callback_answers[query_id]["text"] == "Saved"
        for i in range(20):
            await alice.send(f"msg {i}")
        last = await alice.receive_text(containing="MSG 19", timeout=5)
        assert "reply_to_message" not in last  # reply_text quotes only when asked in private
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
    await standin.wait_acknowledged(timeout=5)
