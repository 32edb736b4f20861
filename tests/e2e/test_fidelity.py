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
