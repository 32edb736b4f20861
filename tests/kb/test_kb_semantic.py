"""The embeddings: WordLlama's own, read from its wheel without network and without its import."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from bot.kb import semantic
from tests.support.process import ROOT

TEXTS = [
    "Where is my parcel?",
    "I forgot my password and cannot sign in",
    "Ünïcödé, emoji 🙂 and <b>tags</b> & 'quotes'",
    "",
    "word " * 2000,
]


def test_vectors_are_wordllamas_own() -> None:
    from wordllama import WordLlama

    library = WordLlama.load(
        semantic.MODEL,
        dim=semantic.DIM,
        cache_dir=semantic.package_folder(),
        disable_download=True,
    )
    ours = semantic.embed(TEXTS)
    theirs = library.embed(TEXTS[:3] + TEXTS[4:], norm=True)
    assert ours.shape == (5, 256) and ours.dtype == np.float32
    assert np.abs(np.delete(ours, 3, axis=0) - theirs).max() < 1e-5
    assert not ours[3].any()  # no tokens: the zero vector, not NaN
    assert semantic.from_bytes(semantic.to_bytes(ours)).tolist() == ours.tolist()


def test_model_loads_from_the_wheel_without_network_or_the_wordllama_import(tmp_path) -> None:
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "from bot.kb import semantic\n"
        "vectors = semantic.embed(['where is my parcel'])\n"
        "print(vectors.shape, vectors.dtype, 'wordllama' in sys.modules)\n"
    )
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}  # no model cache, no HF settings
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "(1, 256) float32 False"
