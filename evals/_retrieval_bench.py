"""`shopassist bench retrieval`: latency, memory and throughput of the retrieval engine.

Figures are printed and saved, never asserted: timing belongs here, not in unit tests. Each
scale compares the ways to apply hard filters on the same queries (Chroma `where`, HNSW
over-fetch then filter, exact scoring with a mask, exact scoring of the allowed rows) and
checks which of them return exactly the brute-force answer.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from retrieval import (
    DEFAULT_TEXT_MODEL,
    Exclusions,
    Filters,
    HnswSettings,
    Product,
    SearchEngine,
    SearchQuery,
    SentenceTextEncoder,
    TextEncoder,
    Variant,
    VectorIndex,
    collection_name,
    normalise_rows,
)

DIM = 384
COLORS = (
    "Black",
    "Blue",
    "Red",
    "Green",
    "Gray",
    "White",
    "Orange",
    "Purple",
    "Yellow",
    "Brown",
    "Pink",
    "Navy",
)
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
GENDERS = ("Men", "Women", "Unisex")
MATERIALS = ("Cotton", "Wool", "Nylon", "Polyester", "Fleece", "Leather", "Canvas", "Rubber")
NOUNS = (
    "jacket",
    "hoodie",
    "tee",
    "tank",
    "pants",
    "shorts",
    "leggings",
    "bag",
    "watch",
    "bottle",
    "mat",
    "boots",
    "shoes",
    "gloves",
    "hat",
    "socks",
    "vest",
    "skirt",
    "dress",
    "backpack",
)
QUERIES = (
    "warm winter jacket",
    "blue running shorts",
    "leather hiking boots",
    "yoga mat",
    "waterproof backpack for travel",
    "cotton tee for women",
    "gift for a runner",
    "cheap gym bag",
    "wool socks",
    "black hoodie with zip",
)
# (label, filters): a selective filter, a broad one and a mid one.
FILTER_CASES = (
    ("colour + price (selective)", Filters(colors=("Blue",), price_max=60.0)),
    ("gender (broad)", Filters(genders=("Women",))),
    ("category + size", Filters(categories=("jacket",), sizes=("M",))),
)


def rss_mb() -> float:
    """Resident memory of this process now (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50": round(pick(0.5), 2), "p95": round(pick(0.95), 2), "n": len(ordered)}


WARMUP = 3  # untimed first calls (lazy imports, caches, allocator) before any timed one


def timed(function: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples, result


def synthetic_catalog(size: int, seed: int = 0) -> tuple[list[Product], np.ndarray]:
    """Products with realistic facets and 384-d unit vectors structured like product text
    embeddings: kinds of product, families within a kind (near-identical items), noise.
    (Uniform random vectors would be the worst case for HNSW and unlike any catalog.)"""
    rng = np.random.default_rng(seed)
    kinds_centres = normalise_rows(rng.normal(size=(len(NOUNS), DIM)))
    families = max(1, size // 10)
    family_kind = rng.integers(0, len(NOUNS), size=families)
    family_centres = normalise_rows(
        kinds_centres[family_kind] + 0.9 * normalise_rows(rng.normal(size=(families, DIM)))
    )
    family = rng.integers(0, families, size=size)
    kinds = family_kind[family]
    vectors = normalise_rows(
        family_centres[family] + 0.6 * normalise_rows(rng.normal(size=(size, DIM)))
    )
    prices = np.round(np.exp(rng.normal(3.8, 0.7, size=size)), 2)
    picks = rng.integers(0, 10_000, size=(size, 6))
    products = []
    for i in range(size):
        noun = NOUNS[kinds[i]]
        colors = [COLORS[picks[i, 0] % 12], COLORS[picks[i, 1] % 12]]
        sizes = list(SIZES[picks[i, 2] % 3 : picks[i, 2] % 3 + 3])
        products.append(
            Product(
                id=f"syn:{i}",
                sku=str(i),
                catalog="syn",
                title=f"{colors[0]} {MATERIALS[picks[i, 3] % 8].lower()} {noun} {i}",
                category_path=["Synthetic", noun],
                categories=[["Synthetic", noun]],
                price=float(prices[i]),
                brand=f"Brand{picks[i, 4] % 50}",
                attributes={
                    "gender": [GENDERS[picks[i, 5] % 3]],
                    "material": [MATERIALS[picks[i, 3] % 8]],
                },
                variants=[Variant(f"{i}-{s}-{c}", s, c) for s in sizes for c in colors],
            )
        )
    return products, vectors.astype(np.float32)


class _Products:
    """The product source the engine reads (what `CatalogStore` is for a real catalog)."""

    def __init__(self, products: list[Product]) -> None:
        self._products = products

    def products(self) -> list[Product]:
        return self._products


class _FixedText:
    """A text encoder answering from the synthetic space, after the real one ran (so the
    real encoding cost is paid and measured, but vectors match the synthetic clusters)."""

    def __init__(self, real: TextEncoder, vectors: np.ndarray) -> None:
        self.real, self.name, self.dim = real, real.name, real.dim
        self._vectors = vectors
        self._next = 0

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.real.encode_texts(texts)
        self._next = (self._next + 1) % len(self._vectors)
        return self._vectors[[self._next] * len(texts)]


@dataclass
class ScaleResult:
    size: int
    build_seconds: dict[str, float] = field(default_factory=dict)
    vectors_per_second: float | None = None  # None when an index built earlier was reused
    rss_mb: float = 0.0
    filter_plans: list[dict[str, Any]] = field(default_factory=list)
    # HNSW and the whole search in a fresh process that opens the built index, as a server
    # would; then the same in the process that has just built it.
    hnsw: list[dict[str, Any]] = field(default_factory=list)
    engine: dict[str, Any] = field(default_factory=dict)
    hnsw_after_build: list[dict[str, Any]] = field(default_factory=list)
    engine_after_build: dict[str, Any] = field(default_factory=dict)


def bench_scale(
    size: int,
    *,
    text_model: str = DEFAULT_TEXT_MODEL,
    repeat: int = 30,
    work_dir: Path | None = None,
    progress: bool = True,
) -> ScaleResult:
    """Time the filter plans and the engine on a synthetic index of `size` vectors, built in
    `work_dir` (or reused from it: a 1M build takes over half an hour).

    Each phase runs in its own process, as a store would run `ingest` and then `serve`: at 1M
    a process holds ~10 GB, so two at once would not fit, and a server never measures in the
    process that has just bulk-loaded Chroma."""
    folder = Path(work_dir or tempfile.mkdtemp(prefix="shopassist-bench-"))
    built = _in_own_process("build", size, folder, text_model, repeat, progress)
    served = _in_own_process("serve", size, folder, text_model, repeat, progress)
    return ScaleResult(size=size, **built, **served)


def _build_and_time(
    size: int, folder: Path, text_model: str, repeat: int, progress: bool
) -> dict[str, Any]:
    """Build (or reuse) the index, then time the filter plans, HNSW and the engine in the
    building process."""
    out: dict[str, Any] = {"build_seconds": {}}
    started = time.perf_counter()
    products, vectors = synthetic_catalog(size)
    out["build_seconds"]["catalog"] = round(time.perf_counter() - started, 1)
    text_encoder = SentenceTextEncoder(text_model)
    index = _index_at(folder, size)
    name = collection_name("text", text_encoder.name)
    if index.collection(name).count() != size:  # else reuse: the vectors are deterministic
        index.drop(name)
        started = time.perf_counter()
        _build_index(index, name, products, vectors, progress)
        seconds = time.perf_counter() - started
        out["build_seconds"]["chroma"] = round(seconds, 1)
        out["vectors_per_second"] = round(size / seconds)
    queries = _queries(vectors)
    started = time.perf_counter()
    engine = SearchEngine(_Products(products), index, _FixedText(text_encoder, queries))
    out["build_seconds"]["engine"] = round(time.perf_counter() - started, 1)
    out["rss_mb"] = round(rss_mb())
    out["filter_plans"] = _filter_plans(engine, index, name, queries, repeat)
    out["hnsw_after_build"] = _hnsw_sweep(engine, index, name, queries)
    out["engine_after_build"] = _engine_turns(engine, repeat)
    return out


def _index_at(folder: Path, size: int) -> VectorIndex:
    """The synthetic index of `size` vectors kept in `folder`, with the engine's ef_search."""
    return VectorIndex(path=folder / f"chroma-{size}", hnsw=HnswSettings(ef_search=128))


def _build_index(
    index: VectorIndex,
    name: str,
    products: list[Product],
    vectors: np.ndarray,
    progress: bool,
) -> None:
    metadata = [
        {"product_id": p.id, "color": p.colors[0], "price": p.price or 0.0} for p in products
    ]
    step = 5000
    size = len(products)
    for start in tqdm(range(0, size, step), desc=f"indexing {size:,}", disable=not progress):
        index.upsert(
            name,
            [p.id for p in products[start : start + step]],
            vectors[start : start + step],
            metadata[start : start + step],
        )


def _queries(vectors: np.ndarray) -> np.ndarray:
    """50 query vectors near catalog items (a shopper's text lands near some products)."""
    rng = np.random.default_rng(1)
    noise = normalise_rows(rng.normal(size=(50, DIM)))
    return normalise_rows(vectors[rng.integers(0, len(vectors), 50)] + 0.3 * noise)


def _in_own_process(
    phase: str, size: int, folder: Path, text_model: str, repeat: int, progress: bool
) -> dict[str, Any]:
    """A phase in a new Python process (progress bars pass through; the figures come back as
    JSON on its last line of output)."""
    arguments = [phase, str(size), str(folder), text_model, str(repeat), str(int(progress))]
    command = [sys.executable, "-m", __name__, *arguments]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _filter_plans(
    engine: SearchEngine, index: VectorIndex, name: str, queries: np.ndarray, repeat: int
) -> list[dict[str, Any]]:
    """Top-100 under a selective filter by each plan; `exact` compares with brute force."""
    view = engine.view
    matrix = _view_aligned(engine)
    k = 100
    cases = [
        (
            "colour + price (selective)",
            Filters(colors=("Blue",), price_max=60.0),
            {"$and": [{"color": "Blue"}, {"price": {"$lte": 60.0}}]},
        ),
        ("gender (broad)", Filters(genders=("Women",)), None),
    ]
    rows_out = []
    collection = index.collection(name)
    for label, filters, where in cases:
        mask = view.allowed(filters, Exclusions())
        selectivity = float(mask.mean())
        # The colour column in Chroma holds each product's first colour only, so `where` is
        # checked against the same rule here.
        if where is not None:
            mask = mask & np.array([p.colors[0] == "Blue" for p in view.products.values()])
            selectivity = float(mask.mean())
        truth = [_brute(matrix, q, mask, k) for q in queries[:repeat]]

        def run_where(q: np.ndarray, w: dict[str, Any] | None = where) -> list[int]:
            got = collection.query(
                query_embeddings=q[None, :], n_results=k, where=w, include=["distances"]
            )
            return [view.row[i] for i in got["ids"][0]]

        def run_overfetch(q: np.ndarray, m: np.ndarray = mask, s: float = selectivity) -> list[int]:
            want = int(min(len(view), np.ceil(k / max(s, 1e-6) * 2)))
            got = index.query(name, q, want)
            return [view.row[i] for i, _ in got if m[view.row[i]]][:k]

        def run_masked(q: np.ndarray, m: np.ndarray = mask) -> list[int]:
            return _brute(matrix, q, m, k)

        def run_subset(q: np.ndarray, m: np.ndarray = mask) -> list[int]:
            rows = np.flatnonzero(m)
            scores = matrix[rows] @ q
            top = np.argpartition(-scores, min(k, len(rows)) - 1)[:k]
            return rows[top[np.argsort(-scores[top])]].tolist()

        plans = {
            "masked exact": run_masked,
            "subset exact": run_subset,
            "hnsw over-fetch": run_overfetch,
        }
        if where is not None:
            plans["chroma where"] = run_where
        for plan, function in plans.items():
            for q in queries[-WARMUP:]:
                function(q)
            samples, answers = [], []
            for q in queries[:repeat]:
                ms, answer = timed(lambda f=function, v=q: f(v), 1)
                samples += ms
                answers.append(answer)
            recall = statistics.fmean(
                len(set(a) & set(t)) / max(1, len(t)) for a, t in zip(answers, truth, strict=True)
            )
            rows_out.append(
                {
                    "filter": label,
                    "selectivity": round(selectivity, 3),
                    "plan": plan,
                    **percentiles(samples),
                    "recall_vs_exact": round(recall, 3),
                }
            )
    return rows_out


def _view_aligned(engine: SearchEngine) -> np.ndarray:
    """The text vectors in catalog-view row order (Chroma returns them in its own order)."""
    space = engine.text_space
    matrix = np.zeros((len(engine.view), space.matrix.shape[1]), dtype=np.float32)
    matrix[space.view_row] = space.matrix
    return matrix


def _brute(matrix: np.ndarray, query: np.ndarray, mask: np.ndarray, k: int) -> list[int]:
    scores = matrix @ query
    scores[~mask] = -np.inf
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.argsort(-scores[top])].tolist()


def _hnsw_sweep(
    engine: SearchEngine, index: VectorIndex, name: str, queries: np.ndarray
) -> list[dict[str, Any]]:
    """Unfiltered top-10 recall and latency of Chroma's HNSW for several ef_search values.

    Chroma applies a changed ef_search when the index is loaded again, so each value is set,
    then the collection is reopened from disk.
    """
    everything = np.ones(len(engine.view), dtype=bool)
    matrix = _view_aligned(engine)
    truth = [set(_brute(matrix, q, everything, 10)) for q in queries]
    rows = []
    for ef in (16, 32, 64, 128, 256):
        reopened = VectorIndex(path=Path(index.location), hnsw=HnswSettings(ef_search=ef))
        reopened.collection(name)  # applies ef_search and reloads
        for q in queries[:WARMUP]:
            reopened.query(name, q, 10)
        samples, recalls = [], []
        for q, expected in zip(queries, truth, strict=True):
            ms, got = timed(lambda v=q, r=reopened: r.query(name, v, 10), 1)
            samples += ms
            recalls.append(len({engine.view.row[i] for i, _ in got} & expected) / 10)
        rows.append(
            {
                "ef_search": ef,
                **percentiles(samples),
                "recall@10": round(statistics.fmean(recalls), 3),
            }
        )
    VectorIndex(path=Path(index.location), hnsw=index.hnsw).collection(name)
    return rows


def _engine_turns(engine: SearchEngine, repeat: int) -> dict[str, Any]:
    """The whole filtered hybrid search (encode, filter, dense, BM25, fuse, MMR, evidence)."""
    return _time_searches(engine, (("no filter", Filters()), *FILTER_CASES), repeat)


def _time_searches(
    engine: SearchEngine, cases: Sequence[tuple[str, Filters]], repeat: int
) -> dict[str, Any]:
    """p50/p95 of fresh (uncached) searches per filter case, after untimed warm-up calls."""
    out: dict[str, Any] = {}
    for label, filters in cases:
        for i in range(WARMUP):
            engine.search(SearchQuery(text=f"warm-up {label} {i}", filters=filters, k=10))
        samples = []
        for i in range(repeat):
            query = SearchQuery(text=f"{QUERIES[i % len(QUERIES)]} {i}", filters=filters, k=10)
            samples += timed(lambda q=query: engine.search(q), 1)[0]
        out[label] = percentiles(samples)
    return out


def bench_catalog(engine: SearchEngine, repeat: int = 30) -> dict[str, Any]:
    """Filtered hybrid searches on the real catalog, through the cache-cold engine path."""
    cases = (
        ("text only", Filters()),
        ("women, under $50", Filters(genders=("Women",), price_max=50.0)),
        ("blue, size M", Filters(colors=("Blue",), sizes=("M",))),
    )
    out: dict[str, Any] = {"products": len(engine.view), **_time_searches(engine, cases, repeat)}
    out["rss_mb"] = round(rss_mb())
    return out


def bench_ingest(size: int, cleaning: Any, work_dir: Path) -> dict[str, Any]:
    """Products/s of the real ingest pipeline (parse, clean, tag, store) on a generic JSONL."""
    from retrieval import CatalogStore, ingest

    products, _ = synthetic_catalog(size, seed=5)
    source = work_dir / "synthetic.jsonl"
    with source.open("w", encoding="utf-8") as handle:
        for product in products:
            row = product.to_dict()
            row["id"] = row.pop("sku")
            row["category"] = row.pop("category_path")
            handle.write(json.dumps(row) + "\n")
    store = CatalogStore(work_dir / "ingest.db")
    started = time.perf_counter()
    report = ingest(source, store, catalog="syn", cleaning=cleaning, progress=False)
    seconds = time.perf_counter() - started
    return {
        "products": report.products,
        "seconds": round(seconds, 1),
        "products_per_second": round(report.products / seconds),
    }


def save(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "retrieval.json"
    path.write_text(json.dumps(report, indent=2), encoding="utf-8")
    return path


def _serve_and_time(
    size: int, folder: Path, text_model: str, repeat: int, progress: bool
) -> dict[str, Any]:
    """What a server process sees: the catalog and the built index opened afresh."""
    products, vectors = synthetic_catalog(size)
    index = _index_at(folder, size)
    queries = _queries(vectors)
    del vectors
    text_encoder = SentenceTextEncoder(text_model)
    engine = SearchEngine(_Products(products), index, _FixedText(text_encoder, queries))
    engine_turns = {**_engine_turns(engine, repeat), "rss_mb": round(rss_mb())}
    name = collection_name("text", text_encoder.name)
    return {"engine": engine_turns, "hnsw": _hnsw_sweep(engine, index, name, queries)}


PHASES = {"build": _build_and_time, "serve": _serve_and_time}

if __name__ == "__main__":
    phase, size_arg, folder_arg, model_arg, repeat_arg, progress_arg = sys.argv[1:7]
    figures = PHASES[phase](
        int(size_arg), Path(folder_arg), model_arg, int(repeat_arg), progress_arg == "1"
    )
    print(json.dumps(figures))
