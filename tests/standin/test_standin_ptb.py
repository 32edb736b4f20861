"""python-telegram-bot's real Bot (httpx) against the stand-in."""

import pytest
from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut


@pytest.fixture
async def alice(standin):
    user = standin.user(1001, first_name="Alice", username="alice", language_code="en")
    await user.send("/start")
    return user


async def test_get_me_and_send(bot, alice):
    me = await bot.get_me()
    assert me.username == "helpdesk_test_bot" and me.is_bot
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Low", callback_data="prio:low")]])
    message = await bot.send_message(1001, "<b>New</b> ticket", parse_mode=ParseMode.HTML,
                                     reply_markup=markup)  # fmt: skip
    assert message.text == "New ticket"
    assert message.entities[0].type == "bold"
    assert message.reply_markup == markup
    assert message.date.timestamp() > 0
    assert (await alice.receive())["text"] == "New ticket"


async def test_copy_edit_and_reply(bot, standin, alice):
    bob = standin.user(2002, first_name="Bob")
    await bob.send("hi")
    copied = await bot.copy_message(2002, from_chat_id=1001, message_id=1)
    assert bob.inbox[-1]["text"] == "/start" and copied.message_id == bob.inbox[-1]["message_id"]
    sent = await bot.send_message(1001, "v1", reply_to_message_id=1)
    assert sent.reply_to_message.text == "/start"
    edited = await bot.edit_message_text("v2", chat_id=1001, message_id=sent.message_id)
    assert edited.text == "v2" and edited.edit_date is not None
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("v2", chat_id=1001, message_id=sent.message_id)
    assert await bot.delete_message(1001, sent.message_id)


async def test_get_file_and_download(bot, alice):
    sent = await alice.send_document(b"%PDF-1.4 report", filename="report.pdf",
                                     mime_type="application/pdf")  # fmt: skip
    file = await bot.get_file(sent["document"]["file_id"])
    assert file.file_size == 15
    assert bytes(await file.download_as_bytearray()) == b"%PDF-1.4 report"
    photo = await alice.send_photo(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03")
    file = await bot.get_file(photo["photo"][-1]["file_id"])
    assert file.file_path.endswith(".jpg")


async def test_send_files_upload_and_file_id(bot, alice):
    message = await bot.send_document(1001, b"hello", filename="h.txt", caption="c")
    assert message.document.file_name == "h.txt" and message.caption == "c"
    again = await bot.send_document(1001, message.document.file_id)
    assert again.document.file_id == message.document.file_id
    voice = await bot.send_voice(1001, b"OggS", duration=2)
    assert voice.voice.duration.total_seconds() == 2
    photo = await bot.send_photo(1001, b"\xff\xd8\xff\xe0", caption="p")
    assert photo.photo[0].file_size == 4
    sticker = await bot.send_sticker(1001, b"RIFF")
    assert sticker.sticker.type == "regular"
    video = await bot.send_video(1001, b"mp4")
    assert video.video.duration.total_seconds() == 1
    assert [bool(m.get("caption")) for m in alice.inbox] == [True, False, False, True, False, False]


async def test_commands_per_scope(bot, standin, alice):
    await bot.set_my_commands([BotCommand("start", "Start")])
    await bot.set_my_commands([BotCommand("queue", "Queue")], scope=BotCommandScopeChat(1001))
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(1001))] == [
        "queue"
    ]
    assert standin.commands({"type": "chat", "chat_id": 1001})[0]["command"] == "queue"
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_errors_map_to_ptb_exceptions(bot, standin, alice):
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(4040, "x")
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(1001, "x" * 4097)
    alice.block()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(1001, "x")
    alice.unblock()
    standin.faults.add("sendMessage", "429", retry_after=7, times=2)
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(1001, "x")
        assert info.value.retry_after.total_seconds() == 7
    assert (await bot.send_message(1001, "through")).text == "through"
    standin.faults.add("sendMessage", "502")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(1001, "x")
    standin.faults.add("sendMessage", "500")
    with pytest.raises(NetworkError):
        await bot.send_message(1001, "x")
    standin.faults.add("sendMessage", "403", chat_id=1001)
    with pytest.raises(Forbidden):
        await bot.send_message(1001, "x")
    assert [m["text"] for m in alice.inbox] == ["through"]
    assert [c[2] for c in standin.calls if c[0] == "sendMessage"][-4:] == [200, 502, 500, 403]


async def test_timeout_and_drop_after_accept(bot, standin, alice):
    standin.faults.add("sendMessage", "timeout", hold=1.0)
    with pytest.raises(TimedOut):
        await bot.send_message(1001, "lost", read_timeout=0.3)
    standin.faults.add("sendMessage", "timeout")
    with pytest.raises(NetworkError):
        await bot.send_message(1001, "lost")
    assert alice.inbox == [] and standin.count("sendMessage") == 0
    standin.faults.add("sendMessage", "drop_after_accept")
    with pytest.raises(NetworkError):
        await bot.send_message(1001, "delivered anyway")
    assert [m["text"] for m in alice.inbox] == ["delivered anyway"]
    assert standin.count("sendMessage") == 1


async def test_random_faults_are_reproducible(bot, standin, alice):
    outcomes = []
    for _attempt in range(2):
        standin.faults.random(rate=0.5, kinds=["429", "502"], seed=42)
        run = []
        for i in range(12):
            try:
                await bot.send_message(1001, f"m{i}")
                run.append("ok")
            except RetryAfter:
                run.append("429")
            except NetworkError:
                run.append("502")
        outcomes.append(run)
        standin.faults.clear()
    assert outcomes[0] == outcomes[1] and {"ok", "429", "502"} <= set(outcomes[0])
    assert (await bot.get_me()).username  # getMe is exempt from random faults
