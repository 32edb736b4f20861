"""The stand-in's wire format and refusals, checked with raw HTTP calls."""

import json

import pytest

KEYBOARD = json.dumps({"inline_keyboard": [[{"text": "Low", "callback_data": "prio:low"}]]})


@pytest.fixture
async def alice(standin):
    user = standin.user(1001, first_name="Alice", username="alice", language_code="en")
    await user.send("hello")
    return user


async def test_get_me(api):
    me = await api.ok("getMe")
    assert me == {
        "id": 123456,
        "is_bot": True,
        "first_name": "Helpdesk Test Bot",
        "username": "helpdesk_test_bot",
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
        "has_topics_enabled": False,
        "allows_users_to_create_topics": False,
    }


async def test_wrong_token_unknown_method_and_case_insensitive_names(standin, http, api):
    response = await http.post(f"{standin.url}/bot999:wrong/getMe")
    assert response.status_code == 401
    assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert await api.error("sendTelepathy") == (404, "Not Found")
    assert (await api.ok("GETME"))["username"] == "helpdesk_test_bot"
    assert standin.count("getme") == 1


async def test_json_body_and_query_string(standin, http, alice):
    base = f"{standin.url}/bot{standin.token}"
    response = await http.post(
        f"{base}/sendMessage",
        json={"chat_id": 1001, "text": "json", "reply_markup": json.loads(KEYBOARD)},
    )
    assert response.json()["result"]["reply_markup"] == json.loads(KEYBOARD)
    response = await http.get(f"{base}/sendMessage", params={"chat_id": "1001", "text": "qs"})
    assert response.json()["result"]["text"] == "qs"
    assert [m["text"] for m in alice.inbox] == ["json", "qs"]


async def test_send_message_shape_and_per_chat_ids(standin, api, alice):
    bob = standin.user(1002, first_name="Bob")
    await bob.send("hi")
    first = await api.ok("sendMessage", chat_id=1001, text="one", reply_markup=KEYBOARD)
    second = await api.ok("sendMessage", chat_id=1001, text="two")
    other = await api.ok("sendMessage", chat_id=1002, text="bob")
    assert first["message_id"] == 2 and second["message_id"] == 3 and other["message_id"] == 2
    assert first["from"] == standin.bot_user
    assert first["chat"] == {
        "id": 1001,
        "type": "private",
        "first_name": "Alice",
        "username": "alice",
    }
    assert first["date"] > 1_600_000_000
    assert first["reply_markup"] == json.loads(KEYBOARD)
    assert alice.inbox == [first, second]
    assert ("sendMessage", {"chat_id": "1001", "text": "two"}, 200) in standin.calls


async def test_text_limits(api, alice):
    assert await api.error("sendMessage", chat_id=1001, text="x" * 4097) == (
        400,
        "Bad Request: message is too long",
    )
    await api.ok("sendMessage", chat_id=1001, text="x" * 4096)
    # the limit applies after entity parsing
    await api.ok("sendMessage", chat_id=1001, text="<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    # and counts UTF-16 code units, so an emoji takes two
    assert (await api.error("sendMessage", chat_id=1001, text="😀" * 2049))[1].endswith("too long")
    for empty in ("", "   \n "):
        assert await api.error("sendMessage", chat_id=1001, text=empty) == (
            400,
            "Bad Request: message text is empty",
        )
    assert await api.error("sendMessage", chat_id=1001) == (
        400,
        "Bad Request: message text is empty",
    )
    assert await api.error("sendMessage", chat_id=1001, text="<b> </b>", parse_mode="HTML") == (
        400,
        "Bad Request: message text is empty",
    )


async def test_surrounding_whitespace_trimmed_with_entities_shifted(api, alice):
    message = await api.ok("sendMessage", chat_id=1001, text="  <b>hi</b> \n", parse_mode="HTML")
    assert message["text"] == "hi"
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 2}]


async def test_unknown_and_blocked_chats(api, alice):
    assert await api.error("sendMessage", chat_id=5555, text="x") == (
        400,
        "Bad Request: chat not found",
    )
    assert await api.error("sendMessage", chat_id="@alice", text="x") == (
        400,
        "Bad Request: chat not found",
    )
    alice.block()
    assert await api.error("sendMessage", chat_id=1001, text="x") == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    assert (await api.error("sendChatAction", chat_id=1001, action="typing"))[0] == 403
    alice.unblock()
    assert await api.ok("sendChatAction", chat_id=1001, action="typing") is True
    assert alice.actions == ["typing"]
    assert await api.error("sendChatAction", chat_id=1001, action="dancing") == (
        400,
        "Bad Request: wrong parameter action in request",
    )


@pytest.mark.parametrize("data", ["", "x" * 65, "é" * 33])
async def test_callback_data_limits(api, alice, data):
    markup = json.dumps({"inline_keyboard": [[{"text": "B", "callback_data": data}]]})
    assert await api.error("sendMessage", chat_id=1001, text="x", reply_markup=markup) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )


async def test_callback_data_of_64_bytes_accepted(api, alice):
    markup = json.dumps({"inline_keyboard": [[{"text": "B", "callback_data": "é" * 32}]]})
    await api.ok("sendMessage", chat_id=1001, text="x", reply_markup=markup)


@pytest.mark.parametrize("markup", ["{not json", "[1, 2]", '{"something": 1}'])
async def test_malformed_reply_markup(api, alice, markup):
    assert await api.error("sendMessage", chat_id=1001, text="x", reply_markup=markup) == (
        400,
        "Bad Request: can't parse reply keyboard markup JSON object",
    )


async def test_reply_keyboards_accepted_but_not_stored_on_the_message(api, alice):
    markup = json.dumps({"keyboard": [["A", {"text": "B"}]], "resize_keyboard": True})
    message = await api.ok("sendMessage", chat_id=1001, text="x", reply_markup=markup)
    assert "reply_markup" not in message
    remove = json.dumps({"remove_keyboard": True})
    await api.ok("sendMessage", chat_id=1001, text="x", reply_markup=remove)


async def test_inline_button_without_action_refused(api, alice):
    markup = json.dumps({"inline_keyboard": [[{"text": "B"}]]})
    status, description = await api.error(
        "sendMessage", chat_id=1001, text="x", reply_markup=markup
    )
    assert status == 400 and "Text buttons are unallowed in the inline keyboard" in description


async def test_parse_modes(api, alice):
    message = await api.ok("sendMessage", chat_id=1001, text="<b>a</b> &amp; b", parse_mode="html")
    assert message["text"] == "a & b"
    assert await api.error("sendMessage", chat_id=1001, text="<x>a</x>", parse_mode="HTML") == (
        400,
        'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0',
    )
    assert await api.error("sendMessage", chat_id=1001, text="Done.", parse_mode="MarkdownV2") == (
        400,
        "Bad Request: can't parse entities: Character '.' is reserved and must be escaped with the "
        "preceding '\\'",
    )
    message = await api.ok("sendMessage", chat_id=1001, text="*Done*\\.", parse_mode="MarkdownV2")
    assert message["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert await api.error("sendMessage", chat_id=1001, text="x", parse_mode="BBCode") == (
        400,
        "Bad Request: unsupported parse_mode",
    )


async def test_replies(api, alice):
    user_message = alice.chat.messages[1]
    reply = await api.ok("sendMessage", chat_id=1001, text="re", reply_to_message_id=1)
    assert reply["reply_to_message"] == user_message
    params = json.dumps({"message_id": 1})
    reply = await api.ok("sendMessage", chat_id=1001, text="re", reply_parameters=params)
    assert reply["reply_to_message"]["text"] == "hello"
    assert await api.error("sendMessage", chat_id=1001, text="x", reply_to_message_id=77) == (
        400,
        "Bad Request: message to be replied not found",
    )
    params = json.dumps({"message_id": 77})
    assert (await api.error("sendMessage", chat_id=1001, text="x", reply_parameters=params))[
        1
    ] == "Bad Request: message to be replied not found"
    message = await api.ok(
        "sendMessage",
        chat_id=1001,
        text="x",
        reply_to_message_id=77,
        allow_sending_without_reply="true",
    )
    assert "reply_to_message" not in message
    params = json.dumps({"message_id": 77, "allow_sending_without_reply": True})
    await api.ok("sendMessage", chat_id=1001, text="x", reply_parameters=params)


async def test_edit_delete_copy_not_found(api, alice):
    for method, description in [
        ("editMessageText", "message to edit not found"),
        ("editMessageReplyMarkup", "message to edit not found"),
        ("editMessageCaption", "message to edit not found"),
        ("deleteMessage", "message to delete not found"),
    ]:
        assert await api.error(method, chat_id=1001, message_id=99, text="t") == (
            400,
            f"Bad Request: {description}",
        )
    assert await api.error("copyMessage", chat_id=1001, from_chat_id=1001, message_id=99) == (
        400,
        "Bad Request: message to copy not found",
    )


async def test_edits(api, alice):
    sent = await api.ok("sendMessage", chat_id=1001, text="v1", reply_markup=KEYBOARD)
    mid = sent["message_id"]
    status, description = await api.error(
        "editMessageText", chat_id=1001, message_id=mid, text="v1", reply_markup=KEYBOARD
    )
    assert status == 400 and description.startswith("Bad Request: message is not modified: ")
    edited = await api.ok(
        "editMessageText", chat_id=1001, message_id=mid, text="<i>v2</i>", parse_mode="HTML"
    )
    assert edited["text"] == "v2" and "reply_markup" not in edited and edited["edit_date"] > 0
    assert alice.inbox[0]["text"] == "v2"  # edits show in place
    edited = await api.ok(
        "editMessageReplyMarkup", chat_id=1001, message_id=mid, reply_markup=KEYBOARD
    )
    assert edited["reply_markup"] == json.loads(KEYBOARD)
    status, description = await api.error(
        "editMessageReplyMarkup", chat_id=1001, message_id=mid, reply_markup=KEYBOARD
    )
    assert description.startswith("Bad Request: message is not modified")
    assert (await api.error("editMessageText", chat_id=1001, message_id=1, text="x"))[1] == (
        "Bad Request: message can't be edited"
    )
    assert (await api.error("editMessageCaption", chat_id=1001, message_id=mid, caption="c"))[
        1
    ] == "Bad Request: there is no caption in the message to edit"
    assert await api.ok("deleteMessage", chat_id=1001, message_id=mid) is True
    assert alice.deleted == {mid}
    assert (await api.error("deleteMessage", chat_id=1001, message_id=mid))[0] == 400


async def test_caption_limits_and_caption_edits(standin, http, api, alice):
    base = f"{standin.url}/bot{standin.token}"
    files = {
        "photo": ("p.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 8 + b"\0\0\0\x10\0\0\0\x08", "image/png")
    }
    response = await http.post(
        f"{base}/sendPhoto", data={"chat_id": "1001", "caption": "c" * 1025}, files=files
    )
    assert response.status_code == 400
    assert response.json()["description"] == "Bad Request: message caption is too long"
    response = await http.post(
        f"{base}/sendPhoto",
        data={"chat_id": "1001", "caption": "<b>c</b>", "parse_mode": "HTML"},
        files=files,
    )
    photo_message = response.json()["result"]
    assert photo_message["photo"][0]["width"] == 16 and photo_message["photo"][0]["height"] == 8
    assert photo_message["caption_entities"] == [{"type": "bold", "offset": 0, "length": 1}]
    mid = photo_message["message_id"]
    same = {"chat_id": 1001, "message_id": mid, "caption": "<b>c</b>", "parse_mode": "HTML"}
    _, description = await api.error("editMessageCaption", **same)
    assert description.startswith("Bad Request: message is not modified")
    edited = await api.ok("editMessageCaption", chat_id=1001, message_id=mid, caption="new")
    assert edited["caption"] == "new" and "caption_entities" not in edited
    _, description = await api.error("sendPhoto", chat_id=1001, photo="bogus-file-id")
    assert description == "Bad Request: wrong file identifier/HTTP URL specified"
    again = await api.ok("sendPhoto", chat_id=1001, photo=photo_message["photo"][0]["file_id"])
    assert again["photo"] == photo_message["photo"]


async def test_copy_and_forward(standin, api, alice):
    bob = standin.user(1002, first_name="Bob")
    await bob.send("hi")
    source = await alice.send_document(b"PDF", filename="a.pdf", caption="orig")
    source_ref = {"from_chat_id": 1001, "message_id": source["message_id"]}
    copied = await api.ok(
        "copyMessage", chat_id=1002, **source_ref, caption="new", reply_markup=KEYBOARD
    )
    stored = bob.inbox[-1]
    assert copied == {"message_id": stored["message_id"]}
    assert stored["document"] == source["document"] and stored["caption"] == "new"
    assert stored["reply_markup"] == json.loads(KEYBOARD) and "forward_origin" not in stored
    forwarded = await api.ok("forwardMessage", chat_id=1002, from_chat_id=1001, message_id=1)
    assert forwarded["text"] == "hello"
    assert forwarded["forward_origin"]["sender_user"]["id"] == 1001
    assert (await api.error("copyMessage", chat_id=1002, from_chat_id=4242, message_id=1))[1] == (
        "Bad Request: chat not found"
    )


async def test_callback_queries(standin, api, alice):
    sent = await api.ok("sendMessage", chat_id=1001, text="prio?", reply_markup=KEYBOARD)
    query_id = await alice.press(sent, "Low")
    updates = await api.ok("getUpdates", offset=0)
    query = updates[-1]["callback_query"]
    assert query["id"] == query_id and query["data"] == "prio:low"
    assert query["message"]["message_id"] == sent["message_id"]
    assert (await api.error("answerCallbackQuery", callback_query_id=query_id, text="x" * 201))[
        0
    ] == 400
    assert await api.ok("answerCallbackQuery", callback_query_id=query_id, text="Saved") is True
    assert standin.callback_answers[query_id]["text"] == "Saved"
    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert await api.error("answerCallbackQuery", callback_query_id=query_id) == (400, too_old)
    assert await api.error("answerCallbackQuery", callback_query_id="nope") == (400, too_old)
    late = await alice.press_data(sent, "forged:data")
    standin.callback_query_ttl = 0
    assert await api.error("answerCallbackQuery", callback_query_id=late) == (400, too_old)
    with pytest.raises(ValueError, match="no button 'High'"):
        await alice.press(sent, "High")


async def test_commands_per_scope(standin, api, alice):
    commands = json.dumps([{"command": "start", "description": "Start"}])
    admin = json.dumps([{"command": "tickets", "description": "Open tickets"}])
    scope = json.dumps({"type": "chat", "chat_id": 1001})
    assert await api.ok("setMyCommands", commands=commands) is True
    assert await api.ok("setMyCommands", commands=admin, scope=scope) is True
    await api.ok("setMyCommands", commands=admin, language_code="de")
    assert await api.ok("getMyCommands") == json.loads(commands)
    assert await api.ok("getMyCommands", scope=scope) == json.loads(admin)
    assert await api.ok("getMyCommands", scope=json.dumps({"type": "all_private_chats"})) == []
    assert standin.commands() == json.loads(commands)
    assert standin.commands({"type": "chat", "chat_id": 1001}) == json.loads(admin)
    assert standin.commands(language_code="de") == json.loads(admin)
    await api.ok("deleteMyCommands", scope=scope)
    assert standin.commands({"type": "chat", "chat_id": 1001}) == []
    bad_scope = json.dumps({"type": "chat", "chat_id": 777})
    assert (await api.error("setMyCommands", commands=commands, scope=bad_scope))[1] == (
        "Bad Request: chat not found"
    )
    for bad, reason in [
        ([{"command": "Start", "description": "x"}], "BOT_COMMAND_INVALID"),
        ([{"command": "x" * 33, "description": "x"}], "BOT_COMMAND_INVALID"),
        ([{"command": "ok", "description": ""}], "BOT_COMMAND_DESCRIPTION_INVALID"),
        ([{"command": "ok", "description": "d" * 257}], "BOT_COMMAND_DESCRIPTION_INVALID"),
        ([{"command": f"c{i}", "description": "d"} for i in range(101)], "BOT_COMMANDS_TOO_MUCH"),
    ]:
        assert await api.error("setMyCommands", commands=json.dumps(bad)) == (
            400,
            f"Bad Request: {reason}",
        )


async def test_get_chat_menu_button_close_logout(api, alice):
    chat = await api.ok("getChat", chat_id=1001)
    assert chat["type"] == "private" and chat["first_name"] == "Alice"
    button = json.dumps({"type": "commands"})
    assert await api.ok("setChatMenuButton", chat_id=1001, menu_button=button) is True
    assert await api.ok("getChatMenuButton", chat_id=1001) == {"type": "commands"}
    assert await api.ok("close") is True
    assert await api.ok("logOut") is True


async def test_file_download_route(standin, http, api, alice):
    sent = await alice.send_voice(b"OggS-voice", duration=3)
    file = await api.ok("getFile", file_id=sent["voice"]["file_id"])
    assert file["file_size"] == 10 and file["file_unique_id"] == sent["voice"]["file_unique_id"]
    token = standin.token.replace(":", "%3A")
    response = await http.get(f"{standin.url}/file/bot{token}/{file['file_path']}")
    assert response.status_code == 200 and response.content == b"OggS-voice"
    response = await http.get(f"{standin.url}/file/bot{token}/voice/missing.oga")
    assert response.status_code == 404
    assert await api.error("getFile", file_id="nope") == (400, "Bad Request: invalid file_id")
