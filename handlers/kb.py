"""The knowledge base in Telegram: /faq question (everyone), /kb (admins), and the state of
/new that offers articles before a ticket is opened (`offer_articles`, `dialogue_state`).

Buttons: `faq:ID` opens an article found by /faq; in /new, `kbo:NONCE:ID` opens an offered
article, `kbs:NONCE:ID` is "That solved it" and `kbh:NONCE` "I still need help" (the nonce is
the dialogue's, so a button of an earlier /new answers nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from markupsafe import Markup, escape
from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.formatting import TEXT_LIMIT, split_text
from bot.services import kb, validation
from bot.services.errors import Invalid
from handlers.context import HelpdeskContext
from handlers.framework import END, Answer, Edit, Reply, Result, Step, action, step
from storage.models import KbArticle, Role

STATE = "article"  # the /new dialogue's state while articles are offered
BODY_SHOWN = 3000  # characters of an article's text in one message
SOLVED_IT, NEED_HELP, NONE_OF_THESE = "That solved it", "I still need help", "None of these"
BOLD = re.compile(r"\*\*(.+?)\*\*")


def article_text(article: KbArticle) -> Markup:
    """The article as a message: its title in bold, then its text (Markdown's **bold** kept)."""
    body = article.body
    if len(body) > BODY_SHOWN:
        body = body[:BODY_SHOWN].rsplit(" ", 1)[0] + " …"
    # Escaped first, so the only tags are the ones added here.
    html = BOLD.sub(r"<b>\1</b>", str(escape(body)))
    return Markup("<b>{}</b>\n\n").format(article.title) + Markup(html)


def _ids(data: str, parts: int) -> list[str]:
    """The fields of a button's data after its prefix, or Invalid."""
    fields = data.split(":")[1:]
    if len(fields) != parts:
        raise Invalid("This button is not valid.")
    return fields


async def offer_articles(
    context: HelpdeskContext, *, subject: str, description: str, nonce: str
) -> Step | None:
    """After /new's description: the articles that match, as buttons, or None (go on)."""
    limit = context.resources.settings.kb_suggestions
    if limit <= 0:
        return None
    question = f"{subject}\n{description}"
    matches = await kb.search(context.session, question, limit=limit)
    if not matches:
        return None
    offer_id = await kb.offer(
        context.session, user_id=context.actor.user_id, question=question, matches=matches
    )
    context.dialogue["offer"] = offer_id
    context.dialogue["articles"] = [m.article_id for m in matches]
    buttons = [[(m.title[:64], f"kbo:{nonce}:{m.article_id}")] for m in matches]
    buttons.append([(NONE_OF_THESE, f"kbh:{nonce}")])
    text = (
        "These articles may answer it already. Open one to read it; "
        "if none helps, the ticket is opened as usual."
    )
    return Step(STATE, [Reply(text, buttons=buttons)])


def dialogue_state(
    dialogue: str, ask_priority: Callable[[HelpdeskContext], Step]
) -> list[BaseHandler]:
    """The handlers of the state STATE of the dialogue `dialogue` (/new); `ask_priority`
    is how the dialogue goes on when the customer still needs help."""

    def check(update: Update, context: HelpdeskContext, parts: int) -> list[str] | None:
        fields = _ids(update.callback_query.data, parts)
        return fields if fields[0] == context.dialogue.get("nonce") else None

    def offered(context: HelpdeskContext, value: str) -> int:
        try:
            article_id = validation.small_number(value, digits=18)
        except ValueError:
            raise Invalid("This button is not valid.") from None
        if article_id not in context.dialogue.get("articles", []):
            raise Invalid("This article was not offered here.")
        return article_id

    stale = Step(None, [Answer("This button belongs to an earlier dialogue.", alert=True)])

    @step(dialogue)
    async def open_article(update: Update, context: HelpdeskContext) -> Step:
        fields = check(update, context, 2)
        if fields is None:
            return stale
        article_id = offered(context, fields[1])
        article = await kb.article(context.session, article_id)
        nonce = fields[0]
        buttons = [
            [(SOLVED_IT, f"kbs:{nonce}:{article_id}")],
            [(NEED_HELP, f"kbh:{nonce}")],
        ]
        return Step(STATE, [Answer(), Reply(article_text(article), buttons=buttons)])

    @step(dialogue)
    async def solved(update: Update, context: HelpdeskContext) -> Step:
        fields = check(update, context, 2)
        if fields is None:
            return stale
        await kb.solved(
            context.session,
            offer_id=context.dialogue["offer"],
            user_id=context.actor.user_id,
            article_id=offered(context, fields[1]),
        )
        return Step(
            END,
            [
                Answer(),
                Edit(buttons=None),
                Reply("Glad it helped. No ticket was opened; send /new whenever you need us."),
            ],
        )

    @step(dialogue)
    async def still_need_help(update: Update, context: HelpdeskContext) -> Step:
        if check(update, context, 1) is None:
            return stale
        going_on = ask_priority(context)
        return Step(going_on.state, [Answer(), Edit(buttons=None), *going_on.say])

    @step(dialogue)
    async def use_the_buttons(update: Update, context: HelpdeskContext) -> Step:
        return Step(
            None,
            [Reply(f"Please open an article above or press “{NONE_OF_THESE}”, or /cancel.")],
        )

    return [
        CallbackQueryHandler(open_article, pattern=r"^kbo:"),
        CallbackQueryHandler(solved, pattern=r"^kbs:"),
        CallbackQueryHandler(still_need_help, pattern=r"^kbh:"),
        MessageHandler(~filters.COMMAND, use_the_buttons),
    ]


async def articles_shown(context: HelpdeskContext, *, ticket_id: int) -> list[Reply]:
    """For staff: the articles the customer was offered before opening the ticket."""
    if context.actor.role is Role.CUSTOMER:
        return []
    titles = await kb.shown_for_ticket(context.session, ticket_id)
    if not titles:
        return []
    return [
        Reply(Markup("Before opening it, the customer was offered: {}.").format("; ".join(titles)))
    ]


@action
async def faq(update: Update, context: HelpdeskContext) -> Result:
    question = " ".join(context.args or []).strip()
    if not question:
        return Reply("Ask a question after the command, e.g. /faq where is my parcel")
    limit = context.resources.settings.kb_suggestions or 3
    matches = await kb.search(context.session, question, limit=limit)
    if not matches:
        return Reply("No article answers that yet. Customers can open a ticket with /new.")
    buttons = [[(m.title[:64], f"faq:{m.article_id}")] for m in matches]
    return Reply("These articles may help:", buttons=buttons)


@action
async def faq_article(update: Update, context: HelpdeskContext) -> Result:
    try:
        article_id = validation.small_number(_ids(update.callback_query.data, 1)[0], digits=18)
    except ValueError:
        raise Invalid("This button is not valid.") from None
    article = await kb.article(context.session, article_id)
    return [Answer(), Reply(article_text(article))]


@action
async def list_articles(update: Update, context: HelpdeskContext) -> Result:
    rows = await kb.counts(context.session)
    if not rows:
        return Reply("The knowledge base is empty. Load articles with: python bot.py kb import DIR")
    lines = [
        f"{escape(row.key)}: shown {row.shown}, solved {row.solved} · {escape(row.title)}"
        for row in rows
    ]
    header = Markup("<b>Knowledge base</b>: {} articles (most solved first)\n").format(len(rows))
    parts = split_text("\n".join(lines), TEXT_LIMIT - len(header))
    return [Reply(header + Markup(parts[0]))] + [Reply(Markup(part)) for part in parts[1:]]


def handlers() -> list:
    return [
        CommandHandler("faq", faq),
        CallbackQueryHandler(faq_article, pattern=r"^faq:"),
        CommandHandler("kb", list_articles),
    ]
