"""Vector storage: an embedding cache keyed by content hash, and Chroma collections.

Chroma runs embedded (`PersistentClient` on a data folder) or as a server (`HttpClient` on a
URL). We always pass our own vectors and never let Chroma embed (its default embedding
function downloads a model).
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

Metadata = dict[str, str | int | float | bool | list[str]]
PAGE = 5000
# Tries of a configuration change while another client holds the SQLite lock (~3 s in all).
LOCK_RETRIES = 5


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_key(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class EmbeddingCache:
    """(encoder name, content key) -> vector, in SQLite; re-ingests encode only what changed."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (encoder TEXT NOT NULL, key TEXT NOT NULL,"
                " vector BLOB NOT NULL, PRIMARY KEY (encoder, key))"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            with db:
                yield db
        finally:
            db.close()

    def get_many(self, encoder: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(keys))
        with self._connect() as db:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = db.execute(
                    f"SELECT key, vector FROM vectors WHERE encoder = ? AND key IN ({marks})",
                    (encoder, *chunk),
                )
                for key, blob in rows:
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, encoder: str, items: dict[str, np.ndarray]) -> None:
        with self._connect() as db:
            db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(encoder, k, np.asarray(v, np.float32).tobytes()) for k, v in items.items()],
            )

    def encode(
        self,
        encoder: str,
        keys: Sequence[str],
        compute: Callable[[list[int]], np.ndarray],
    ) -> tuple[np.ndarray, int]:
        """Vectors for `keys` in order, computing only the missing ones via `compute(indexes)`.

        Returns the matrix and how many vectors were computed (the rest came from the cache).
        """
        cached = self.get_many(encoder, keys)
        missing = [i for i, key in enumerate(keys) if key not in cached]
        if missing:
            fresh = compute(missing)
            new = {keys[i]: fresh[row] for row, i in enumerate(missing)}
            self.put_many(encoder, new)
            cached.update(new)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32), 0
        return np.stack([cached[key] for key in keys]), len(missing)


@dataclass(frozen=True, slots=True)
class HnswSettings:
    """HNSW parameters; `ef_search` is the recall/latency knob (see `shopassist bench`)."""

    space: str = "cosine"
    ef_construction: int = 200
    ef_search: int = 128
    max_neighbors: int = 16

    def __post_init__(self) -> None:
        if self.space not in ("cosine", "ip", "l2"):
            raise ValueError(f"hnsw space must be cosine, ip or l2, not {self.space!r}")
        if min(self.ef_construction, self.ef_search, self.max_neighbors) < 1:
            raise ValueError("hnsw ef_construction, ef_search and max_neighbors must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        return {
            "space": self.space,
            "ef_construction": self.ef_construction,
            "ef_search": self.ef_search,
            "max_neighbors": self.max_neighbors,
        }


class VectorIndex:
    """Named Chroma collections of our own vectors, embedded or on a server."""

    def __init__(
        self,
        *,
        path: Path | None = None,
        url: str | None = None,
        hnsw: HnswSettings | None = None,
    ) -> None:
        if (path is None) == (url is None):
            raise ValueError("give exactly one of a data path (embedded) or a server URL")
        if url is not None:
            parsed = urlparse(url)
            if parsed.scheme not in ("http", "https") or not parsed.hostname:
                raise ValueError(f"chroma URL must look like http://host:port, not {url!r}")
            self.location = url
        else:
            assert path is not None
            path.mkdir(parents=True, exist_ok=True)
            self.location = str(path)
        self.url = url
        self.hnsw = hnsw or HnswSettings()
        self.client = self._new_client()
        self._collections: dict[str, Any] = {}
        self._retired: Any = None  # the system `reopen` replaced last (stopped at the next one)

    def _new_client(self) -> Any:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if self.url is None:
            return chromadb.PersistentClient(path=self.location, settings=settings)
        parsed = urlparse(self.url)
        return chromadb.HttpClient(
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )

    def reopen(self) -> None:
        """See what another process wrote since this one opened the index.

        Embedded Chroma (PersistentClient) loads a collection's state once per process: after
        a separate `shopassist ingest` synced the same folder, this process's client fails
        ("Error finding id") or misses the new vectors until a new client is built on a fresh
        system (tests/test_live_catalog.py checks it across processes). Only this folder's
        cached system is dropped, so clients of other folders in the process keep working. The
        dropped system is stopped at the next reopen, not now: a call in flight may still use
        it, and stopping it frees its memory at once (garbage collection alone keeps ~2x the
        resident memory). A Chroma server is always current: its handles are fetched again."""
        if self.url is None:
            from chromadb.api.shared_system_client import SharedSystemClient

            retired = SharedSystemClient._identifier_to_system.pop(self.client._identifier, None)
            self.client = self._new_client()
            if self._retired is not None:
                self._retired.stop()
            self._retired = retired
        self._collections = {}

    def collection(self, name: str) -> Any:
        """The named collection, created with our HNSW settings. An existing collection whose
        ef_search differs is updated and reloaded (Chroma applies it only on load)."""
        cached = self._collections.get(name)  # one read: `reopen` may swap the dict meanwhile
        if cached is not None:
            return cached
        collection = self.client.get_or_create_collection(
            name=name,
            configuration={"hnsw": self.hnsw.to_dict()},
            embedding_function=None,
        )
        current = (collection.configuration.get("hnsw") or {}).get("ef_search")
        if current is not None and current != self.hnsw.ef_search:
            self._modify_when_unlocked(collection)
            if self.url is None:
                from chromadb.api.client import SharedSystemClient

                SharedSystemClient.clear_system_cache()
                self.client = self._new_client()
                self._collections = {}
            collection = self.client.get_collection(name=name, embedding_function=None)
        self._collections[name] = collection
        return collection

    def _modify_when_unlocked(self, collection: Any) -> None:
        """Store our ef_search. Another client of the same folder (another process, or one this
        process opened before a reload) may hold SQLite's lock for a moment: wait and retry."""
        from chromadb.errors import InternalError

        for attempt in range(LOCK_RETRIES):
            try:
                collection.modify(configuration={"hnsw": {"ef_search": self.hnsw.ef_search}})
                return
            except InternalError as exc:
                if "database is locked" not in str(exc) or attempt == LOCK_RETRIES - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))

    def upsert(
        self, name: str, ids: Sequence[str], vectors: np.ndarray, metadatas: Sequence[Metadata]
    ) -> None:
        collection = self.collection(name)
        batch = 1000
        for start in range(0, len(ids), batch):
            end = start + batch
            collection.upsert(
                ids=list(ids[start:end]),
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                metadatas=list(metadatas[start:end]),
            )

    def delete(self, name: str, ids: Sequence[str]) -> None:
        if ids:
            self.collection(name).delete(ids=list(ids))

    def stored(self, name: str) -> dict[str, Metadata]:
        """id -> metadata of everything in the collection."""
        ids, metadatas = [], []
        for page in self._pages(name, ["metadatas"]):
            ids += page["ids"]
            metadatas += page["metadatas"] or []
        return dict(zip(ids, metadatas, strict=True))

    def vectors(self, name: str) -> tuple[list[str], np.ndarray, list[Metadata]]:
        """All ids, vectors and metadata (loaded once at engine start for exact re-scoring)."""
        ids: list[str] = []
        metadatas: list[Metadata] = []
        blocks = []
        for page in self._pages(name, ["embeddings", "metadatas"]):
            ids += page["ids"]
            metadatas += page["metadatas"] or []
            blocks.append(np.asarray(page["embeddings"], dtype=np.float32))
        matrix = np.concatenate(blocks) if ids else np.zeros((0, 0), np.float32)
        return ids, matrix, metadatas

    def _pages(self, name: str, include: list[str]) -> Iterator[dict[str, Any]]:
        """A collection read in pages: one `get` of everything overflows SQLite's variable
        limit in embedded Chroma at ~100k records."""
        collection = self.collection(name)
        total = collection.count()
        for offset in range(0, total, PAGE):
            yield collection.get(include=include, limit=PAGE, offset=offset)

    def query(
        self, name: str, vector: np.ndarray, k: int, ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """(id, cosine similarity) of the approximate nearest neighbours."""
        collection = self.collection(name)
        count = collection.count()
        if count == 0 or k < 1:
            return []
        result = collection.query(
            query_embeddings=np.asarray(vector, dtype=np.float32)[None, :],
            n_results=min(k, count),
            ids=list(ids) if ids is not None else None,
            include=["distances"],
        )
        distances = result["distances"][0] if result["distances"] else []
        return [(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], distances, strict=True)]

    def drop(self, name: str) -> None:
        self._collections.pop(name, None)
        if name in {c.name for c in self.client.list_collections()}:
            self.client.delete_collection(name)
