"""The kind probe on made-up photo vectors: our own logic (fit, guess, confidence, the
catalogs it knows and when it declines to learn). Real photos are in tests/test_multimodal.py."""

from __future__ import annotations

import numpy as np
import pytest

from retrieval import PhotoKind, PhotoKindProbe, Product, kind_of
from retrieval._photo_kinds import TEMPERATURE

DIM = 32


def _product(pid: str, catalog: str, path: list[str], genders: list[str]) -> Product:
    return Product(
        id=pid, sku=pid, catalog=catalog, title=pid, category_path=path,
        attributes={"gender": genders} if genders else {},
    )  # fmt: skip


def _store(photos_per_product: int = 3, seed: int = 0):
    """Three kinds, four products each, photos scattered around one centre per kind."""
    rng = np.random.default_rng(seed)
    kinds = {
        "jacket": ("luma", ["Women", "Tops", "Jackets"], ["Women"]),
        "short": ("luma", ["Men", "Bottoms", "Shorts"], ["Men"]),
        "tent": ("eshop", ["Trekking"], []),
    }
    centres = {name: rng.normal(size=DIM) for name in kinds}
    products, vectors, owners = {}, [], []
    for name, (catalog, path, genders) in kinds.items():
        for n in range(4):
            pid = f"{catalog}:{name}{n}"
            products[pid] = _product(pid, catalog, path, genders)
            for _ in range(photos_per_product):
                vector = centres[name] + 0.3 * rng.normal(size=DIM)
                vectors.append(vector / np.linalg.norm(vector))
                owners.append(pid)
    return np.stack(vectors), owners, products, centres


def _fitted() -> tuple[PhotoKindProbe, dict[str, np.ndarray]]:
    """The probe fitted on `_store`, and each kind's centre as a unit vector."""
    vectors, owners, products, centres = _store()
    probe = PhotoKindProbe.fit(vectors, owners, products)
    assert probe is not None
    return probe, {name: c / np.linalg.norm(c) for name, c in centres.items()}


class TestKindOf:
    def test_leaf_category_and_the_one_gender(self):
        product = _product("a", "luma", ["Women", "Tops", "Jackets"], ["Women"])
        assert kind_of(product) == PhotoKind("luma", "Jackets", "Women")

    def test_several_genders_or_unisex_mean_no_department(self):
        ball = _product("b", "luma", ["Gear", "Fitness Equipment"], ["Men", "Women", "Unisex"])
        bottle = _product("c", "luma", ["Gear", "Fitness Equipment"], ["Unisex"])
        assert kind_of(ball) == PhotoKind("luma", "Fitness Equipment")
        assert kind_of(bottle) == PhotoKind("luma", "Fitness Equipment")

    def test_no_category_no_kind(self):
        assert kind_of(_product("d", "x", [], [])) is None


class TestPhotoKindProbe:
    def test_reads_the_kind_of_a_new_photo(self):
        probe, centres = _fitted()
        guess = probe.guess(centres["jacket"])
        assert guess.kind == PhotoKind("luma", "Jackets", "Women")
        assert guess.confidence > 0.9
        assert guess.department_confidence == pytest.approx(1.0)

    def test_a_catalog_limits_the_kinds_guessed(self):
        probe, centres = _fitted()
        tent = centres["tent"]
        assert probe.guess(tent).kind.catalog == "eshop"
        assert probe.guess(tent, catalog="luma").kind.catalog == "luma"
        assert probe.knows("luma") and not probe.knows("eshop")  # one eShop kind: no choice
        with pytest.raises(ValueError, match="no kind of catalog"):
            probe.guess(tent, catalog="nowhere")

    def test_too_few_labelled_photos_learn_nothing(self):
        vectors, owners, products, _ = _store(photos_per_product=1)
        # Each kind has 4 photos from 4 products: enough. Leave all but one kind's photos out.
        keep = [r for r, owner in enumerate(owners) if "jacket" in owner]
        left_out = [r for r in range(len(owners)) if r not in keep]
        assert PhotoKindProbe.fit(vectors, owners, products, leave_out=left_out) is None

    def test_left_out_photos_are_not_learnt(self):
        vectors, owners, products, _ = _store()
        tents = [r for r, owner in enumerate(owners) if "tent" in owner]
        probe = PhotoKindProbe.fit(vectors, owners, products, leave_out=tents)
        assert probe is not None
        assert {k.category for k in probe.kinds} == {"Jackets", "Shorts"}

    def test_a_zero_shot_reading_tips_an_unsure_probe(self):
        probe, centres = _fitted()
        mixes = [t * centres["jacket"] + (1 - t) * centres["short"] for t in np.linspace(0, 1, 41)]
        between = min(mixes, key=lambda mix: probe.guess(mix).confidence)  # the probe least sure
        shorts = np.array([k.category == "Shorts" for k in probe.kinds], dtype=float)
        jackets = np.array([k.category == "Jackets" for k in probe.kinds], dtype=float)
        assert probe.guess(between, zero_shot=shorts).kind.category == "Shorts"
        assert probe.guess(between, zero_shot=jackets).kind.category == "Jackets"
        assert probe.prompts()[probe.kinds.index(PhotoKind("luma", "Jackets", "Women"))] == (
            "a photo of women's Jackets"
        )
        with pytest.raises(ValueError, match="one probability per kind"):
            probe.guess(between, zero_shot=np.ones(len(probe.kinds) + 1))

    def test_the_likeliest_category_sums_its_departments(self):
        kinds = [PhotoKind("a", "Tees", "Men"), PhotoKind("a", "Tees", "Women"),
                 PhotoKind("a", "Jackets", "Women")]  # fmt: skip
        scores = np.log(np.array([0.3, 0.3, 0.4])) * TEMPERATURE  # softmax gives 0.3/0.3/0.4
        probe = PhotoKindProbe(kinds, np.zeros((DIM, 3)), scores, np.zeros(DIM))
        guess = probe.guess(np.zeros(DIM))
        assert guess.kind.category == "Tees" and guess.confidence == pytest.approx(0.6)
        assert guess.department_confidence == pytest.approx(0.5)

    def test_a_neighbour_from_another_catalog_has_no_vote(self):
        probe, centres = _fitted()
        tent = PhotoKind("eshop", "Trekking")
        assert probe.guess(centres["jacket"], catalog="luma", neighbour=tent).kind.catalog == "luma"

    def test_rejects_weights_that_do_not_fit(self):
        kinds = [PhotoKind("a", "X"), PhotoKind("a", "Y")]
        with pytest.raises(ValueError, match="do not fit"):
            PhotoKindProbe(kinds, np.zeros((DIM, 3)), np.zeros(2), np.zeros(DIM))
        with pytest.raises(ValueError, match="two kinds"):
            PhotoKindProbe(kinds[:1], np.zeros((DIM, 1)), np.zeros(1), np.zeros(DIM))
