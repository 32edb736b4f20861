"""Albums, quotes and caption edits in the stand-in, through python-telegram-bot's real Bot."""

import pytest
from telegram import InputMediaDocument, InputMediaPhoto, ReplyParameters
from telegram.error import BadRequest

from bot.standin import ApiError

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x02\0\0\0\x03"


@pytest.fixture
async def alice(standin):
    user = standin.user(1001, first_name="Alice")
    await user.send("/start")
    return user


async def test_user_album_arrives_as_updates_sharing_a_media_group(bot, alice):
    sent = await alice.send_album([PNG, PNG, PNG], caption="the printer")
    updates = (await bot.get_updates(timeout=0))[-3:]
    groups = {u.message.media_group_id for u in updates}
    assert len(groups) == 1 and None not in groups
    assert [u.message.message_id for u in updates] == [m["message_id"] for m in sent]
    assert [u.message.caption for u in updates] == ["the printer", None, None]


async def test_send_media_group_is_one_album_checked_whole(bot, alice):
    messages = await bot.send_media_group(
        1001,
        [InputMediaPhoto(PNG, caption="<b>one</b>", parse_mode="HTML"), InputMediaPhoto(PNG)],
    )
    assert len(messages) == 2 and messages[0].caption == "one"
    assert messages[0].media_group_id == messages[1].media_group_id is not None
    before = len(alice.inbox)
    with pytest.raises(BadRequest, match="2-10"):
        await bot.send_media_group(1001, [InputMediaPhoto(PNG)])
    with pytest.raises(BadRequest, match="mixed"):
        await bot.send_media_group(1001, [InputMediaPhoto(PNG), InputMediaDocument(b"x")])
    with pytest.raises(BadRequest, match="parse"):
        await bot.send_media_group(
            1001, [InputMediaPhoto(PNG, caption="<b>x", parse_mode="HTML"), InputMediaPhoto(PNG)]
        )
    assert len(alice.inbox) == before  # a refused album stores nothing


async def test_copy_messages_keeps_the_album_and_skips_missing_ids(bot, standin, alice):
    bob = standin.user(2002, first_name="Bob")
    await bob.send("/start")
    album = await alice.send_album([PNG, PNG], caption="see")
    single = await alice.send("and a text")
    ids = [m["message_id"] for m in album] + [single["message_id"], 999]
    copies = await bot.copy_messages(2002, 1001, ids)
    assert len(copies) == 3
    received = bob.inbox[-3:]
    assert received[0]["media_group_id"] == received[1]["media_group_id"]
    assert received[0]["media_group_id"] != album[0]["media_group_id"]
    assert "media_group_id" not in received[2] and received[2]["text"] == "and a text"
    with pytest.raises(BadRequest, match="increasing"):
        await bot.copy_messages(2002, 1001, [ids[1], ids[0]])
    with pytest.raises(BadRequest, match="no messages"):
        await bot.copy_messages(2002, 1001, [998, 999])


async def test_quotes_are_checked_against_the_replied_text(bot, alice):
    sent = await bot.send_message(1001, "Restart the router, then the printer.")
    reply = await alice.reply(sent.message_id, "done", quote="the printer")
    assert reply["quote"] == {"text": "the printer", "position": 25, "is_manual": True}
    update = (await bot.get_updates(timeout=0))[-1]
    assert update.message.quote.text == "the printer" and update.message.quote.position == 25
    with pytest.raises(ApiError, match="QUOTE_TEXT_INVALID"):
        await alice.reply(sent.message_id, "x", quote="not there")
    mine = await alice.send("my printer is broken")
    answer = await bot.send_message(
        1001, "which one?", reply_parameters=ReplyParameters(mine["message_id"], quote="printer")
    )
    assert answer.quote.text == "printer" and answer.quote.position == 3
    with pytest.raises(BadRequest, match=r"(?i)quote_text_invalid"):
        await bot.send_message(
            1001, "x", reply_parameters=ReplyParameters(mine["message_id"], quote="scanner")
        )


async def test_caption_edit_is_an_edited_message(bot, alice):
    photo = await alice.send_photo(PNG, caption="old")
    await alice.edit_caption(photo, "new")
    update = (await bot.get_updates(timeout=0))[-1]
    assert update.edited_message.caption == "new"
    assert update.edited_message.message_id == photo["message_id"]
