"""Long polling, acknowledgement, conflicts and webhook delivery."""

import asyncio
import json

import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web


async def test_held_poll_answers_as_soon_as_an_update_arrives(standin, api):
    alice = standin.user(1001, first_name="Alice")
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(api.ok("getUpdates", timeout=10))
    await asyncio.sleep(0.2)
    assert not poll.done()
    sent = await alice.send("hello")
    updates = await asyncio.wait_for(poll, 2)
    assert loop.time() - started < 2
    assert updates == [{"update_id": updates[0]["update_id"], "message": sent}]


async def test_empty_poll_waits_for_its_timeout(api):
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await api.ok("getUpdates", timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_unacknowledged_updates_are_delivered_again(standin, api):
    alice = standin.user(1001, first_name="Alice")
    for text in ("one", "two", "three"):
        await alice.send(text)
    first = await api.ok("getUpdates", limit=2)
    assert [u["message"]["text"] for u in first] == ["one", "two"]
    again = await api.ok("getUpdates")  # as after a crash: nothing was acknowledged
    assert [u["message"]["text"] for u in again] == ["one", "two", "three"]
    rest = await api.ok("getUpdates", offset=first[1]["update_id"] + 1)
    assert [u["message"]["text"] for u in rest] == ["three"]
    with pytest.raises(TimeoutError, match="not acknowledged"):
        await standin.wait_acknowledged(timeout=0.1)
    await api.ok("getUpdates", offset=rest[0]["update_id"] + 1, timeout=0)
    await standin.wait_acknowledged(timeout=1)
    assert standin.pending_updates == []


async def test_negative_offset_keeps_only_the_last(standin, api):
    alice = standin.user(1001, first_name="Alice")
    for text in ("a", "b", "c"):
        await alice.send(text)
    assert [u["message"]["text"] for u in await api.ok("getUpdates", offset=-1)] == ["c"]


async def test_second_poll_terminates_the_first_with_409(api):
    first = asyncio.create_task(api("getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(api("getUpdates", timeout=1))
    status, body = await asyncio.wait_for(first, 2)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates request")
    assert (await second)[0] == 200


async def test_allowed_updates_filters_and_drops(standin, api):
    alice = standin.user(1001, first_name="Alice")
    await alice.send("text")
    standin.push_update({"poll": {"id": "1", "question": "q"}})
    updates = await api.ok("getUpdates", allowed_updates=json.dumps(["poll"]))
    assert [list(u)[1] for u in updates] == ["poll"]
    assert [list(u)[1] for u in standin.pending_updates] == ["poll"]


async def test_push_update_registers_chats(standin, api):
    chat = {"id": -100123, "type": "channel", "title": "News", "username": "news"}
    standin.push_update({"channel_post": {"message_id": 5, "chat": chat, "date": 1, "text": "x"}})
    message = await api.ok("sendMessage", chat_id="@news", text="to channel")
    assert message["chat"]["id"] == -100123


async def test_group_messages(standin, api):
    alice = standin.user(1001, first_name="Alice")
    sent = await alice.send_in_group(-42, "/help@helpdesk_test_bot")
    assert sent["chat"]["type"] == "group" and sent["entities"][0]["length"] == 23
    await api.ok("sendMessage", chat_id=-42, text="group answer")
    assert standin.chat(-42).inbox[0]["text"] == "group answer"


class _Receiver(tornado.web.RequestHandler):
    def initialize(self, got: list, statuses: list) -> None:
        self.got, self.statuses = got, statuses

    def post(self) -> None:
        status = self.statuses.pop(0) if self.statuses else 200
        if status == 200:
            secret = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            self.got.append((secret, json.loads(self.request.body)))
        self.set_status(status)
        self.finish("")


@pytest.fixture
async def receiver():
    got: list = []
    statuses: list = []
    app = tornado.web.Application(
        [(r"/hook", _Receiver, {"got": got, "statuses": statuses})], log_function=lambda h: None
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
    yield url, got, statuses
    server.stop()
    await server.close_all_connections()


async def test_webhook_delivery_in_order_with_secret_and_retries(standin, api, receiver):
    url, got, statuses = receiver
    alice = standin.user(1001, first_name="Alice")
    await alice.send("before webhook")
    statuses.extend([500, 502])  # the first delivery fails twice and is retried
    assert await api.ok("setWebhook", url=url, secret_token="s3cr3t_-x") is True
    await alice.send("second")
    await standin.wait_acknowledged(timeout=5)
    assert [(s, u["message"]["text"]) for s, u in got] == [
        ("s3cr3t_-x", "before webhook"),
        ("s3cr3t_-x", "second"),
    ]
    info = await api.ok("getWebhookInfo")
    assert info["url"] == url and info["pending_update_count"] == 0
    assert info["last_error_message"] == "Wrong response from the webhook: 502"
    status, description = await api.error("getUpdates")
    assert status == 409 and description == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first"
    )
    assert (await api.error("setWebhook", url=url, secret_token="bad secret!"))[1] == (
        "Bad Request: secret token contains unallowed characters"
    )
    assert await api.ok("deleteWebhook") is True
    assert (await api.ok("getWebhookInfo"))["url"] == ""
    assert await api.ok("getUpdates") == []


async def test_drop_pending_updates(standin, api, receiver):
    url, got, _ = receiver
    alice = standin.user(1001, first_name="Alice")
    await alice.send("stale")
    await api.ok("setWebhook", url=url, drop_pending_updates="true")
    await alice.send("fresh")
    await standin.wait_acknowledged(timeout=5)
    assert [u["message"]["text"] for _, u in got] == ["fresh"]
    await api.ok("deleteWebhook")
    await alice.send("stale again")
    await api.ok("deleteWebhook", drop_pending_updates="true")
    assert await api.ok("getUpdates") == []


async def test_push_update_with_an_explicit_id_keeps_ids_increasing(standin):
    alice = standin.user(1001, first_name="Alice")
    sent = await alice.send("once")
    first_id = standin.pending_updates[0]["update_id"]
    assert standin.push_update({"update_id": first_id, "message": sent}) == first_id
    assert standin.push_update({"inline_query": {"id": "q", "query": ""}}) == first_id + 1


class _HoldingReceiver(tornado.web.RequestHandler):
    """Answers each update when the test releases its chat; records the order of arrival."""

    def initialize(self, arrived: list, gates: dict) -> None:
        self.arrived, self.gates = arrived, gates

    async def post(self) -> None:
        update = json.loads(self.request.body)
        chat = update["message"]["chat"]["id"]
        self.arrived.append((chat, update["message"]["text"]))
        await self.gates.setdefault(chat, asyncio.Event()).wait()
        self.finish("")


async def test_webhook_queues_per_chat_like_telegram(standin, api):
    arrived: list = []
    gates: dict = {}
    app = tornado.web.Application(
        [(r"/hook", _HoldingReceiver, {"arrived": arrived, "gates": gates})],
        log_function=lambda h: None,
    )
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    try:
        url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/hook"
        await api.ok("setWebhook", url=url, max_connections="5")
        alice, bob = standin.user(1001, first_name="Alice"), standin.user(1002, first_name="Bob")
        await alice.send("a1")
        await alice.send("a2")
        await bob.send("b1")
        await asyncio.sleep(0.5)
        # Alice's first update is unanswered: her second waits; Bob's chat is not held up.
        assert sorted(arrived) == [(1001, "a1"), (1002, "b1")]
        gates.setdefault(1002, asyncio.Event()).set()
        gates.setdefault(1001, asyncio.Event()).set()
        await standin.wait_acknowledged(timeout=5)
        assert [text for chat, text in arrived if chat == 1001] == ["a1", "a2"]
    finally:
        server.stop()
        await server.close_all_connections()
