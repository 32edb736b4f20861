"""/search: the tickets a person may see whose subject, description, messages or notes
contain every word of a query, best first, with a snippet of the best match.

The index lies in the database (migration 0011): FTS5 with bm25 on SQLite, tsvector with
ts_rank and a GIN index on PostgreSQL. A ticket's score is the sum of its matching rows'
scores (subject and description weigh more than messages), so more matches rank first.
Queries are never passed to the database's query syntax: they are cut into words, and each
word is searched for as a plain word.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import Float, Integer, Select, bindparam, column, delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import utcnow
from bot.services.errors import Forbidden, Invalid, NotFound
from bot.services.tickets import visible_to
from bot.services.users import Actor
from storage.models import Role, SavedSearch, Status, Ticket

PAGE_SIZE = 10
QUERY_MAX = 100  # characters of a query that are kept
WORDS_MAX = 8
KEPT_PER_USER = 20  # saved queries per person: older paging buttons say the search expired
SNIPPET_MAX = 120  # characters of a snippet: ten results fit in one message
SEARCHED_KINDS = ("customer", "agent", "note")  # not the bot's own system messages
USAGE = (
    "Usage: /search words (tickets whose subject, description, messages or notes contain them all)"
)

_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# Around the matched words in a snippet: private-use characters that text hardly contains
# (one that does would at worst bold the wrong words; the markup itself is built in pieces).
_OPEN, _CLOSE, _DOTS = "\ue000", "\ue001", "…"


@dataclass(frozen=True)
class Hit:
    """One ticket found: its line, and a snippet as pieces marked True where they match."""

    number: int
    status: Status
    subject: str
    snippet: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class Page:
    search_id: int | None  # the saved query behind the paging buttons; None: one page only
    query: str
    hits: list[Hit]
    offset: int
    total: int

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.hits) < self.total


def words(query: str) -> list[str]:
    """The words searched for: letters and digits, the first WORDS_MAX of the query's start."""
    return _WORD.findall(query[:QUERY_MAX])[:WORDS_MAX]


async def search(session: AsyncSession, *, actor: Actor, query: str) -> Page:
    """The first page for a new query; a query with more pages is saved for the buttons.

    The search reads first and writes last, so that on SQLite the write lock is held only
    for the short insert, not while ranking.
    """
    _staff_only(actor)
    query = _SPACE.sub(" ", query).strip()[:QUERY_MAX]
    terms = words(query)
    if not terms:
        raise Invalid(USAGE)
    hits, total = await find(session, actor=actor, terms=terms)
    search_id = await _save(session, actor, query) if total > len(hits) else None
    return Page(search_id, query, hits, 0, total)


async def _save(session: AsyncSession, actor: Actor, query: str) -> int:
    saved = SavedSearch(user_id=actor.user_id, query=query, created_at=utcnow())
    session.add(saved)
    await session.flush()
    newest = (
        select(SavedSearch.id)
        .where(SavedSearch.user_id == actor.user_id)
        .order_by(SavedSearch.id.desc())
        .limit(KEPT_PER_USER)
    )
    await session.execute(
        delete(SavedSearch).where(
            SavedSearch.user_id == actor.user_id, SavedSearch.id.not_in(newest.scalar_subquery())
        )
    )
    return saved.id


async def turn(session: AsyncSession, *, actor: Actor, search_id: int, offset: int) -> Page:
    """Another page of a saved query of this person's."""
    _staff_only(actor)
    saved = await session.get(SavedSearch, search_id)
    if saved is None or saved.user_id != actor.user_id:
        raise NotFound("This search has expired. Send /search again.")
    return await _page(session, actor, saved, offset)


async def find(
    session: AsyncSession,
    *,
    actor: Actor,
    terms: list[str],
    offset: int = 0,
    limit: int = PAGE_SIZE,
) -> tuple[list[Hit], int]:
    """A page of the tickets `actor` may see that contain every one of `terms`, best first,
    and how many there are in all."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    query, params = (_sqlite_hits if sqlite else _postgresql_hits)(terms)
    hits = query.columns(column("ticket_id", Integer), column("score", Float)).subquery("hits")
    score = func.sum(hits.c.score).label("score")
    ranked: Select = (
        select(Ticket.id, Ticket.status, Ticket.subject, func.count().over().label("total"))
        .join(hits, hits.c.ticket_id == Ticket.id)
        .group_by(Ticket.id, Ticket.status, Ticket.subject)
        .order_by(score.desc(), Ticket.id.desc())
        .offset(offset)
        .limit(limit)
    )
    rows = (await session.execute(visible_to(ranked, actor), params)).all()
    if not rows:
        return [], 0
    snippets = await _snippets(session, terms, [row.id for row in rows], sqlite=sqlite)
    found = [Hit(row.id, Status(row.status), row.subject, snippets.get(row.id, ())) for row in rows]
    return found, int(rows[0].total)


async def _page(session: AsyncSession, actor: Actor, saved: SavedSearch, offset: int) -> Page:
    terms = words(saved.query)
    hits, total = await find(session, actor=actor, terms=terms, offset=offset)
    if not hits and offset > 0:  # fewer results than when the button was made: the last page
        _, total = await find(session, actor=actor, terms=terms, limit=1)
        offset = max(total - 1, 0) // PAGE_SIZE * PAGE_SIZE
        hits, total = await find(session, actor=actor, terms=terms, offset=offset)
    return Page(saved.id, saved.query, hits, offset, total)


def _staff_only(actor: Actor) -> None:
    # Notes are never shown to customers, and search looks into them.
    if actor.role is Role.CUSTOMER:
        raise Forbidden("Search is for agents and admins.")


# SQLite: FTS5. bm25() is lower for better matches, hence the minus.

_KINDS = ", ".join(f"'{kind}'" for kind in SEARCHED_KINDS)
_SQLITE_HITS = f"""
    SELECT rowid AS ticket_id, -bm25(tickets_fts, 2.0, 1.0) AS score
    FROM tickets_fts WHERE tickets_fts MATCH :match
    UNION ALL
    SELECT m.ticket_id, -0.5 * bm25(messages_fts)
    FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
    WHERE messages_fts MATCH :match AND m.ticket_id IS NOT NULL AND m.kind IN ({_KINDS})
"""
# The unary `+`: rows come from the MATCH, filtered by ticket; through rowids or the ticket
# index instead, each row would be looked up in the FTS index alone (up to 8 times slower).
_SQLITE_SNIPPETS = text(f"""
    SELECT rowid AS ticket_id, -bm25(tickets_fts, 2.0, 1.0) AS score,
        snippet(tickets_fts, -1, :open, :close, :dots, 12) AS snippet
    FROM tickets_fts WHERE tickets_fts MATCH :match AND +rowid IN :ids
    UNION ALL
    SELECT m.ticket_id, -0.5 * bm25(messages_fts),
        snippet(messages_fts, 0, :open, :close, :dots, 12)
    FROM messages_fts JOIN messages m ON m.id = messages_fts.rowid
    WHERE messages_fts MATCH :match AND +m.ticket_id IN :ids AND m.kind IN ({_KINDS})
""").bindparams(bindparam("ids", expanding=True))


def _fts5_match(terms: list[str]) -> str:
    # Each word a quoted string (words hold no quotes): FTS5 operators and syntax in a
    # query are only ever words. Strings side by side must all match.
    return " ".join(f'"{term}"' for term in terms)


def _sqlite_hits(terms: list[str]):  # type: ignore[no-untyped-def]
    return text(_SQLITE_HITS), {"match": _fts5_match(terms)}


# PostgreSQL: tsvector columns. plainto_tsquery ANDs the words and knows no operators.

_POSTGRESQL_HITS = f"""
    SELECT t.id AS ticket_id, ts_rank(t.search_vector, q) AS score
    FROM tickets t, plainto_tsquery('simple', :terms) q WHERE t.search_vector @@ q
    UNION ALL
    SELECT m.ticket_id, ts_rank(m.search_vector, q)
    FROM messages m, plainto_tsquery('simple', :terms) q
    WHERE m.search_vector @@ q AND m.ticket_id IS NOT NULL AND m.kind IN ({_KINDS})
"""
# The text of each ticket's best matching row; the snippet is cut from it in Python, because
# ts_headline drops whatever looks like an HTML tag (`<b>x</b> & y` would show as `x & y`).
_POSTGRESQL_BEST = text(f"""
    WITH query AS (SELECT plainto_tsquery('simple', :terms) AS q),
    matching AS (
        SELECT t.id AS ticket_id, ts_rank(t.search_vector, q) AS score,
            t.subject || E'\\n' || t.description AS body
        FROM tickets t, query WHERE t.id IN :ids AND t.search_vector @@ q
        UNION ALL
        SELECT m.ticket_id, ts_rank(m.search_vector, q), m.text
        FROM messages m, query
        WHERE m.ticket_id IN :ids AND m.kind IN ({_KINDS}) AND m.search_vector @@ q
    )
    SELECT DISTINCT ON (ticket_id) ticket_id, score, body FROM matching
    ORDER BY ticket_id, score DESC
""").bindparams(bindparam("ids", expanding=True))
SNIPPET_WORDS = 14


def _postgresql_hits(terms: list[str]):  # type: ignore[no-untyped-def]
    return text(_POSTGRESQL_HITS), {"terms": " ".join(terms)}


async def _snippets(
    session: AsyncSession, terms: list[str], numbers: list[int], *, sqlite: bool
) -> dict[int, tuple[tuple[str, bool], ...]]:
    """The snippet of each ticket's best matching row."""
    if sqlite:
        params = {
            "match": _fts5_match(terms),
            "ids": numbers,
            "open": _OPEN,
            "close": _CLOSE,
            "dots": _DOTS,
        }
        rows = await session.execute(_SQLITE_SNIPPETS, params)
    else:
        found = await session.execute(_POSTGRESQL_BEST, {"terms": " ".join(terms), "ids": numbers})
        rows = [(number, score, _marked(body or "", terms)) for number, score, body in found]
    best: dict[int, tuple[float, str]] = {}
    for number, score, snippet in rows:
        if number not in best or score > best[number][0]:
            best[number] = (score, snippet or "")
    return {number: _pieces(snippet) for number, (_, snippet) in best.items()}


def _marked(body: str, terms: list[str]) -> str:
    """About SNIPPET_WORDS words of `body` around its first word among `terms`, matching
    words marked as FTS5's snippet() marks them."""
    wanted = {_folded(term) for term in terms}
    words = list(_WORD.finditer(body))
    if not words:
        return body
    first = next((i for i, word in enumerate(words) if _folded(word[0]) in wanted), 0)
    start = max(0, min(first - SNIPPET_WORDS // 3, len(words) - SNIPPET_WORDS))
    end = min(len(words), start + SNIPPET_WORDS)
    out = [_DOTS] if start > 0 else []
    position = words[start].start()
    for word in words[start:end]:
        out.append(body[position : word.start()])
        out.append(f"{_OPEN}{word[0]}{_CLOSE}" if _folded(word[0]) in wanted else word[0])
        position = word.end()
    out.append(body[position:] if end == len(words) else _DOTS)
    return "".join(out)


def _folded(word: str) -> str:
    """Lower-case without accents, as both databases compare words."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _pieces(snippet: str) -> tuple[tuple[str, bool], ...]:
    """A marked snippet as (text, matched) pieces on one line, at most SNIPPET_MAX long."""
    pieces: list[tuple[str, bool]] = []
    matched, room = False, SNIPPET_MAX
    for part in re.split(f"([{_OPEN}{_CLOSE}])", _SPACE.sub(" ", snippet).strip()):
        if part in (_OPEN, _CLOSE):
            matched = part == _OPEN
            continue
        if part and room > 0:
            part = part[:room]
            room -= len(part)
            if pieces and pieces[-1][1] == matched:
                pieces[-1] = (pieces[-1][0] + part, matched)
            else:
                pieces.append((part, matched))
    return tuple(pieces)
