"""The knowledge base in the /new dialogue, /faq and /kb, through the real Application."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.kb.files import ArticleText, read_folder
from bot.services import kb
from storage.models import KbArticle, KbOffer, Ticket
from tests.support.harness import Harness, started_bot
from tests.support.process import ROOT

EXAMPLES = ROOT / "examples" / "kb"
HOSTILE = ArticleText(
    "hostile-title",
    'Use <b>, & and "quotes" <script>',
    "Tags like <i>this</i> & **bold** stay text. <a href='x'>no link</a>",
)


async def load_articles(harness: Harness, extra: list[ArticleText] = ()) -> None:
    async with harness.resources.session_factory() as session:
        await kb.import_articles(session, [*read_folder(EXAMPLES), *extra])
        await session.commit()


async def describe(user, subject: str, description: str) -> dict:
    """Start /new and answer subject and description; the bot's next message."""
    await user.send("/new")
    await user.receive_text("subject")
    await user.send(subject)
    await user.receive_text("Describe")
    await user.send(description)
    return await user.receive()


async def offers_and_tickets(harness: Harness) -> tuple[list[KbOffer], list[Ticket]]:
    async with harness.resources.session_factory() as session:
        return (
            list(await session.scalars(select(KbOffer).order_by(KbOffer.id))),
            list(await session.scalars(select(Ticket))),
        )


async def article_counts(harness: Harness, key: str) -> tuple[int, int]:
    async with harness.resources.session_factory() as session:
        row = await session.scalar(select(KbArticle).where(KbArticle.key == key))
        return row.shown, row.solved


def labels(message: dict) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


async def test_solved_by_an_article_opens_no_ticket_and_counts_it(harness: Harness) -> None:
    await load_articles(harness)
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    offered = await describe(alice, "Password", "I forgot my password and cannot sign in")
    assert "These articles may answer it" in offered["text"]
    assert labels(offered)[0] == "Reset a forgotten password"
    assert labels(offered)[-1] == "None of these"
    assert len(labels(offered)) <= 1 + harness.settings.kb_suggestions

    await alice.press(offered, "Reset a forgotten password")
    shown = await alice.receive_text("Reset a forgotten password")
    assert "Forgot password" in shown["text"]  # the article's text, its **bold** as bold
    assert any(e["type"] == "bold" for e in shown.get("entities", []))
    assert labels(shown) == ["That solved it", "I still need help"]
    solved_data = shown["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await alice.press(shown, "That solved it")
    await alice.receive_text("Glad it helped. No ticket was opened")

    offers, tickets = await offers_and_tickets(harness)
    assert tickets == []
    assert [(o.outcome, o.question) for o in offers] == [
        ("solved", "Password\nI forgot my password and cannot sign in")
    ]
    assert await article_counts(harness, "reset-password") == (1, 1)

    # Counted in the report's summary (/report) and in /kb.
    await harness.admin.send("/report")
    report = await harness.admin.receive_text("Report for the last 7 days")
    assert "Suggestions offered: 1; tickets avoided: 1 (deflection rate 100.0%)" in report["text"]
    assert "Articles that solved most: reset-password (1)" in report["text"]
    await harness.admin.send("/kb")
    listing = await harness.admin.receive_text("Knowledge base")
    assert "reset-password: shown 1, solved 1" in listing["text"]

    # The dialogue is over: pressing the article's button again counts nothing twice.
    assert labels(shown) == []  # the article's buttons are gone
    await alice.press_data(shown, solved_data)
    await harness.standin.wait_acknowledged()
    assert await article_counts(harness, "reset-password") == (1, 1)
    assert (await offers_and_tickets(harness))[1] == []

    # The question kept for the team goes with its author's other texts on /deleteme.
    await alice.send("/deleteme")
    await alice.press(await alice.receive_text("cannot be undone"), "Yes, erase my data")
    await alice.wait_until(lambda inbox: "is erased" in (inbox[-1].get("text") or ""))
    offers, _ = await offers_and_tickets(harness)
    assert [(o.outcome, o.question) for o in offers] == [("solved", "")]


async def test_still_need_help_opens_the_ticket_with_the_articles_shown(
    harness: Harness,
) -> None:
    await load_articles(harness)
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    offered = await describe(alice, "Refund", "When will I get my refund for the return?")
    assert "When will I get my refund?" in labels(offered)
    await alice.press(offered, "When will I get my refund?")
    shown = await alice.receive()
    await alice.press(shown, "I still need help")
    buttons = await alice.receive_text("How urgent")
    await alice.press(buttons, "High")
    opened = await alice.receive_text("is open")

    offers, tickets = await offers_and_tickets(harness)
    assert [f"#{t.id}" for t in tickets] == re.findall(r"#\d+", opened["text"])
    assert [(o.outcome, o.ticket_id) for o in offers] == [("ticket", tickets[0].id)]
    async with harness.resources.session_factory() as session:
        shown_titles = await kb.shown_for_ticket(session, tickets[0].id)
        solved = await session.scalar(select(func.sum(KbArticle.solved)))
    assert shown_titles == labels(offered)[:-1] and solved == 0
    await harness.admin.send(f"/ticket {tickets[0].id}")
    note = await harness.admin.receive_text("Before opening it, the customer was offered")
    assert "When will I get my refund?" in note["text"]


async def test_none_of_these_goes_on_to_the_priority(harness: Harness) -> None:
    await load_articles(harness)
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    offered = await describe(alice, "Parcel", "Where is my order? I want to track the parcel")
    await alice.send("some text instead of a button")
    await alice.receive_text("Please open an article above")
    await alice.press(offered, "None of these")
    await alice.press(await alice.receive_text("How urgent"), "Low")
    await alice.receive_text("is open")
    offers, tickets = await offers_and_tickets(harness)
    assert len(tickets) == 1 and offers[0].outcome == "ticket"


async def test_nothing_is_offered_when_nothing_matches(harness: Harness) -> None:
    await load_articles(harness)
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    asked = await describe(alice, "A question", "Can I bring my dog into your store?")
    assert "How urgent" in asked["text"]
    await alice.press(asked, "Low")
    await alice.receive_text("is open")
    offers, tickets = await offers_and_tickets(harness)
    assert offers == [] and len(tickets) == 1


async def test_hostile_text_is_searched_safely_and_shown_escaped(harness: Harness) -> None:
    await load_articles(harness, [HOSTILE])
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    hostile = 'Use <b>, & and "quotes" NEAR(x y) -z* OR AND ") <script>'
    offered = await describe(alice, '"*(NEAR', hostile)
    assert HOSTILE.title in labels(offered)  # the search ran; the title arrives as sent
    await alice.press(offered, HOSTILE.title)
    shown = await alice.receive_text("Tags like")
    assert "<i>this</i> & " in shown["text"] and "<a href='x'>no link</a>" in shown["text"]
    assert HOSTILE.title in shown["text"]
    await alice.press(shown, "I still need help")
    await alice.press(await alice.receive_text("How urgent"), "Low")
    await alice.receive_text("is open")

    for question in (hostile, '"', "NEAR(", "*", "-", "' OR 1=1 --", "\u202e\u0000x"):
        await alice.send(f"/faq {question}")
        await alice.receive()  # an answer (articles or none), never an error
    assert not [m for m in alice.inbox if "went wrong" in (m.get("text") or "")]


async def test_cancel_while_articles_are_offered_opens_nothing(harness: Harness) -> None:
    await load_articles(harness)
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    offered = await describe(alice, "Card", "My card payment was declined at checkout")
    await alice.press(offered, labels(offered)[0])
    shown = await alice.receive()
    await alice.send("/cancel")
    await alice.receive_text("Cancelled; no ticket was opened.")
    await alice.press(shown, "That solved it")  # a button of the cancelled dialogue
    await harness.standin.wait_acknowledged()
    offers, tickets = await offers_and_tickets(harness)
    assert tickets == [] and [o.outcome for o in offers] == [None]
    assert await article_counts(harness, "payment-declined") == (1, 0)

    # A button of an earlier /new does not answer a new one.
    offered_again = await describe(alice, "Card", "My card payment was declined at checkout")
    await alice.press(shown, "That solved it")
    await alice.press(offered_again, labels(offered_again)[0])
    await alice.receive_text("Card payment declined")
    offers, tickets = await offers_and_tickets(harness)
    assert [o.outcome for o in offers] == [None, None]


async def test_faq_finds_articles_for_everyone(harness: Harness) -> None:
    await load_articles(harness)
    stranger = harness.user(1005, "Stranger")  # not registered: the articles are public
    await stranger.send("/faq my parcel is late, where is it")
    found = await stranger.receive_text("These articles may help")
    assert "My order is late" in labels(found)
    await stranger.press(found, "My order is late")
    await stranger.receive_text("Deliveries normally take")
    await stranger.send("/faq")
    await stranger.receive_text("Ask a question after the command")
    await stranger.send("/faq what is the weather tomorrow")
    await stranger.receive_text("No article answers that yet")
    await harness.admin.send("/faq I was charged twice")
    found = await harness.admin.receive_text("These articles may help")
    assert labels(found)[0] == "Charged twice for one order"
    await harness.admin.press_data(found, "faq:999999")
    await harness.admin.press_data(found, "faq:x")
    await harness.standin.wait_acknowledged()
    answers = [a.get("text") or "" for a in harness.standin.callback_answers.values()]
    assert "This article no longer exists." in answers and "This button is not valid." in answers
    # /faq does not count as /new's suggestions.
    async with harness.resources.session_factory() as session:
        assert await session.scalar(select(func.count(KbOffer.id))) == 0


async def test_kb_is_for_admins_only(harness: Harness) -> None:
    await harness.admin.send("/kb")
    await harness.admin.receive_text("The knowledge base is empty")
    alice = harness.user(1001, "Alice")
    await harness.register(alice, name="Alice", email="alice@example.com")
    await alice.send("/kb")
    await alice.receive_text("/kb is not available to you")


@pytest.mark.parametrize("setting", [0])
async def test_kb_suggestions_zero_offers_nothing(tmp_path, setting: int) -> None:
    async with started_bot(tmp_path, kb_suggestions=setting) as harness:
        await load_articles(harness)
        alice = harness.user(1001, "Alice")
        await harness.register(alice, name="Alice", email="alice@example.com")
        asked = await describe(alice, "Password", "I forgot my password and cannot sign in")
        assert "How urgent" in asked["text"]
