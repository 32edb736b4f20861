"""The agents' tools through the real Application: canned replies, tags, transfer, history."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from bot.reports.cli import write_summary
from bot.reports.report import REPORT_COLUMNS, Writer, iter_rows
from bot.reports.summary import summary_of
from storage.models import Activity, Ticket
from tests.support.harness import (
    AGENT_ID,
    Harness,
    assigned_ticket,
    customer_with_ticket,
    started_bot,
)


async def settled(harness: Harness) -> None:
    await harness.application.bot_data.delivery.wait_idle()


async def add_canned(harness: Harness, name: str, text: str) -> None:
    await harness.admin.send(f"/canned add {name} {text}")
    await harness.admin.receive_text(f"Canned reply {name}")


async def test_canned_replies_are_filled_in_and_relayed_as_answers(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await add_canned(
        harness,
        "greet",
        "Hello {customer},\nthis is {agent} on {ticket}. <b>Not bold</b> & {unknown}",
    )
    await agent.send("/canned add sneaky text")
    await agent.receive_text("Only admins can add or delete canned replies")
    await agent.send("/canned")
    listing = await agent.receive_text("Canned replies")
    assert "greet — Hello {customer}," in listing["text"]

    await agent.send(f"/r {number} greet")
    await agent.receive_text(f"Sent greet to the customer of #{number}")
    filled = await customer.receive_text("Hello Alice")
    assert filled["text"].endswith(
        f"Hello Alice,\nthis is Sam Support on #{number}. <b>Not bold</b> & {{unknown}}"
    )
    async with harness.resources.session_factory() as session:
        ticket = await session.get(Ticket, number)
        assert ticket.first_response_at is not None  # it counts as the first response

    await agent.send(f"/r {number} nothing")
    await agent.receive_text("There is no canned reply nothing")
    await customer.send("/canned")
    await customer.receive_text("/canned is not available to you")
    await harness.admin.send("/canned del greet")
    await harness.admin.receive_text("deleted")
    await agent.send(f"/r {number} greet")
    await agent.receive_text("There is no canned reply greet")


async def test_a_hostile_name_is_filled_in_once_and_escaped(harness: Harness) -> None:
    customer, number = await customer_with_ticket(harness, name="{agent} <b>Eve</b> & Co")
    agent = harness.user(AGENT_ID, "Sam", "sam")
    await harness.add_agent(agent, "Sam Support")
    await harness.admin.send(f"/assign {number} {AGENT_ID}")
    await agent.receive_text("is assigned to you")
    await add_canned(harness, "hi", "Hi {customer}!")
    await agent.send(f"/r {number} hi")
    answer = await customer.receive_text("Hi ")
    assert answer["text"].endswith("Hi {agent} <b>Eve</b> & Co!")


async def test_canned_buttons_in_a_topic_send_to_that_ticket(tmp_path) -> None:
    async with started_bot(tmp_path, topic_mode=True) as harness:
        customer, number = await customer_with_ticket(harness)
        agent = harness.user(AGENT_ID, "Sam", "sam")
        await harness.add_agent(agent, "Sam Support")
        await harness.admin.send(f"/assign {number} {AGENT_ID}")
        await agent.receive_text("Subject: Help")
        await add_canned(harness, "thanks", "Thank you, {customer}.")
        thread = agent.topic_named(f"#{number} · Help").thread_id
        await agent.send("/canned", thread=thread)
        listing = await agent.receive_text("Press one")
        assert listing["message_thread_id"] == thread
        await agent.press(listing, "thanks")
        await customer.receive_text("Thank you, Alice.")
        await agent.send("/r thanks", thread=thread)
        await agent.receive_text(f"Sent thanks to the customer of #{number}")
        await customer.wait_until(
            lambda inbox: (
                len([m for m in inbox if "Thank you, Alice." in (m.get("text") or "")]) == 2
            )
        )
        query = await agent.press_data(listing, "canned:999:1")
        answers = harness.standin.callback_answers
        assert await harness.standin.store.wait_for(lambda: query in answers, 5)
        assert "was deleted" in answers[query]["text"]


async def test_tags_on_tickets_listing_and_history(harness: Harness) -> None:
    customer, agent, number = await assigned_ticket(harness)
    await agent.send(f"/tag {number} Printer urgent printer")
    tagged = await agent.receive_text("is tagged")
    assert tagged["text"] == f"#{number} is tagged: printer, urgent."
    await agent.send(f"/tag {number} bad!tag")
    await agent.receive_text("Tags are 1-32 characters")
    await agent.send(f"/ticket {number}")
    card = await agent.receive_text("Tags:")
    assert "Tags: printer, urgent" in card["text"]
    await customer.send(f"/ticket {number}")
    customer_card = await customer.receive_text(f"#{number} · Help")
    assert "Tags" not in customer_card["text"]
    await harness.admin.send("/tickets tag:printer")
    listing = await harness.admin.receive_text("Tickets (tag:printer)")
    assert f"#{number} " in listing["text"]
    await harness.admin.send("/tickets tag:nothing")
    await harness.admin.receive_text("No tickets (tag:nothing)")
    await agent.send(f"/untag {number} urgent")
    await agent.receive_text("Its tags: printer")
    await agent.send(f"/untag {number} urgent")
    await agent.receive_text("has no tag urgent")
    await customer_with_ticket(harness, telegram_id=1002, name="Bob")
    await agent.send("/tag 2 mine")
    await agent.receive_text("You have no ticket #2")
    async with harness.resources.session_factory() as session:
        changes = list(
            await session.scalars(select(Activity.activity).where(Activity.ticket_id == number))
        )
    assert {"tags_added": ["printer", "urgent"]} in changes
    assert {"tags_removed": ["urgent"]} in changes


async def test_transfer_moves_the_ticket_and_what_was_on_its_way(harness: Harness) -> None:
    customer, sam, number = await assigned_ticket(harness)
    kim = harness.user(2002, "Kim", "kim")
    await harness.add_agent(kim, "Kim Support")
    await customer.send("first, delivered")
    await sam.receive_text("first, delivered")
    await sam.reply(sam.inbox[-1], "answer, delivered")
    await customer.receive_text("answer, delivered")
    await settled(harness)
    # Sam's chat stops answering: the next messages stay on their way to Sam.
    harness.standin.faults.add("sendMessage", "502", chat_id=sam.id, times=None)
    await customer.send("second, in flight")
    await customer.send("third, in flight")
    await sam.send(f"/transfer {number} @kim")
    await kim.receive_text("Subject: Help")  # the transfer committed
    harness.standin.faults.clear()
    await sam.receive_text("handed over", timeout=10)
    recap = await kim.receive_text("the last")
    assert "Alice: first, delivered" in recap["text"]
    assert "Sam Support: answer, delivered" in recap["text"]
    assert "in flight" not in recap["text"]
    second = await kim.receive_text("second, in flight")
    third = await kim.receive_text("third, in flight")
    assert second["message_id"] < third["message_id"]
    await customer.receive_text("Kim Support is now handling your ticket")
    await settled(harness)
    assert not [m for m in sam.inbox if "in flight" in (m.get("text") or "")]
    async with harness.resources.session_factory() as session:
        ticket = await session.get(Ticket, number)
        assert ticket.agent_id is not None
    await sam.send(f"/transfer {number} @kim")
    await sam.receive_text(f"You have no ticket #{number}")
    await kim.send(f"/transfer {number} @kim")
    await kim.receive_text("is already Kim Support's")
    await kim.send(f"/transfer {number} @nobody")
    await kim.receive_text("No agent @nobody")
    await customer.send(f"/transfer {number} @kim")
    await customer.receive_text("/transfer is not available to you")


async def test_history_is_one_html_document_in_the_time_zone(tmp_path) -> None:
    async with started_bot(tmp_path, timezone="Asia/Kolkata") as harness:
        customer, agent, number = await assigned_ticket(harness)
        await customer.send("It is <b>broken</b> & slow")
        await agent.receive_text("broken")
        await agent.send(f"/note {number} check the logs")
        await agent.receive_text("Internal note added")
        await agent.send(f"/status {number} pending")
        await agent.receive_text("Pending")
        await agent.send(f"/history {number}")
        sent = await agent.wait_until(lambda inbox: "document" in inbox[-1])
        document = sent[-1]["document"]
        assert document["file_name"] == f"ticket-{number}.html"
        html = harness.standin.store.files[document["file_id"]].content.decode()
        assert "It is &lt;b&gt;broken&lt;/b&gt; &amp; slow" in html
        assert "(internal note)" in html and "check the logs" in html
        assert "status: Pending" in html and "status: Open" in html
        assert "Asia/Kolkata" in html
        async with harness.resources.session_factory() as session:
            created = (await session.get(Ticket, number)).created_at
        local = (created + timedelta(hours=5, minutes=30)).strftime("%Y-%m-%d %H:%M")
        assert f"Opened {local}" in html
        await customer.send(f"/history {number}")
        await customer.receive_text("/history is not available to you")


async def test_tags_in_report_rows_and_the_summary_by_tag(harness: Harness) -> None:
    customer, agent, first = await assigned_ticket(harness)
    second = await harness.open_ticket(customer, subject="Mail", description="No mail")
    await agent.send(f"/tag {first} printer urgent")
    await agent.receive_text("is tagged")
    await harness.admin.send(f"/tag {second} printer")
    await harness.admin.receive_text("is tagged")
    async with harness.resources.session_factory() as session:
        rows = [row async for row in iter_rows(session)]
        summary = await summary_of(session, by=("tag",))
    tags = {row[1]: dict(zip(REPORT_COLUMNS, row, strict=True))["tags"] for row in rows}
    assert tags == {first: "printer;urgent", second: "printer"}
    groups = {group.label: group.tickets for group in summary.groups()}
    assert groups == {"All tickets": 2, "Tag printer": 2, "Tag urgent": 1}
    out = io.StringIO()
    write_summary(summary, "csv", out)
    assert "Tag urgent,1," in out.getvalue()
    out = io.StringIO()
    report = Writer(out, "csv")
    for row in rows:
        report.write(row)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(",open_intervals,tags") and lines[1].endswith(",printer;urgent")
