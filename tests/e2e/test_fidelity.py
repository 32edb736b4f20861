"""Relay fidelity: replies keep their thread and quotes, edits follow, albums stay albums."""

from __future__ import annotations

from tests.support.harness import Harness, assigned_ticket


async def settled(harness: Harness) -> None:
    """Every send confirmed (a person answers slower than the bot stores what it sent)."""
    await harness.application.bot_data.delivery.wait_idle()


async def test_a_quoted_reply_answers_the_original_with_the_same_quote(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await customer.send("The printer is broken")
    relayed = await agent.receive_text("printer is broken")
    original = await agent.reply(relayed, "Restart the router, then the printer.")
    copy = await customer.receive_text("Restart the router")
    await settled(harness)

    await customer.reply(copy, "Done, and it works", quote="the printer")
    answer = await agent.receive_text("it works")
    assert answer["reply_to_message"]["message_id"] == original["message_id"]
    assert answer["quote"]["text"] == "the printer"

    # A quote of the copy's header line is not in the original: the reply stays, the quote goes.
    await customer.reply(copy, "About Sam", quote=f"#{number} · Sam Support")
    plain = await agent.receive_text("About Sam")
    assert plain["reply_to_message"]["message_id"] == original["message_id"]
    assert "quote" not in plain

    # The agent's reply to the customer's message answers the customer's own message.
    mine = await customer.send("One more question")
    copied = await agent.receive_text("One more question")
    await settled(harness)
    await agent.reply(copied, "Yes?")
    back = await customer.receive_text("Yes?")
    assert back["reply_to_message"]["message_id"] == mine["message_id"]


async def test_edits_are_carried_to_the_other_side_marked_edited(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    sent = await customer.send("My pritner is broken")
    copy = await agent.receive_text("pritner")
    await settled(harness)
    await customer.edit(sent, "My printer is broken")
    await agent.wait_until(lambda _: "printer is broken" in copy["text"])
    assert copy["text"] == f"#{number} · Alice\nMy printer is broken\n(edited)"
    assert copy["entities"][0]["type"] == "bold"

    answer = await agent.reply(copy, "Turn it of and on")
    their_copy = await customer.receive_text("Turn it")
    await settled(harness)
    await agent.edit(answer, "Turn it off and on")
    await customer.wait_until(lambda _: "off and on" in their_copy["text"])
    assert their_copy["text"].endswith("Turn it off and on\n(edited)")

    photo = await customer.send_photo(b"\x89PNG\r\n\x1a\n", caption="the old caption")
    photo_copy = await agent.receive_text("the old caption")
    await settled(harness)
    await customer.edit_caption(photo, "the new caption")
    await agent.wait_until(lambda _: "new caption" in photo_copy["caption"])
    assert photo_copy["caption"] == f"#{number} · Alice\nthe new caption\n(edited)"

    # An edit of something the relay did not carry (a command, a dialogue answer) does nothing.
    command = await customer.send("/tickets")
    await customer.receive_text(f"#{number}")
    before = len(agent.inbox)
    await customer.edit(command, "/tickets all")
    await customer.send("still here")
    await agent.receive_text("still here")
    assert len(agent.inbox) == before + 1


async def test_an_edit_before_assignment_is_what_the_agent_gets(harness: Harness) -> None:
    from tests.support.harness import customer_with_ticket

    customer, number = await customer_with_ticket(harness)
    sent = await customer.send("draft text")
    await customer.receive_text("reaches an agent")
    await customer.edit(sent, "final text")
    agent = harness.user(2001, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number} 2001")
    relayed = await agent.receive_text("final text")
    assert relayed["text"] == f"#{number} · Alice\nfinal text"
    assert not [m for m in agent.inbox if "draft" in (m.get("text") or "")]


async def test_an_album_arrives_as_one_album(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    png = b"\x89PNG\r\n\x1a\n"
    await customer.send_album([png, png, png], caption="three views of the fault")
    header = await agent.receive_text(f"#{number} · Alice")
    album = [await agent.receive() for _ in range(3)]
    await settled(harness)
    assert header["text"] == f"#{number} · Alice"
    groups = {m.get("media_group_id") for m in album}
    assert len(groups) == 1 and None not in groups and all("photo" in m for m in album)
    assert album[0]["caption"] == "three views of the fault"
    assert harness.standin.count("copyMessages") == 1
    # The agent answers with an album too: the customer gets one album.
    await agent.send_album([png, png], caption="do this", reply_to=album[0])
    await customer.receive_text(f"#{number} · Sam Support")
    back = [await customer.receive() for _ in range(2)]
    assert len({m["media_group_id"] for m in back}) == 1
