"""What a shopper's photo shows, in the store's own terms: its kind of product and department.

ImageNet features match colour and shape, not product kind: a grey tee's nearest photos include
grey bags. The store's photos are labelled by its categories, so a linear probe fitted on them
(ridge regression from photo vectors to one-hot kinds) reads the kind from the same features.
It is fitted from the index's own vectors each time the engine takes a snapshot, so it can never
disagree with the photos it serves: a ridge solve over at most MAX_PHOTOS_PER_KIND photos a kind
(about 60 ms for the 24 kinds of the sample stores; about a second at 40 kinds of 400 photos).

Ridge over logistic regression and the constants below were chosen by 10-fold cross-validation
grouped by product over the sample stores' photos (Luma and eShop): ridge read the kind of 86% of
held-out products against 88% for logistic regression at a twentieth of the fit time, and 83% for
nearest centroids. The same photos are the ones `shopassist eval retrieval` reports on, so its
figures for the probe are dev figures.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from retrieval._model import Product

# A kind needs this many photos from at least MIN_PRODUCTS products to be learnt; a store with
# fewer than two such kinds gets no probe and photo search works as it did without one.
MIN_PHOTOS = 3
MIN_PRODUCTS = 2
RIDGE = 1.0
# Softmax temperature over the probe's scores: a guess at STRONG confidence was right for 95% of
# held-out products in the cross-validation above.
TEMPERATURE = 0.1
# Photos per kind the probe is fitted on, so a large store's snapshot stays cheap to take.
MAX_PHOTOS_PER_KIND = 400
# The closest-looking store product's kind joins the probe's probabilities with this weight: on the
# sample stores it read the kind of alternate views of store products right 71% of the time
# (probe alone 60%) and of products the store does not have 76% (probe alone 78%); 0.2 and 0.5
# traded one set against the other.
NEIGHBOUR_VOTE = 1 / 3
# CLIP's zero-shot reading, when the store configures CLIP: not measured here (no CLIP weights can
# be installed offline), so it gets the same modest weight as the neighbour's vote.
ZERO_SHOT_VOTE = 1 / 3
# CLIP's own logit scale: similarities times 100 before the softmax.
CLIP_SCALE = 100.0
UNISEX = "unisex"


@dataclass(frozen=True, slots=True, order=True)
class PhotoKind:
    """One kind the store sells: its catalog, leaf category and department (one gender)."""

    catalog: str
    category: str
    department: str | None = None

    def describe(self) -> str:
        """'women's Jackets', 'Bags'."""
        owner = f"{self.department.lower()}'s " if self.department else ""
        return f"{owner}{self.category}"


@dataclass(frozen=True, slots=True)
class PhotoGuess:
    """The probe's reading of one photo: the likeliest kind and how sure it is of the category
    (summed over departments) and of the department within it."""

    kind: PhotoKind
    confidence: float
    department_confidence: float


@dataclass(frozen=True, slots=True)
class PhotoReading:
    """What a search made of its query photo, for the reply to say (so a wrong guess shows and
    the shopper can correct it) and for evaluation to grade."""

    guess: PhotoGuess | None = None
    # The kind the results keep to (a sure guess, `narrowed`) or rank higher (an unsure one),
    # its department only when that was sure too; None when the guess was not used.
    used: PhotoKind | None = None
    narrowed: bool = False
    # The product whose store photo the query nearly duplicates: shown first.
    lookalike: str | None = None


def kind_of(product: Product) -> PhotoKind | None:
    """A product's kind: its primary category's leaf, and its gender when it has exactly one
    (apparel does; a watch for men, women and unisex has none)."""
    if not product.category_path:
        return None
    genders = {g for g in product.attribute_values("gender") if g.lower() != UNISEX}
    department = next(iter(genders)) if len(genders) == 1 else None
    return PhotoKind(product.catalog, product.category_path[-1], department)


class PhotoKindProbe:
    """Ridge probe from photo vectors to the store's kinds; `guess` reads one photo."""

    def __init__(
        self,
        kinds: Sequence[PhotoKind],
        weights: np.ndarray,
        bias: np.ndarray,
        mean: np.ndarray,
    ) -> None:
        if len(kinds) < 2:
            raise ValueError("a probe needs at least two kinds")
        if weights.shape != (mean.shape[0], len(kinds)) or bias.shape != (len(kinds),):
            raise ValueError("weights, bias and mean do not fit the kinds")
        self.kinds = tuple(kinds)
        self.weights, self.bias, self.mean = weights, bias, mean

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        owners: Sequence[str],
        products: Mapping[str, Product],
        *,
        leave_out: Collection[int] = (),
    ) -> PhotoKindProbe | None:
        """Fit on every photo row whose product has a kind (rows in `leave_out` excepted, so an
        evaluation can hold photos out); None when the store has too few labelled photos."""
        kind_of_owner = {pid: kind_of(p) for pid, p in products.items()}
        skip = set(leave_out)
        rows_of: dict[PhotoKind, list[int]] = {}
        for row, owner in enumerate(owners):
            kind = kind_of_owner.get(owner)
            if kind is not None and row not in skip:
                rows_of.setdefault(kind, []).append(row)
        learnt = sorted(
            kind
            for kind, rows in rows_of.items()
            if len(rows) >= MIN_PHOTOS and len({owners[r] for r in rows}) >= MIN_PRODUCTS
        )
        if len(learnt) < 2:
            return None
        rows, labels = [], []
        for label, kind in enumerate(learnt):
            kept = rows_of[kind]
            if len(kept) > MAX_PHOTOS_PER_KIND:  # evenly spread, the same on every fit
                kept = kept[:: len(kept) // MAX_PHOTOS_PER_KIND + 1]
            rows += kept
            labels += [label] * len(kept)
        x = np.asarray(vectors[rows], dtype=np.float64)
        targets = np.eye(len(learnt))[labels]
        mean, bias = x.mean(axis=0), targets.mean(axis=0)
        centred = x - mean
        gram = centred.T @ centred + RIDGE * np.eye(x.shape[1])
        weights = np.linalg.solve(gram, centred.T @ (targets - bias))
        return cls(learnt, weights, bias, mean)

    def prompts(self) -> list[str]:
        """One sentence per kind, for a text-and-image model to read a photo against."""
        return [f"a photo of {kind.describe()}" for kind in self.kinds]

    def knows(self, catalog: str | None) -> bool:
        """Whether the probe learnt two or more kinds of this catalog (of any, for None)."""
        return catalog is None or sum(k.catalog == catalog for k in self.kinds) >= 2

    def guess(
        self,
        vector: np.ndarray,
        catalog: str | None = None,
        neighbour: PhotoKind | None = None,
        zero_shot: np.ndarray | None = None,
    ) -> PhotoGuess:
        """The likeliest kind for one photo vector, among one catalog's kinds when given.

        `neighbour` is the kind of the store product whose photos look closest (the caller's
        nearest neighbour in features and colours): its vote is blended in with weight
        NEIGHBOUR_VOTE, so it wins unless the probe is clearly surer of another kind.
        `zero_shot` is a probability for each of `kinds` from elsewhere (CLIP reading the photo
        against each kind's name), blended in with weight ZERO_SHOT_VOTE."""
        scores = (np.asarray(vector, dtype=np.float64) - self.mean) @ self.weights + self.bias
        if catalog is not None:
            scores = np.where([k.catalog == catalog for k in self.kinds], scores, -np.inf)
        if not np.isfinite(scores).any():
            raise ValueError(f"the probe knows no kind of catalog {catalog!r}")
        probabilities = np.exp((scores - scores.max()) / TEMPERATURE)
        probabilities /= probabilities.sum()
        if zero_shot is not None:
            if zero_shot.shape != probabilities.shape:
                raise ValueError("zero_shot needs one probability per kind")
            if catalog is not None:
                zero_shot = np.where([k.catalog == catalog for k in self.kinds], zero_shot, 0.0)
            if zero_shot.sum() > 0:
                zero_shot = zero_shot / zero_shot.sum()
                probabilities = (1 - ZERO_SHOT_VOTE) * probabilities + ZERO_SHOT_VOTE * zero_shot
        if neighbour in self.kinds and catalog in (None, neighbour.catalog):
            vote = np.array([kind == neighbour for kind in self.kinds], dtype=np.float64)
            probabilities = (1 - NEIGHBOUR_VOTE) * probabilities + NEIGHBOUR_VOTE * vote
        # The likeliest category (its departments summed: men's and women's tees are tees),
        # then the likeliest department within it.
        by_category: dict[tuple[str, str], float] = {}
        for kind, p in zip(self.kinds, probabilities, strict=True):
            key = (kind.catalog, kind.category)
            by_category[key] = by_category.get(key, 0.0) + float(p)
        category = max(by_category, key=lambda key: by_category[key])
        top = max(
            (i for i, k in enumerate(self.kinds) if (k.catalog, k.category) == category),
            key=lambda i: probabilities[i],
        )
        return PhotoGuess(
            kind=self.kinds[top],
            confidence=by_category[category],
            department_confidence=float(probabilities[top]) / by_category[category],
        )
