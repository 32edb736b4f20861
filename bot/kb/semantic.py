"""Sentence embeddings from WordLlama's 256-dimension model, which its wheel ships.

The model (16 MB of weights, numpy and tokenizers) is loaded on the first call, not at start,
so the idle bot stays light; it is read from the installed package and never downloaded
(no machine running the bot needs to reach a model hub). Vectors are unit length, float32.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MODEL = "l2_supercat"
DIM = 256
_lock = threading.Lock()
_model: Any = None


def model() -> Any:
    """The WordLlama model, loaded once (thread-safe) from the installed wheel's own files."""
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            import wordllama

            # The wheel keeps weights/ and tokenizers/ beside the code, which is the layout
            # WordLlama expects of a cache folder; disable_download makes a missing file an error.
            _model = wordllama.WordLlama.load(
                MODEL,
                dim=DIM,
                cache_dir=Path(wordllama.__file__).parent,
                disable_download=True,
            )
        return _model


def is_loaded() -> bool:
    return _model is not None


def embed(texts: list[str]) -> np.ndarray:
    """One unit vector (float32) per text."""
    import numpy as np

    vectors = model().embed(texts, norm=True)
    return np.asarray(vectors, dtype=np.float32)


def to_bytes(vectors: np.ndarray) -> bytes:
    return vectors.astype("<f4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    """The vectors stored by `to_bytes`, one row each."""
    import numpy as np

    return np.frombuffer(blob, dtype="<f4").reshape(-1, DIM)
