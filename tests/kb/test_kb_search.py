"""The search: its full-text index kept in the article's transaction, hostile questions, speed,
and the model read from the installed wheel without any network."""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncIterator

import pytest

from bot.kb.files import ArticleText, read_folder
from bot.services import kb
from storage.db import SessionFactory, create_engine, create_session_factory
from tests.support import databases
from tests.support.process import ROOT

EXAMPLES = ROOT / "examples" / "kb"


@pytest.fixture
async def factory(tmp_path) -> AsyncIterator[SessionFactory]:
    engine = create_engine(databases.database_url(tmp_path))
    yield create_session_factory(engine)
    await engine.dispose()


async def test_full_text_index_follows_the_article_in_its_transaction(factory) -> None:
    async with factory() as session:
        await kb.import_articles(session, [ArticleText("a", "Parcel", "The zeppelin delivery")])
        (found,) = (await kb.lexical_scores(session, "zeppelin")).keys()  # not committed yet
        await kb.import_articles(session, [ArticleText("a", "Parcel", "The hovercraft delivery")])
        assert await kb.lexical_scores(session, "zeppelin") == {}
        assert list(await kb.lexical_scores(session, "hovercraft")) == [found]
        await session.rollback()
        assert await kb.lexical_scores(session, "hovercraft") == {}
    async with factory() as session:
        await kb.import_articles(session, [ArticleText("a", "Parcel", "The zeppelin delivery")])
        await session.commit()
    async with factory() as session:
        assert len(await kb.lexical_scores(session, "Zeppelins")) == 1  # stemmed, any case


@pytest.mark.parametrize(
    "question",
    [
        '"',
        "NEAR(a b)",
        "*",
        "-x",
        "a OR",
        "AND",
        "'; DROP TABLE kb_articles; --",
        "!!!",
        "x:y",
        "\u0000",
        "é" * 5000,
        "<b>&amp;</b>",
        "refund & | ! ( ) : * 'return'",
    ],
)
async def test_hostile_questions_search_without_error(factory, question: str) -> None:
    async with factory() as session:
        await kb.import_articles(session, read_folder(EXAMPLES))
        matches = await kb.search(session, question, limit=3)
        assert all(m.score >= kb.THRESHOLD for m in matches)


def test_query_terms_are_plain_words_without_stopwords() -> None:
    assert kb.query_terms('How do I get a REFUND? NEAR(x*) -y "z" can\'t') == [
        "refund",
        "near",
        "x",
        "y",
        "z",
    ]
    assert len(kb.query_terms(" ".join(f"w{n}" for n in range(100)))) == kb.TERMS_MAX


async def test_search_is_fast_once_the_model_is_loaded(factory) -> None:
    async with factory() as session:
        await kb.import_articles(session, read_folder(ROOT / "bench" / "kb_data" / "articles"))
        await kb.search(session, "warm up", limit=3)
        times = []
        for n in range(30):
            started = time.perf_counter()
            await kb.search(session, f"my parcel number {n} never arrived", limit=3)
            times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.050


def test_nothing_is_offered_unless_the_best_passes_and_weak_ones_not_beside_it() -> None:
    ranked = [(1, (0.50, 0.5, 1.0)), (2, (0.32, 0.3, 0.2)), (3, (0.25, 0.2, 0.0))]
    assert [i for i, _ in kb.offered(ranked, limit=3, threshold=0.4, relative_floor=0.6)] == [
        1,
        2,
    ]
    assert [i for i, _ in kb.offered(ranked, limit=1, threshold=0.4, relative_floor=0.0)] == [1]
    assert kb.offered(ranked, limit=3, threshold=0.6, relative_floor=0.0) == []
    assert kb.offered(ranked, limit=2, threshold=None) == ranked[:2]
    assert kb.offered([], limit=3, threshold=0.1) == []
