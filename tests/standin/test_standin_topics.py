"""Forum topics in the stand-in, through python-telegram-bot's real Bot: private chats with topic
mode, forum supergroups, Telegram's refusals and the traps reported against the Bot API."""

import pytest
from telegram.error import BadRequest

GROUP = -1001234567890


@pytest.fixture
async def alice(standin):
    user = standin.user(1001, first_name="Alice", username="alice")
    await user.send("/start")
    return user


@pytest.fixture
def topics_on(standin):
    standin.topics_enabled = True


async def test_get_me_reports_topic_mode_as_switched(bot, standin):
    assert (await bot.get_me()).has_topics_enabled is False
    standin.topics_enabled = True
    assert (await bot.get_me()).has_topics_enabled is True


async def test_create_topic_in_private_chat_needs_topic_mode(bot, standin, alice):
    with pytest.raises(BadRequest, match=r"(?i)not a forum"):
        await bot.create_forum_topic(1001, "#1 · Printer")
    standin.topics_enabled = True
    topic = await bot.create_forum_topic(1001, "#1 · Printer")
    assert topic.name == "#1 · Printer" and topic.icon_color == 0x6FB9F0
    created = alice.inbox[-1]
    assert created["message_id"] == topic.message_thread_id
    assert created["forum_topic_created"]["name"] == "#1 · Printer"
    assert created["message_thread_id"] == topic.message_thread_id
    assert alice.topic_named("#1 · Printer").thread_id == topic.message_thread_id


async def test_topic_names_are_one_to_128_characters(bot, topics_on, alice):
    for bad in ("", "   ", "x" * 129):
        with pytest.raises(BadRequest, match=r"(?i)topic_title"):
            await bot.create_forum_topic(1001, bad)
    assert (await bot.create_forum_topic(1001, "x" * 128)).name == "x" * 128
    with pytest.raises(BadRequest, match=r"(?i)topic_icon_color_invalid"):
        await bot.create_forum_topic(1001, "colour", icon_color=123)


async def test_sends_into_a_topic_carry_the_thread_and_reply_to_its_creation(bot, topics_on, alice):
    thread = (await bot.create_forum_topic(1001, "#1 · Printer")).message_thread_id
    sent = await bot.send_message(1001, "<b>hello</b>", parse_mode="HTML", message_thread_id=thread)
    assert sent.message_thread_id == thread and sent.is_topic_message
    assert sent.reply_to_message.forum_topic_created.name == "#1 · Printer"
    photo = await bot.send_photo(1001, b"\x89PNG\r\n\x1a\n", message_thread_id=thread)
    copied = await bot.copy_message(1001, 1001, sent.message_id, message_thread_id=thread)
    forwarded = await bot.forward_message(1001, 1001, sent.message_id, message_thread_id=thread)
    assert await bot.send_chat_action(1001, "typing", message_thread_id=thread)
    assert photo.message_thread_id == forwarded.message_thread_id == thread
    in_topic = alice.in_thread(thread)
    assert [m["message_id"] for m in in_topic] == [
        thread,
        sent.message_id,
        photo.message_id,
        copied.message_id,
        forwarded.message_id,
    ]
    outside = await bot.send_message(1001, "main chat")
    assert outside.message_thread_id is None and outside.reply_to_message is None


async def test_general_unknown_and_deleted_threads_are_refused(bot, standin, topics_on, alice):
    thread = (await bot.create_forum_topic(1001, "#1 · Printer")).message_thread_id
    await bot.send_message(1001, "in the topic", message_thread_id=thread)
    for bad in (1, 999):
        with pytest.raises(BadRequest, match="Message thread not found"):
            await bot.send_message(1001, "x", message_thread_id=bad)
        with pytest.raises(BadRequest, match="Message thread not found"):
            await bot.edit_forum_topic(1001, bad, name="y")
    assert await bot.delete_forum_topic(1001, thread)
    assert alice.in_thread(thread) == [] or all(
        m["message_id"] in alice.deleted for m in alice.in_thread(thread)
    )
    assert thread in alice.deleted  # the topic's messages went with it
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(1001, "into the deleted topic", message_thread_id=thread)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.delete_forum_topic(1001, thread)
    # The other reported behaviour of a deleted private topic: the message lands in the chat.
    standin.deleted_topic_lands_in_chat = True
    landed = await bot.send_message(1001, "lands outside", message_thread_id=thread)
    assert landed.message_thread_id is None


async def test_topic_deleted_by_the_user_refuses_sends(bot, topics_on, alice):
    thread = (await bot.create_forum_topic(1001, "#2 · Mail")).message_thread_id
    alice.delete_topic(thread)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(1001, "x", message_thread_id=thread)


async def test_edit_renames_once_and_refuses_no_change(bot, topics_on, alice):
    thread = (await bot.create_forum_topic(1001, "#1 · Printer")).message_thread_id
    assert await bot.edit_forum_topic(1001, thread, name="✅ #1 · Printer")
    assert alice.topics[thread].name == "✅ #1 · Printer"
    assert alice.inbox[-1]["forum_topic_edited"] == {"name": "✅ #1 · Printer"}
    with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
        await bot.edit_forum_topic(1001, thread, name="✅ #1 · Printer")
    with pytest.raises(BadRequest, match=r"(?i)topic_title"):
        await bot.edit_forum_topic(1001, thread, name="y" * 129)


async def test_close_and_reopen_work_in_supergroups_only(bot, standin, topics_on, alice):
    thread = (await bot.create_forum_topic(1001, "#1 · Printer")).message_thread_id
    with pytest.raises(BadRequest, match=r"(?i)only for supergroups"):
        await bot.close_forum_topic(1001, thread)
    with pytest.raises(BadRequest, match=r"(?i)only for supergroups"):
        await bot.reopen_forum_topic(1001, thread)

    standin.forum_group(GROUP, "Support team")
    agent = standin.user(2001, first_name="Agent")
    team_thread = (await bot.create_forum_topic(GROUP, "#1 · Printer")).message_thread_id
    await agent.send_in_group(GROUP, "taking it", thread=team_thread)
    assert await bot.close_forum_topic(GROUP, team_thread)
    with pytest.raises(BadRequest, match=r"(?i)topic_not_modified"):
        await bot.close_forum_topic(GROUP, team_thread)
    with pytest.raises(ValueError, match="TOPIC_CLOSED"):
        await agent.send_in_group(GROUP, "closed?", thread=team_thread)
    # The bot, an administrator, may still write in a closed topic.
    assert (await bot.send_message(GROUP, "note", message_thread_id=team_thread)).is_topic_message
    assert await bot.reopen_forum_topic(GROUP, team_thread)
    await agent.send_in_group(GROUP, "open again", thread=team_thread)
    kinds = [next(k for k in m if k.startswith("forum_topic_")) for m in
             standin.chat(GROUP).inbox if any(k.startswith("forum_topic_") for k in m)]  # fmt: skip
    assert kinds == ["forum_topic_created", "forum_topic_closed", "forum_topic_reopened"]


async def test_forum_group_needs_can_manage_topics(bot, standin):
    standin.forum_group(GROUP, bot_rights={})
    member = await bot.get_chat_member(GROUP, standin.store.bot_id)
    assert member.status == "administrator" and member.can_manage_topics is False
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.create_forum_topic(GROUP, "#1")
    standin.forum_group(GROUP + 1)
    member = await bot.get_chat_member(GROUP + 1, standin.store.bot_id)
    assert member.can_manage_topics is True
    with pytest.raises(BadRequest, match=r"(?i)not a forum"):
        standin.store.register_chat({"id": -5, "type": "group", "title": "plain"})
        await bot.create_forum_topic(-5, "#1")


async def test_fault_switch_fails_sends_into_topics_only(bot, standin, topics_on, alice):
    thread = (await bot.create_forum_topic(1001, "#1 · Printer")).message_thread_id
    standin.fail_topic_sends = True
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(1001, "x", message_thread_id=thread)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.copy_message(1001, 1001, 1, message_thread_id=thread)
    assert (await bot.send_message(1001, "outside")).message_thread_id is None
    standin.fail_topic_sends = False
    assert (await bot.send_message(1001, "x", message_thread_id=thread)).is_topic_message


async def test_user_messages_in_a_topic_reply_to_its_creation_message(bot, standin, topics_on):
    alice = standin.user(1001, first_name="Alice")
    await alice.send("/start")
    thread = (await bot.create_forum_topic(1001, "#1 · Printer")).message_thread_id
    bot_message = await bot.send_message(1001, "card", message_thread_id=thread)
    await alice.send("plain message in the topic", thread=thread)
    await alice.reply(bot_message.message_id, "a real reply")
    await alice.send("outside every topic")
    updates = await bot.get_updates(timeout=0)
    plain, reply, outside = (u.message for u in updates[-3:])
    assert plain.message_thread_id == thread and plain.is_topic_message
    # The trap: a plain message in a topic "replies" to the topic's creation message.
    assert plain.reply_to_message.message_id == thread
    assert plain.reply_to_message.forum_topic_created is not None
    assert reply.message_thread_id == thread
    assert reply.reply_to_message.message_id == bot_message.message_id
    assert outside.message_thread_id is None and outside.reply_to_message is None
    with pytest.raises(ValueError, match="does not exist"):
        await alice.send("General", thread=1)
