"""Checks that the catalog store and the vector index agree, and that both files are readable.

The store is the truth and every collection is derived from it, so each disagreement has one
repair: `shopassist index` brings the index in step (the sync is idempotent), and a killed
ingest is re-run (the store still holds that catalog's previous version, whole).
"""

from __future__ import annotations

import json
import sqlite3
import urllib.parse
import urllib.request
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from retrieval._index import Metadata, VectorIndex
from retrieval._indexer import IndexItem, collection_name, image_items, is_current, text_items
from retrieval._store import CatalogStore

INDEX_REPAIR = "run `shopassist index`"
EXAMPLES = 3
HEALTH_PATH = "/api/v1/health"
SERVER_TIMEOUT_S = 10
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class ProblemKind(StrEnum):
    STORE_DAMAGED = "store_damaged"
    INGEST_UNFINISHED = "ingest_unfinished"
    MISSING = "missing"
    STALE = "stale"
    OUTDATED = "outdated"
    INDEX_UNREADABLE = "index_unreadable"
    CACHE_DAMAGED = "cache_damaged"
    SERVER_BEHIND = "server_behind"
    SERVER_UNREACHABLE = "server_unreachable"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding in plain words, with the command that repairs it."""

    kind: ProblemKind
    message: str
    repair: str
    where: str  # the collection, file or catalog concerned
    count: int = 1
    examples: tuple[str, ...] = ()


@dataclass(slots=True)
class DoctorReport:
    """What `shopassist doctor` prints; healthy when there is no problem (notes are advice)."""

    problems: list[Problem] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "problems": [asdict(p) | {"examples": list(p.examples)} for p in self.problems],
            "counts": dict(self.counts),
            "notes": list(self.notes),
        }


def check_catalog(
    store: CatalogStore,
    index: VectorIndex,
    text_encoder_name: str,
    image_encoder_name: str | None = None,
    clip_name: str | None = None,
    *,
    colour_name: str | None = None,
    cache_path: Path | None = None,
) -> DoctorReport:
    """Compare the store with the text collection (and the photo collections of the encoders
    named), and check the store's and the embedding cache's SQLite integrity."""
    report = DoctorReport()
    damage = integrity_errors(store.path)
    if damage:
        report.problems.append(store_damaged(store.path, damage))
        return report  # nothing read from a damaged store can be trusted for the comparison
    for catalog, source, started_at in store.unfinished_ingests():
        report.problems.append(
            Problem(
                ProblemKind.INGEST_UNFINISHED,
                f"The ingest of catalog {catalog!r} from {source} started at {started_at} never "
                f"finished (it was killed, or is still running); catalog {catalog!r} is as it "
                "was before that ingest.",
                f"re-run `shopassist ingest {source} --catalog {catalog}` (with the same options)",
                catalog,
            )
        )
    products = store.products()
    report.counts["products"] = len(products)
    if not products:
        report.notes.append("The catalog store is empty: run `shopassist ingest SOURCE` first.")
    expected: list[tuple[str, tuple[str, str], list[IndexItem]]] = [
        (collection_name("text", text_encoder_name), ("product", "products"), text_items(products))
    ]
    if image_encoder_name or clip_name:
        photos, _, unreadable = image_items(products)
        report.counts["photos"] = len(photos)
        if unreadable:
            report.counts["unreadable_photos"] = len(unreadable)
            report.notes.append(
                f"{len(unreadable)} product photos cannot be read (e.g. {unreadable[0]}) and are "
                "left out of the photo index; re-run the ingest with `--images DIR` if they moved."
            )
        photo_spaces = (("image", image_encoder_name), ("clip", clip_name), ("colour", colour_name))
        for kind, name in photo_spaces:
            if name:
                expected.append((collection_name(kind, name), ("photo", "product photos"), photos))
    for collection, what, items in expected:
        report.problems += _compare(index, collection, what, items, report.counts)
    if cache_path is not None:
        report.problems += _check_cache(cache_path, report.counts)
    return report


def check_server(url: str, store_version: int) -> list[Problem]:
    """Whether the server at `url` answers from the catalog version the store holds, read from
    its open `GET /api/v1/health`. A running server reloads a new catalog by itself (on a turn,
    or every `catalog_check_seconds`), so a difference that lasts means it cannot see this
    store's updates: `catalog_check_seconds: 0` and no traffic, another data folder, or a
    reload that fails (its log says why)."""
    base = url.rstrip("/")
    endpoint = base if base.endswith(HEALTH_PATH) else base + HEALTH_PATH
    handlers: list[urllib.request.BaseHandler] = []
    if urllib.parse.urlparse(endpoint).hostname in LOOPBACK:
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach our loopback
    try:
        with urllib.request.build_opener(*handlers).open(
            endpoint, timeout=SERVER_TIMEOUT_S
        ) as response:
            health = json.loads(response.read().decode("utf-8"))
        served = int(health["catalog_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:  # URLError is an OSError
        return [
            Problem(
                ProblemKind.SERVER_UNREACHABLE,
                f"The server at {url} did not answer {endpoint}: {exc}",
                "check the URL, and that `shopassist serve` runs there",
                url,
            )
        ]
    if served == store_version:
        return []
    where = ""
    if health.get("store_version") not in (None, store_version):
        where = (
            f" (it reads a store at version {health['store_version']}: another data folder "
            "than this one?)"
        )
    return [
        Problem(
            ProblemKind.SERVER_BEHIND,
            f"The server at {url} runs catalog version {served}; the store is at "
            f"{store_version}{where}. Its shoppers may see old prices.",
            "if it stays behind (a server reloads on its next chat turn and every "
            "`catalog_check_seconds`; its log says why a reload failed), restart it with "
            "`shopassist serve` on this data folder",
            url,
        )
    ]


def integrity_errors(path: Path) -> list[str]:
    """SQLite's own `PRAGMA integrity_check` findings; empty when the file is sound."""
    try:
        with closing(sqlite3.connect(path, timeout=30)) as db:
            rows = [r[0] for r in db.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def store_damaged(path: Path, errors: Sequence[str]) -> Problem:
    """Also used when the store cannot even be opened."""
    return Problem(
        ProblemKind.STORE_DAMAGED,
        f"The catalog store {path} is damaged: {errors[0]}",
        f"restore {path} from a backup, or delete it and re-run `shopassist ingest SOURCE` for "
        "each catalog, then `shopassist index`",
        str(path),
        len(errors),
        tuple(errors[:EXAMPLES]),
    )


def index_unreadable(location: str, url: str | None, error: str) -> Problem:
    """Also used when a Chroma server cannot even be reached."""
    if url:
        where, repair = f"the Chroma server at {url}", f"start the Chroma server at {url}"
    else:
        where = f"the Chroma folder {location}"
        repair = f"delete {location} and {INDEX_REPAIR} (it is rebuilt from the store)"
    message = f"The vector index in {where} cannot be read: {error}"
    return Problem(ProblemKind.INDEX_UNREADABLE, message, repair, url or location)


def _compare(
    index: VectorIndex,
    collection: str,
    what: tuple[str, str],
    items: list[IndexItem],
    counts: dict[str, int],
) -> list[Problem]:
    """Missing, stale and outdated vectors of one collection; `what` is (singular, plural)."""
    try:
        exists = collection in {c.name for c in index.client.list_collections()}
        stored: dict[str, Metadata] = index.stored(collection) if exists else {}
    except Exception as exc:  # chromadb raises its own types, and a server may be down
        return [index_unreadable(index.location, index.url, f"{collection}: {exc}")]
    counts[collection] = len(stored)
    one, many = what
    wanted = {item.id: item for item in items}
    found = {
        ProblemKind.MISSING: (
            sorted(i for i in wanted if i not in stored),
            f"{many} in the catalog store have no vector in {collection}",
        ),
        ProblemKind.STALE: (
            sorted(i for i in stored if i not in wanted),
            f"vectors in {collection} are for {many} no longer in the catalog store",
        ),
        ProblemKind.OUTDATED: (
            sorted(i for i in wanted if i in stored and not is_current(stored[i], wanted[i])),
            f"vectors in {collection} were made from an older version of their {one}",
        ),
    }
    return [
        Problem(
            kind, f"{len(ids)} {text}.", INDEX_REPAIR, collection, len(ids), tuple(ids[:EXAMPLES])
        )
        for kind, (ids, text) in found.items()
        if ids
    ]


def _check_cache(path: Path, counts: dict[str, int]) -> list[Problem]:
    """The cache only saves encoding time, so the repair is to drop it."""
    if not path.exists():
        return []
    errors = integrity_errors(path)
    if not errors:
        try:
            with closing(sqlite3.connect(path, timeout=30)) as db:
                counts["cached_vectors"] = int(
                    db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
                )
        except sqlite3.DatabaseError as exc:
            errors = [str(exc)]
    if not errors:
        return []
    return [
        Problem(
            ProblemKind.CACHE_DAMAGED,
            f"The embedding cache {path} cannot be read: {errors[0]}",
            f"delete {path} (it is only a cache) and {INDEX_REPAIR}",
            str(path),
            len(errors),
            tuple(errors[:EXAMPLES]),
        )
    ]
