"""The knowledge base: articles, the search `/new` and `/faq` use, and what suggestions saved.

A search ranks the articles by two signals and adds them up: semantic similarity (cosine of
all-MiniLM-L6-v2 sentence vectors, the better of the question against the article's title and
against its body, both stored with the article) and the database's own full-text ranking
(SQLite FTS5 bm25, PostgreSQL ts_rank), scaled so that the best lexical match counts
LEXICAL_WEIGHT. When the best article scores under THRESHOLD nothing is offered (a wrong
suggestion costs the customer time); when it passes, the next ones are offered with it if they
score at least RELATIVE_FLOOR of it. bench/kb.py measures all this and shows how the constants
were chosen (on one half of a labelled set, checked on the other).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.kb import semantic
from bot.kb.files import ArticleText
from bot.services.errors import Invalid, NotFound
from storage.models import KbArticle, KbOffer

# Tuned by bench/kb.py (see BENCHMARKS.md, "Knowledge base"): the weight of the best lexical
# match against semantic similarity, the score the best article needs for anything to be
# offered, and the share of the best score the others need to be offered with it.
LEXICAL_WEIGHT = 0.01
THRESHOLD = 0.39
RELATIVE_FLOOR = 0.6
LEXICAL_CANDIDATES = 20
TERMS_MAX, TERM_LENGTH_MAX = 32, 40
QUESTION_MAX = 4200  # subject and description of /new
SOLVED, TICKET = "solved", "ticket"

# Words that say nothing about which article is meant ("how do I ..."); they are left out of
# the full-text query, where every one of them would match almost every article.
_STOPWORDS = """a about am an and any are as at be been but by can could did do does doing for
    from get
    got had has have having he her here him his how i if in into is it its just me
    my myself no not now of off on once only or other our out over please she should so some
    such than that the their them then there these they this those to too under until up very
    was we were what when where which while who why will with would you your yours
    d ll m re s t ve"""
STOPWORDS = frozenset(_STOPWORDS.split())
WORD = re.compile(r"[^\W_]+")  # as FTS5's unicode61 splits: "can't" is "can" and "t"


@dataclass(frozen=True)
class Match:
    """An article found for a question, with its combined score and the two parts of it."""

    article_id: int
    key: str
    title: str
    score: float
    semantic: float
    lexical: float


@dataclass(frozen=True)
class ImportCounts:
    added: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class ArticleCount:
    key: str
    title: str
    shown: int
    solved: int


@dataclass
class Figures:
    """What the suggestions of `/new` did in a period (for the report's summary)."""

    offered: int = 0
    deflected: int = 0
    top_articles: list[tuple[str, int]] = field(default_factory=list)

    @property
    def deflection_rate(self) -> float | None:
        return self.deflected / self.offered if self.offered else None


def content_hash(title: str, body: str) -> str:
    """What the stored embedding was computed from (the model included)."""
    data = f"{semantic.MODEL}/{semantic.DIM}\n{title}\n{body}".encode()
    return hashlib.sha256(data).hexdigest()


def query_terms(question: str) -> list[str]:
    """The words of a question worth looking up, lower-case, without duplicates."""
    terms: list[str] = []
    for word in WORD.findall(question.lower()):
        if word not in STOPWORDS and len(word) <= TERM_LENGTH_MAX and word not in terms:
            terms.append(word)
    return terms[:TERMS_MAX]


def _stale(row: KbArticle) -> bool:
    return row.embedding is None or row.embedding_model != semantic.MODEL


def _vectors(articles: list[ArticleText]) -> list[bytes]:
    """Each article's stored embedding: its title's vector, then its body's."""
    vectors = semantic.embed([part for a in articles for part in (a.title, a.body)])
    return [semantic.to_bytes(vectors[2 * n : 2 * n + 2]) for n in range(len(articles))]


async def import_articles(session: AsyncSession, articles: list[ArticleText]) -> ImportCounts:
    """Add new articles and update changed ones (by key); none is removed. Embeddings are
    computed for new and changed articles only."""
    keys = [a.key for a in articles]
    if len(set(keys)) != len(keys):
        raise Invalid("two articles have the same key")
    existing = {
        row.key: row
        for row in await session.scalars(select(KbArticle).where(KbArticle.key.in_(keys)))
    }
    changed = [
        a
        for a in articles
        if a.key not in existing
        or existing[a.key].content_hash != content_hash(a.title, a.body)
        or _stale(existing[a.key])
    ]
    vectors = await asyncio.to_thread(_vectors, changed) if changed else []
    now = utcnow()
    for article, vector in zip(changed, vectors, strict=True):
        row = existing.get(article.key)
        if row is None:
            session.add(
                KbArticle(
                    key=article.key,
                    title=article.title,
                    body=article.body,
                    content_hash=content_hash(article.title, article.body),
                    embedding=vector,
                    embedding_model=semantic.MODEL,
                    shown=0,
                    solved=0,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.title, row.body, row.embedding = article.title, article.body, vector
            row.embedding_model = semantic.MODEL
            row.content_hash = content_hash(article.title, article.body)
            row.updated_at = now
    await session.flush()
    added = sum(1 for a in changed if a.key not in existing)
    return ImportCounts(added, len(changed) - added, len(articles) - len(changed))


async def all_articles(session: AsyncSession) -> list[KbArticle]:
    return list(await session.scalars(select(KbArticle).order_by(KbArticle.key)))


async def counts(session: AsyncSession) -> list[ArticleCount]:
    """Every article with how often `/new` offered it and how often it solved the question."""
    rows = await session.execute(
        select(KbArticle.key, KbArticle.title, KbArticle.shown, KbArticle.solved).order_by(
            KbArticle.solved.desc(), KbArticle.shown.desc(), KbArticle.key
        )
    )
    return [ArticleCount(*row) for row in rows]


async def article(session: AsyncSession, article_id: int) -> KbArticle:
    row = await session.get(KbArticle, article_id)
    if row is None:
        raise NotFound("This article no longer exists.")
    return row


async def lexical_scores(session: AsyncSession, question: str) -> dict[int, float]:
    """The database's full-text ranking of the articles for the question (higher is better)."""
    terms = query_terms(question)
    if not terms:
        return {}
    if session.get_bind().dialect.name == "postgresql":
        # Only letters and digits reach to_tsquery, so no term can be an operator.
        query = text(
            "SELECT id, ts_rank(search, query) FROM kb_articles, "
            "to_tsquery('english', :query) query WHERE search @@ query "
            "ORDER BY 2 DESC, id LIMIT :limit"
        )
        words = " | ".join(terms)
    else:
        # Each term quoted: FTS5 reads it as a plain word, never as syntax (NEAR, -, *).
        query = text(
            "SELECT rowid, -bm25(kb_articles_fts, 2.0, 1.0) FROM kb_articles_fts "
            "WHERE kb_articles_fts MATCH :query ORDER BY 2 DESC, rowid LIMIT :limit"
        )
        words = " OR ".join(f'"{term}"' for term in terms)
    rows = await session.execute(query, {"query": words, "limit": LEXICAL_CANDIDATES})
    return {int(article_id): float(score) for article_id, score in rows}


async def semantic_scores(session: AsyncSession, question: str) -> dict[int, float]:
    """Cosine similarity of the question to each article: the better of title and body.
    Articles whose stored vectors come from another model (or none) are embedded again first."""
    query = select(KbArticle.id, KbArticle.embedding, KbArticle.embedding_model)
    rows = (await session.execute(query)).all()
    if not rows:
        return {}
    if not semantic.is_loaded():
        await asyncio.to_thread(semantic.model)  # the first search loads it (about a second)
    stale = [article_id for article_id, _, model in rows if model != semantic.MODEL]
    if stale:
        await _embed_again(session, stale)
        rows = (await session.execute(query)).all()
    import numpy as np

    vector = semantic.embed([question])[0]
    matrix = np.stack([semantic.from_bytes(blob) for _, blob, _ in rows])  # articles × 2 × dim
    similarity = (matrix @ vector).max(axis=1)
    return {row[0]: float(s) for row, s in zip(rows, similarity, strict=True)}


async def _embed_again(session: AsyncSession, article_ids: list[int]) -> None:
    """Store the current model's vectors for these articles (after the model changed)."""
    rows = list(await session.scalars(select(KbArticle).where(KbArticle.id.in_(article_ids))))
    texts = [ArticleText(row.key, row.title, row.body) for row in rows]
    for row, vector in zip(rows, await asyncio.to_thread(_vectors, texts), strict=True):
        row.embedding, row.embedding_model = vector, semantic.MODEL
    await session.flush()


def combine(
    semantic_: dict[int, float], lexical: dict[int, float], *, weight: float = LEXICAL_WEIGHT
) -> dict[int, tuple[float, float, float]]:
    """Each article's (score, semantic, lexical share): the lexical score is scaled by the
    best one (whose scale differs between bm25 and ts_rank), so it adds at most `weight`."""
    best = max(lexical.values(), default=0.0)
    combined = {}
    for article_id in semantic_.keys() | lexical.keys():
        share = lexical.get(article_id, 0.0) / best if best > 0 else 0.0
        sem = semantic_.get(article_id, 0.0)
        combined[article_id] = (sem + weight * share, sem, share)
    return combined


def offered(
    ranked: list[tuple[int, tuple[float, float, float]]],
    *,
    limit: int,
    threshold: float | None,
    relative_floor: float = RELATIVE_FLOOR,
) -> list[tuple[int, tuple[float, float, float]]]:
    """Of articles ranked best first (id, (score, ...)), those to offer (see `search`)."""
    if threshold is None:
        return ranked[:limit]
    if not ranked or ranked[0][1][0] < threshold:
        return []
    floor = relative_floor * ranked[0][1][0]
    return [item for item in ranked[:limit] if item[1][0] >= floor]


async def search(
    session: AsyncSession,
    question: str,
    *,
    limit: int,
    threshold: float | None = THRESHOLD,
    mode: str = "combined",
) -> list[Match]:
    """The articles that answer `question`, best first: at most `limit`; none when the best
    scores under `threshold` (None: no threshold), and with it only those scoring at least
    RELATIVE_FLOOR of it. `mode` "lexical" or "semantic" uses one signal only."""
    question = question[:QUESTION_MAX]
    if limit <= 0 or not question.strip():
        return []
    lexical = await lexical_scores(session, question) if mode != "semantic" else {}
    meaning = await semantic_scores(session, question) if mode != "lexical" else {}
    if mode == "lexical":
        scored = {i: (share, 0.0, share) for i, (_, _, share) in combine({}, lexical).items()}
    else:
        scored = combine(meaning, lexical, weight=0.0 if mode == "semantic" else LEXICAL_WEIGHT)
    ranked = sorted(scored.items(), key=lambda item: (-item[1][0], item[0]))
    ranked = offered(ranked, limit=limit, threshold=threshold)
    if not ranked:
        return []
    titles = dict(
        (row.id, (row.key, row.title))
        for row in await session.execute(
            select(KbArticle.id, KbArticle.key, KbArticle.title).where(
                KbArticle.id.in_([article_id for article_id, _ in ranked])
            )
        )
    )
    return [
        Match(article_id, *titles[article_id], score, sem, lex)
        for article_id, (score, sem, lex) in ranked
    ]


async def offer(session: AsyncSession, *, user_id: int, question: str, matches: list[Match]) -> int:
    """Record that `/new` offered these articles for this question; the offer's id."""
    ids = [m.article_id for m in matches]
    row = KbOffer(user_id=user_id, question=question, article_ids=ids, created_at=utcnow())
    session.add(row)
    await session.execute(
        update(KbArticle).where(KbArticle.id.in_(ids)).values(shown=KbArticle.shown + 1)
    )
    await session.flush()
    return row.id


async def _open_offer(session: AsyncSession, offer_id: int, user_id: int) -> KbOffer:
    row = await session.get(KbOffer, offer_id)
    if row is None or row.user_id != user_id or row.outcome is not None:
        raise Invalid("These suggestions are no longer open.")
    return row


async def solved(session: AsyncSession, *, offer_id: int, user_id: int, article_id: int) -> None:
    """The customer said the article solved it: no ticket, a deflection counted."""
    row = await _open_offer(session, offer_id, user_id)
    if article_id not in row.article_ids:
        raise Invalid("This article was not offered here.")
    row.outcome, row.article_id = SOLVED, article_id
    await session.execute(
        update(KbArticle).where(KbArticle.id == article_id).values(solved=KbArticle.solved + 1)
    )
    await session.flush()


async def ticket_opened(
    session: AsyncSession, *, offer_id: int, user_id: int, ticket_id: int
) -> None:
    """The customer still needed help: the ticket keeps which articles were shown."""
    row = await _open_offer(session, offer_id, user_id)
    row.outcome, row.ticket_id = TICKET, ticket_id
    await session.flush()


async def shown_for_ticket(session: AsyncSession, ticket_id: int) -> list[str]:
    """The titles of the articles offered before the ticket was opened."""
    offer_row = await session.scalar(select(KbOffer).where(KbOffer.ticket_id == ticket_id))
    if offer_row is None:
        return []
    rows = await session.execute(
        select(KbArticle.id, KbArticle.title).where(KbArticle.id.in_(offer_row.article_ids))
    )
    titles = dict(rows.all())
    return [titles[i] for i in offer_row.article_ids if i in titles]


async def figures(
    session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None
) -> Figures:
    """Suggestions offered, tickets avoided and the articles that solved most, in a period."""
    where = []
    if since is not None:
        where.append(KbOffer.created_at >= since)
    if until is not None:
        where.append(KbOffer.created_at <= until)
    offered, deflected = (
        await session.execute(
            select(
                func.count(KbOffer.id),
                func.count(KbOffer.id).filter(KbOffer.outcome == SOLVED),
            ).where(*where)
        )
    ).one()
    top = await session.execute(
        select(KbArticle.key, func.count(KbOffer.id))
        .join(KbOffer, KbOffer.article_id == KbArticle.id)
        .where(KbOffer.outcome == SOLVED, *where)
        .group_by(KbArticle.key)
        .order_by(func.count(KbOffer.id).desc(), KbArticle.key)
        .limit(5)
    )
    return Figures(offered, deflected, [(key, n) for key, n in top])
