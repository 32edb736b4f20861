"""Sentence embeddings from WordLlama's 256-dimension model, whose weights its wheel ships.

WordLlama embeds a text as the mean of its tokens' vectors (a static embedding table trained
for that) and normalises it; this module does exactly that with the wheel's own tokenizer and
weight files (`tests/kb/test_kb_semantic.py` checks it against WordLlama's `embed`). It does
not import the `wordllama` package itself: that import brings requests and huggingface_hub
(28 MB) and a float32 copy of the table (+16 MB), which would take the bot past its memory
budget. Here the table stays in the wheel's file, memory-mapped, so only the rows of words
actually seen are read. Nothing is ever downloaded: no machine running the bot needs a model hub.

The model is loaded on the first call, not at start, so the idle bot stays light. Vectors are
unit length, float32.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MODEL = "l2_supercat"
DIM = 256
WEIGHTS = f"weights/{MODEL}_{DIM}.safetensors"
TOKENIZER = f"tokenizers/{MODEL}_tokenizer_config.json"
TENSOR = "embedding.weight"

_lock = threading.Lock()
_model: Model | None = None


def package_folder() -> Path:
    """Where the installed wordllama wheel keeps its files (without importing it)."""
    spec = importlib.util.find_spec("wordllama")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the wordllama package is not installed (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


def _mapped_tensor(path: Path, name: str) -> np.ndarray:
    """A tensor of a .safetensors file, memory-mapped (the format: an 8-byte little-endian
    header length, a JSON header of dtype, shape and byte offsets, then the data)."""
    import numpy as np

    with path.open("rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    entry = header[name]
    dtype = {"F16": np.float16, "F32": np.float32}[entry["dtype"]]
    start, _ = entry["data_offsets"]
    return np.memmap(
        path, dtype=dtype, mode="r", offset=8 + length + start, shape=tuple(entry["shape"])
    )


class Model:
    """WordLlama's tokenizer and token table, and its average-pooling `embed`."""

    def __init__(self, folder: Path) -> None:
        from tokenizers import Tokenizer

        self.tokenizer: Any = Tokenizer.from_file(str(folder / TOKENIZER))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.table = _mapped_tensor(folder / WEIGHTS, TENSOR)
        if self.table.shape[1] != DIM:
            raise RuntimeError(f"{WEIGHTS}: expected {DIM} dimensions, got {self.table.shape}")

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, encoding in zip(
            vectors, self.tokenizer.encode_batch(texts, add_special_tokens=False), strict=True
        ):
            ids = np.clip(np.asarray(encoding.ids, dtype=np.int64), 0, len(self.table) - 1)
            if len(ids):
                row[:] = self.table[ids].astype(np.float32).mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.float32(1e-12))


def model() -> Model:
    """The model, loaded once (thread-safe) from the installed wheel's files."""
    global _model
    with _lock:
        if _model is None:
            _model = Model(package_folder())
        return _model


def is_loaded() -> bool:
    return _model is not None


def embed(texts: list[str]) -> np.ndarray:
    """One unit vector (float32) per text; a text without tokens gets the zero vector."""
    return model().embed(texts)


def to_bytes(vectors: np.ndarray) -> bytes:
    return vectors.astype("<f4").tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    """The vectors stored by `to_bytes`, one row each."""
    import numpy as np

    return np.frombuffer(blob, dtype="<f4").reshape(-1, DIM)
