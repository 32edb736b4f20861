"""What the suggestions saved, in the report's summary: offered, avoided, the best articles."""

from __future__ import annotations

import io
import json
from datetime import timedelta

from bot.clock import utcnow
from bot.kb.files import ArticleText
from bot.reports.cli import write_summary
from bot.reports.summary import summary_of
from bot.services import kb
from storage.db import create_engine, create_session_factory
from storage.models import KbOffer, User
from tests.support import databases

ARTICLES = [
    ArticleText("parcel", "Where is my parcel", "Track it on the order page."),
    ArticleText("refund", "Refunds", "Refunds take five days."),
]


async def test_figures_count_offers_deflections_and_top_articles_in_the_period(tmp_path) -> None:
    engine = create_engine(databases.database_url(tmp_path))
    async with create_session_factory(engine)() as session:
        await kb.import_articles(session, ARTICLES)
        user = User(telegram_id=1001)
        session.add(user)
        await session.flush()
        ids = {a.key: a.id for a in await kb.all_articles(session)}

        async def offer(solved_by: str | None, days_ago: int = 0) -> None:
            matches = [kb.Match(i, k, k, 1.0, 1.0, 1.0) for k, i in ids.items()]
            offer_id = await kb.offer(session, user_id=user.id, question="q", matches=matches)
            if solved_by:
                await kb.solved(
                    session, offer_id=offer_id, user_id=user.id, article_id=ids[solved_by]
                )
            row = await session.get(KbOffer, offer_id)
            row.created_at = utcnow() - timedelta(days=days_ago)

        await offer("refund")
        await offer("refund")
        await offer("parcel")
        await offer(None)
        await offer("parcel", days_ago=30)  # outside the period
        await session.flush()

        since = utcnow() - timedelta(days=7)
        figures = await kb.figures(session, since=since)
        assert (figures.offered, figures.deflected) == (4, 3)
        assert figures.deflection_rate == 0.75
        assert figures.top_articles == [("refund", 2), ("parcel", 1)]
        assert [(c.key, c.shown, c.solved) for c in await kb.counts(session)] == [
            ("parcel", 5, 2),
            ("refund", 5, 2),
        ]

        summary = await summary_of(session, as_of=utcnow(), since=since)
        assert "Suggestions offered: 4; tickets avoided: 3 (deflection rate 75.0%)" in (
            summary.text()
        )
        out = io.StringIO()
        write_summary(summary, "json", out)
        assert json.loads(out.getvalue())["knowledge_base"] == {
            "offered": 4,
            "deflected": 3,
            "top_articles": [["refund", 2], ["parcel", 1]],
            "deflection_rate": 0.75,
        }
        out = io.StringIO()
        write_summary(summary, "csv", out)
        assert "kb_deflection_rate,4,,,,,0.7500" in out.getvalue()
    await engine.dispose()
