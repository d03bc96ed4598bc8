"""`shopassist eval retrieval`: the engine against baselines on one catalog, in one run.

Tasks (all systems rank the same candidates: every product of the catalog):
1. attribute queries generated from the catalog's own labels, phrased as shoppers would,
   graded 2 (meets every constraint), 1 (right kind of product only) or 0;
2. photo queries: a product's alternate or back photo, that photo left out of the index, the
   product itself as the target; a store photo altered as a shopper's copy would be; a product
   the store does not have. Graded on the whole catalog or on a fixed half of its products
   (`photo_half`): changes to photo search are chosen on the dev half and the test half is
   reported once, when they are done;
3. item-to-item: the store's related / up-sell / cross-sell links as ground truth (the links
   ranker is switched off, so the engine cannot read the answer).
"""

from __future__ import annotations

import io
import json
import math
import random
import statistics
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageEnhance, ImageOps
from tqdm import tqdm

from retrieval import Filters, ImageRole, LinkKind, Product, SearchEngine, SearchQuery, kind_of

K = 10
SHOWN = 5  # the cards on a shopper's first page
# The photo queries' dev / test split: products shuffled with this seed, the first half dev.
SPLIT_SEED = 14
PHOTO_HALVES = ("all", "dev", "test")
# Shopper words for the catalog's leaf categories (the label stays the ground truth).
LEAF_NOUNS = {
    "Jackets": "jacket",
    "Hoodies & Sweatshirts": "hoodie",
    "Tees": "t-shirt",
    "Tanks": "tank top",
    "Bras & Tanks": "sports bra",
    "Pants": "pants",
    "Shorts": "shorts",
    "Bags": "bag",
    "Watches": "watch",
    "Fitness Equipment": "fitness equipment",
}
GENDER_WORDS = {"Men": ("men's", "for men"), "Women": ("women's", "for women")}


@dataclass(frozen=True, slots=True)
class AttributeQuery:
    text: str
    leaf: str
    gender: str | None = None
    color: str | None = None
    material: str | None = None
    activity: str | None = None
    price_max: float | None = None

    def filters(self, catalog: str) -> Filters:
        """The constraints as structured filters, as the NLU extracts them from the text."""
        return Filters(
            catalog=catalog,
            categories=(self.leaf,),
            genders=(self.gender,) if self.gender else (),
            colors=(self.color,) if self.color else (),
            attributes={
                "material": (self.material,) if self.material else (),
                "activity": (self.activity,) if self.activity else (),
            },
            price_max=self.price_max,
        )

    def grade(self, product: Product) -> int:
        if self.leaf not in {name for path in product.categories for name in path}:
            return 0
        checks = [
            self.gender is None
            or bool({self.gender, "Unisex"} & set(product.attribute_values("gender"))),
            self.color is None or self.color in product.attribute_values("color"),
            self.material is None or self.material in product.attribute_values("material"),
            self.activity is None or self.activity in product.attribute_values("activity"),
            self.price_max is None
            or (product.effective_price is not None and product.effective_price <= self.price_max),
        ]
        return 2 if all(checks) else 1


def attribute_queries(
    products: Sequence[Product], seed: int = 7, nouns: Mapping[str, str] = LEAF_NOUNS
) -> list[AttributeQuery]:
    """Queries for every (gender, leaf category) named in `nouns` (leaf -> what a shopper
    calls it), with colour, material, activity and price variants picked from what those
    products really carry."""
    rng = random.Random(seed)
    groups: dict[tuple[str | None, str], list[Product]] = {}
    for product in products:
        leaf = product.category_path[-1] if product.category_path else None
        if leaf not in nouns:
            continue
        genders = [g for g in product.attribute_values("gender") if g in GENDER_WORDS]
        key_gender = genders[0] if len(genders) == 1 else None
        groups.setdefault((key_gender, leaf), []).append(product)
    queries: list[AttributeQuery] = []
    for (gender, leaf), members in sorted(
        groups.items(), key=lambda kv: (kv[0][0] or "", kv[0][1])
    ):
        noun = nouns[leaf]
        owner, suffix = GENDER_WORDS.get(gender or "", ("", ""))
        queries.append(AttributeQuery(f"{owner} {noun}".strip(), leaf, gender))
        for color in _common(members, "color", rng, 2):
            queries.append(
                AttributeQuery(
                    f"{color.lower()} {noun} {suffix}".strip(), leaf, gender, color=color
                )
            )
        for material in _common(members, "material", rng, 1):
            text = f"{material.lower()} {noun} {suffix}".strip()
            queries.append(AttributeQuery(text, leaf, gender, material=material))
        for activity in _common(members, "activity", rng, 1):
            text = f"{noun} for {activity.lower()}"
            queries.append(AttributeQuery(text, leaf, gender, activity=activity))
        prices = [p.effective_price for p in members if p.effective_price is not None]
        if len(prices) >= 3:
            limit = float(5 * round(statistics.median(prices) / 5))
            text = f"{owner} {noun} under ${limit:.0f}".strip()
            queries.append(AttributeQuery(text, leaf, gender, price_max=limit))
            if gender:
                color = _common(members, "color", rng, 1)
                if color:
                    text = f"{color[0].lower()} {noun} {suffix} under ${limit:.0f}"
                    queries.append(
                        AttributeQuery(text, leaf, gender, color=color[0], price_max=limit)
                    )
    unique: dict[str, AttributeQuery] = {}
    for query in queries:
        unique.setdefault(query.text, query)
    return list(unique.values())


def _common(products: Sequence[Product], facet: str, rng: random.Random, n: int) -> list[str]:
    counts: dict[str, int] = {}
    for product in products:
        for value in product.attribute_values(facet):
            if "," not in value and len(value) < 30:
                counts[value] = counts.get(value, 0) + 1
    frequent = sorted(v for v, c in counts.items() if c >= 2)
    return rng.sample(frequent, min(n, len(frequent)))


# -- metrics ----------------------------------------------------------------------------------
def dcg(gains: Sequence[float]) -> float:
    return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(ranked_grades: Sequence[int], all_grades: Sequence[int], k: int = K) -> float:
    ideal = dcg(sorted(all_grades, reverse=True)[:k])
    return dcg(ranked_grades[:k]) / ideal if ideal else 0.0


def reciprocal_rank(hits: Sequence[bool]) -> float:
    return next((1 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0)


def photo_half(product_ids: Collection[str], seed: int = SPLIT_SEED) -> dict[str, str]:
    """Each product's half, "dev" or "test": the sorted ids shuffled with `seed`, the first
    half (rounded down) dev. Fixed for a given catalog, so choices made on dev photos can be
    checked once on test photos that never informed them."""
    ids = sorted(product_ids)
    random.Random(seed).shuffle(ids)
    return {pid: "dev" if n < len(ids) // 2 else "test" for n, pid in enumerate(ids)}


# -- running ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class System:
    name: str
    rankers: tuple[str, ...] = ()
    diversify: bool = False
    with_filters: bool = False
    random_order: bool = False
    read_photo: bool = True


TEXT_BASELINES = (
    System("random", random_order=True),
    System("bm25", ("bm25",)),
    System("dense", ("dense",)),
    System("image", ("image", "clip", "clip_image")),
)
CONTENT_RANKERS = ("dense", "bm25", "image", "clip", "clip_image", "audience")


@dataclass
class TaskResult:
    name: str
    queries: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class RetrievalEvaluation:
    """Runs the three tasks for every system on one catalog."""

    def __init__(
        self,
        engine: SearchEngine,
        catalog: str,
        load_image: Callable[[Path], Any] | None,
        *,
        seed: int = 7,
        progress: bool = True,
        photo_halves: Sequence[str] = ("all",),
    ) -> None:
        unknown = set(photo_halves) - set(PHOTO_HALVES)
        if unknown or not photo_halves:
            raise ValueError(f"photo halves are some of {PHOTO_HALVES}, not {sorted(unknown)}")
        self.engine = engine
        self.catalog = catalog
        self.load_image = load_image
        self.seed = seed
        self.progress = progress
        self.products = [p for p in engine.view.products.values() if p.catalog == catalog]
        if not self.products:
            raise ValueError(f"catalog {catalog!r} has no products in the engine")
        self.candidates = [p.id for p in self.products]
        self.photo_halves = tuple(dict.fromkeys(photo_halves))
        self.half = photo_half(self.candidates)

    def run(self, *, limit: int | None = None) -> list[TaskResult]:
        return [self.attributes(limit), *self.photos(limit), self.item_to_item(limit)]

    def _ranked(self, system: System, query: SearchQuery, salt: str) -> list[str]:
        if system.random_order:
            ids = list(self.candidates)
            random.Random(f"{self.seed}:{salt}").shuffle(ids)
            ranked = [i for i in ids if i != query.similar_to][:K]
        else:
            result = self.engine.search(query)
            # The page a shopper sees: exact matches, then the labelled close alternatives.
            ranked = [h.product.id for h in (*result.hits, *result.alternatives)][:K]
        return ranked

    def attributes(self, limit: int | None) -> TaskResult:
        queries = attribute_queries(self.products, self.seed)[:limit]
        systems = (
            *TEXT_BASELINES,
            System("hybrid"),
            System("hybrid + constraints", diversify=True, with_filters=True),
        )
        task = TaskResult("attribute queries", len(queries))
        task.notes.append(
            "'hybrid' gets the text only; 'hybrid + constraints' also gets the query's "
            "constraints as filters, as the dialogue model passes them."
        )
        if self.engine.image_space is None and self.engine.clip_space is None:
            task.notes.append(
                "'image' has no text-to-image model without CLIP: it falls back to browse order."
            )
        base = Filters(catalog=self.catalog)
        grades_of = [{p.id: query.grade(p) for p in self.products} for query in queries]
        for system in tqdm(systems, desc="attribute queries", disable=not self.progress):
            rows = []
            for query, grades in zip(queries, grades_of, strict=True):
                search = SearchQuery(
                    text=query.text,
                    filters=query.filters(self.catalog) if system.with_filters else base,
                    k=K,
                    rankers=system.rankers,
                    diversify=system.diversify,
                )
                ranked = self._ranked(system, search, query.text)
                ranked_grades = [grades[i] for i in ranked]
                relevant = {i for i, g in grades.items() if g == 2}
                found = [i in relevant for i in ranked]
                rows.append(
                    {
                        "NDCG@10": ndcg_at(ranked_grades, list(grades.values())),
                        "P@10": sum(found) / K,
                        "R@10": sum(found) / len(relevant) if relevant else 0.0,
                        "MRR": reciprocal_rank(found),
                    }
                )
            task.metrics[system.name] = _mean(rows)
        return task

    def photos(self, limit: int | None) -> list[TaskResult]:
        """Three sets of photo queries, graded on the page a shopper sees (SHOWN cards): a
        product's alternate or back photo held out of the index and of the kind probe; a store
        photo altered as a shopper's screenshot or snapshot of it would be; and a product the
        store does not have (all its photos held out), where only the kind can be right.

        Each set is graded once per half in `photo_halves` ("all" the whole catalog), in that
        order; the queries of every asked half run once and are graded per half."""
        wanted = {"dev", "test"} if "all" in self.photo_halves else set(self.photo_halves)
        products = [p for p in self.products if self.half[p.id] in wanted]
        views = []
        for product in products:
            if len(product.images) < 2:
                continue
            alternate = [i for i in product.images if i.role in (ImageRole.ALT, ImageRole.BACK)]
            views.append(((alternate or product.images[1:])[0].path, product.id))
        views = sorted(views)[:limit]
        stored = sorted((p.images[0].path, p.id) for p in products if p.images)[:limit]
        names = (
            ("photo queries: alternate views", views),
            ("photo queries: altered store photos", stored),
            ("photo queries: products the store does not have", stored),
        )
        if self.load_image is None:
            tasks = [self._photo_tasks(name, sets, {}) for name, sets in names]
            for task in (t for group in tasks for t in group):
                task.notes.append("No image loader: photo queries skipped.")
            return [t for group in tasks for t in group]
        loaded = {path: self.load_image(Path(path)) for path, _ in views}
        queries = [(loaded[path], (path,), target) for path, target in views]
        self.engine.refit_photo_kinds([path for path, _ in views])
        try:
            held_out = self._photo_tasks(names[0][0], views, self._photo_rows(queries))
        finally:
            self.engine.refit_photo_kinds([])
        for task in held_out:
            task.notes.insert(
                0,
                "Each product's alternate or back photo, left out of the image index and of the "
                "kind probe's fit; the product itself is the target.",
            )
        queries = [
            (altered_copy(self.load_image(Path(path)), target, self.seed), (), target)
            for path, target in stored
        ]
        altered = self._photo_tasks(names[1][0], stored, self._photo_rows(queries))
        for task in altered:
            task.notes.insert(
                0,
                "Each product's first photo, indexed, altered by one of: "
                + ", ".join(ALTERATIONS)
                + " (drawn per photo from the seed and the product's id).",
            )
        photos_of = {p.id: tuple(i.path for i in p.images) for p in self.products}
        queries = [(self.load_image(Path(path)), photos_of[t], t) for path, t in stored]
        unseen = self._photo_tasks(names[2][0], stored, self._photo_rows(queries, refit_each=True))
        for task in unseen:
            task.notes.insert(
                0,
                "Each product's first photo with every photo of the product left out of the "
                "index and, one query at a time, of the kind probe: a product like the store's "
                "but not one it sells. Only the page's kind can be right.",
            )
        return held_out + altered + unseen

    def _photo_tasks(
        self,
        name: str,
        queries: Sequence[tuple[str, str]],
        rows: Mapping[str, Sequence[tuple[str, dict[str, float]]]],
    ) -> list[TaskResult]:
        """One task per asked half from (target, grades) rows per system: the rows of that
        half's targets averaged."""
        tasks = []
        for half in self.photo_halves:
            task = TaskResult(
                name if half == "all" else f"{name} ({half} half)",
                sum(half in ("all", self.half[target]) for _, target in queries),
            )
            for system, graded in rows.items():
                mine = [row for target, row in graded if half in ("all", self.half[target])]
                if mine:
                    task.metrics[system] = _mean(mine)
            if not task.queries:
                task.notes.append("No product of the catalog has such a photo.")
            elif rows:
                task.notes.append(
                    f"shown@{SHOWN}: the product is on the first page ({SHOWN} cards); same "
                    "kind: share of the other cards on that page of the target's kind (category "
                    "and department); kind right: the engine's guess names that kind; lookalike "
                    "said / right: share of photos the engine named a product for, and named "
                    "the target."
                )
            if half != "all":
                task.notes.append(
                    f"The {half} half of the catalog's products (seed {SPLIT_SEED}): photo "
                    "search is tuned on dev and checked once on test."
                )
            tasks.append(task)
        return tasks

    def _photo_rows(
        self,
        queries: list[tuple[Any, tuple[str, ...], str]],
        *,
        refit_each: bool = False,
    ) -> dict[str, list[tuple[str, dict[str, float]]]]:
        """Every system on (photo, photos to leave out, target product) queries: each query's
        target and grades, per system. With `refit_each`, the kind probe is refitted without
        each query's left-out photos."""
        if not queries:
            return {}
        systems = (
            System("colour histogram", ("colour",), read_photo=False),
            System("image", ("image", "clip_image"), read_photo=False),
            # The engine of the round before: photo features alone, no reading, no colours.
            System("engine before photo reading", ("image", "clip_image"), True, read_photo=False),
            System("engine", diversify=True),
        )
        kinds = {p.id: kind_of(p) for p in self.products}
        base = Filters(catalog=self.catalog)
        graded: dict[str, list[tuple[str, dict[str, float]]]] = {}
        try:
            for system in tqdm(systems, desc="photo queries", disable=not self.progress):
                rows = graded.setdefault(system.name, [])
                for image, ignore, target in queries:
                    said = right = 0.0
                    guessed: float | None = None
                    search = SearchQuery(
                        image=image, filters=base, k=K, rankers=system.rankers,
                        diversify=system.diversify, ignore_image_paths=ignore,
                        read_photo=system.read_photo,
                    )  # fmt: skip
                    if refit_each and system.read_photo:
                        self.engine.refit_photo_kinds(ignore)
                    result = self.engine.search(search)
                    ranked = [h.product.id for h in (*result.hits, *result.alternatives)][:K]
                    reading = result.photo
                    if system.read_photo and reading is not None:
                        said = float(reading.lookalike is not None)
                        right = float(reading.lookalike == target)
                        guess = reading.guess
                        truth = kinds[target]
                        guessed = float(
                            guess is not None
                            and truth is not None
                            and guess.kind.category == truth.category
                            and guess.kind.department == truth.department
                        )
                    found = [i == target for i in ranked]
                    others = [i for i in ranked[:SHOWN] if i != target]
                    same = [kinds[i] == kinds[target] for i in others]
                    row = {
                        f"shown@{SHOWN}": float(any(found[:SHOWN])),
                        "R@1": float(found[:1] == [True]),
                        "MRR": reciprocal_rank(found),
                        "same kind": sum(same) / len(same) if same else 0.0,
                    }
                    if refit_each:  # the product is not in the store: only its kind can be right
                        row = {"same kind": row["same kind"]}
                    if system.read_photo:  # only the engine reads the photo
                        row |= {
                            "kind right": guessed or 0.0,
                            "lookalike said": said,
                            "lookalike right": right,
                        }
                    rows.append((target, row))
        finally:
            if refit_each:  # the probe learns every photo again
                self.engine.refit_photo_kinds([])
        return graded

    def item_to_item(self, limit: int | None) -> TaskResult:
        truth = self._link_truth()
        seeds = sorted(truth)[:limit]
        task = TaskResult("item-to-item (store links)", len(seeds))
        systems = (*TEXT_BASELINES, System("hybrid", CONTENT_RANKERS, diversify=True))
        base = Filters(catalog=self.catalog)
        for system in tqdm(systems, desc="item-to-item", disable=not self.progress):
            rows = []
            for seed in seeds:
                search = SearchQuery(
                    similar_to=seed,
                    filters=base,
                    k=K,
                    rankers=system.rankers,
                    diversify=system.diversify,
                )
                ranked = self._ranked(system, search, seed)
                relevant = truth[seed]
                found = [i in relevant for i in ranked]
                rows.append(
                    {
                        "P@10": sum(found) / K,
                        "R@10": sum(found) / len(relevant),
                        "NDCG@10": ndcg_at([int(f) for f in found], [1] * len(relevant)),
                    }
                )
            task.metrics[system.name] = _mean(rows)
        return task

    def _link_truth(self) -> dict[str, set[str]]:
        kinds = (LinkKind.RELATED, LinkKind.UPSELL, LinkKind.CROSSSELL)
        truth: dict[str, set[str]] = {}
        for product in self.products:
            for link in product.links:
                target = self.engine.view.resolve_sku(product.catalog, link.target_sku)
                if link.kind in kinds and target is not None and target.id != product.id:
                    truth.setdefault(product.id, set()).add(target.id)
        return truth


ALTERATIONS = ("crop", "mirror", "recompress", "light", "screenshot")
PROBE_FOLDS = 10


def altered_copy(image: Image.Image, product_id: str, seed: int) -> Image.Image:
    """The product's photo altered one of the ALTERATIONS ways, drawn from the seed and the
    product's id alone: a product's query photo stays the same whatever other products the
    catalog holds or in what order (a shared generator shifted every later photo)."""
    rng = random.Random(f"{seed}:{product_id}")
    return alter(image, rng.choice(ALTERATIONS), rng)


def alter(image: Image.Image, how: str, rng: random.Random) -> Image.Image:
    """A store photo as a shopper's copy of it would look."""
    image = image.convert("RGB")
    width, height = image.size
    if how == "crop":  # 75-90% of each side, anywhere
        share = rng.uniform(0.75, 0.9)
        w, h = int(width * share), int(height * share)
        left, top = rng.randint(0, width - w), rng.randint(0, height - h)
        return image.crop((left, top, left + w, top + h))
    if how == "mirror":
        return ImageOps.mirror(image)
    if how == "recompress":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=25)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    if how == "light":  # colour and brightness each moved by up to 20%
        image = ImageEnhance.Color(image).enhance(rng.uniform(0.8, 1.2))
        return ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.2))
    if how == "screenshot":  # the photo on a page: a grey margin around it
        page = Image.new("RGB", (int(width * 1.3), int(height * 1.4)), (245, 245, 245))
        page.paste(image, (int(width * 0.15), int(height * 0.2)))
        return page
    raise ValueError(f"unknown alteration {how!r}")


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    if not rows:
        return {}
    return {key: round(statistics.fmean(r[key] for r in rows), 4) for key in rows[0]}


def save_report(tasks: list[TaskResult], out_dir: Path, context: dict[str, Any]) -> dict[str, Path]:
    """JSON with every number, a Markdown table for the README and a bar chart."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "retrieval.json",
        "markdown": out_dir / "retrieval.md",
        "chart": out_dir / "retrieval.png",
    }
    payload = {
        "context": context,
        "tasks": [
            {"name": t.name, "queries": t.queries, "metrics": t.metrics, "notes": t.notes}
            for t in tasks
        ],
    }
    paths["json"].write_text(json.dumps(payload, indent=2), encoding="utf-8")
    paths["markdown"].write_text(markdown_table(tasks), encoding="utf-8")
    _chart(tasks, paths["chart"])
    return paths


def markdown_table(tasks: list[TaskResult]) -> str:
    lines = []
    for task in tasks:
        if not any(task.metrics.values()):
            continue
        columns = list(dict.fromkeys(c for metrics in task.metrics.values() for c in metrics))
        lines.append(f"**{task.name}** ({task.queries} queries)\n")
        lines.append("| system | " + " | ".join(columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for system, metrics in task.metrics.items():
            cells = [f"{metrics[c]:.3f}" if c in metrics else "-" for c in columns]
            lines.append(f"| {system} | " + " | ".join(cells) + " |")
        lines += [f"\n_{note}_" for note in task.notes]
        lines.append("")
    return "\n".join(lines)


def _chart(tasks: list[TaskResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [t for t in tasks if any(t.metrics.values())]  # a task with no queries: none
    figure, axes = plt.subplots(1, len(shown), figsize=(5 * len(shown), 4), squeeze=False)
    for axis, task in zip(axes[0], shown, strict=True):
        columns = next(iter(task.metrics.values()))
        metric = next(m for m in ("NDCG@10", f"shown@{SHOWN}", "R@10", "same kind") if m in columns)
        systems = list(task.metrics)
        axis.barh(systems, [task.metrics[s][metric] for s in systems], color="#4a7ab0")
        axis.set_xlim(0, 1)
        axis.set_title(f"{task.name}: {metric}")
        axis.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
