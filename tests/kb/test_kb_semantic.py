"""The embeddings: all-MiniLM-L6-v2 from the installed wheel, without network; vectors stored
with the model that made them, and recomputed when the model changes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from sqlalchemy import select, update

from bot.kb import semantic
from bot.kb.files import read_folder
from bot.services import kb
from storage.db import create_engine, create_session_factory
from storage.models import KbArticle
from tests.support import databases
from tests.support.process import ROOT

TEXTS = [
    "Where is my parcel?",
    "I forgot my password and cannot sign in",
    "Ünïcödé, emoji 🙂 and <b>tags</b> & 'quotes'",
    "",
    "word " * 2000,
]


def test_vectors_are_unit_length_and_round_trip() -> None:
    vectors = semantic.embed(TEXTS)
    assert vectors.shape == (5, semantic.DIM) and vectors.dtype == np.float32
    norms = np.linalg.norm(np.delete(vectors, 3, axis=0), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert not vectors[3].any()  # no tokens: the zero vector, not NaN
    assert semantic.from_bytes(semantic.to_bytes(vectors)).tolist() == vectors.tolist()
    # Batching does not change a text's vector (each is run at its own length, unpadded).
    assert np.allclose(semantic.embed(TEXTS[1:2])[0], vectors[1], atol=1e-6)


def test_the_model_reads_meaning_not_shared_words() -> None:
    # The case WordLlama scored alike (BENCHMARKS.md): a paraphrase of the article's title
    # with no word in common, and an unrelated question sharing "my" (0.48 against 0.18).
    article, paraphrase, unrelated = semantic.embed(
        ["When will I get my refund?", "where is my reimbursement", "how do I reset my router"]
    )
    assert article @ paraphrase > article @ unrelated + 0.2


def test_model_loads_from_the_wheel_without_network(tmp_path) -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from bot.kb import semantic\n"
        "vectors = semantic.embed(['where is my parcel'])\n"
        "heavy = [m for m in ('torch', 'transformers', 'huggingface_hub') if m in sys.modules]\n"
        "print(vectors.shape, vectors.dtype, heavy)\n"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # no model cache, no HF settings
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 384) float32 []"


async def test_vectors_of_another_model_are_recomputed_by_the_next_search(tmp_path) -> None:
    engine = create_engine(databases.database_url(tmp_path))
    factory = create_session_factory(engine)
    try:
        async with factory() as session:
            await kb.import_articles(session, read_folder(ROOT / "examples" / "kb"))
            await session.commit()
            expected = {a.key: a.embedding for a in await kb.all_articles(session)}
            # As a database written before this model: another model's vectors, of its size.
            await session.execute(
                update(KbArticle)
                .where(KbArticle.key != "refund-timing")
                .values(embedding=b"\0" * (2 * 256 * 4), embedding_model=None)
            )
            await session.commit()
        async with factory() as session:
            (match, *_) = await kb.search(session, "where is my reimbursement", limit=3)
            assert match.key == "refund-timing"
            await session.commit()
        async with factory() as session:
            rows = (await session.execute(select(KbArticle))).scalars().all()
            assert {row.embedding_model for row in rows} == {semantic.MODEL}
            for row in rows:
                assert np.allclose(
                    semantic.from_bytes(row.embedding),
                    semantic.from_bytes(expected[row.key]),
                    atol=1e-6,
                )
            # An import now finds them current: nothing to recompute.
            counts = await kb.import_articles(session, read_folder(ROOT / "examples" / "kb"))
            assert (counts.added, counts.updated) == (0, 0)
    finally:
        await engine.dispose()
