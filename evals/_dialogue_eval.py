"""`shopassist eval nlu` and `shopassist eval dialogue`: the measurements behind the README.

NLU: stratified 5-fold cross-validation on the YAML examples (accuracy, macro-F1, confusion
matrix), out-of-scope rate on CLINC150 test utterances from non-shopping domains, accuracy on
Bitext support utterances mapped onto our intents, and per-utterance latency.
Dialogue: scripted multi-turn dialogues with the expected state after every turn (joint goal
accuracy) and a check that every suggested product meets the hard constraints.
"""

from __future__ import annotations

import csv
import json
import random
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import StratifiedKFold

from dialogue import (
    OUT_OF_SCOPE,
    ClassifierSettings,
    Constraints,
    DialogueModel,
    DialogueState,
    EmbeddingMemo,
    Exclusions,
    IntentClassifier,
    NluModel,
    ProductCard,
    category_parts,
)

Progress = Callable[[Iterable[Any], str, int], Iterable[Any]]

# CLINC150 intents that are ours under another name (in-scope accuracy) ...
CLINC_TO_OURS = {
    "greeting": "greet",
    "goodbye": "goodbye",
    "yes": "affirm",
    "no": "deny",
    "what_can_i_ask_you": "ask_capabilities",
    "order_status": "order_status",
}
# ... and intents that are shopping or conversational control, so neither in nor out of scope.
CLINC_EXCLUDED = {
    "order",
    "shopping_list",
    "shopping_list_update",
    "thank_you",
    "maybe",
    "repeat",
    "cancel",
}
# Bitext customer-support intents that map onto ours; the rest (accounts, invoices, newsletter,
# order changes, complaints) are outside what shopassist does and are not scored.
BITEXT_TO_OURS = {
    "track_order": "order_status",
    "track_refund": "order_status",
    "delivery_options": "store_policy",
    "delivery_period": "store_policy",
    "get_refund": "store_policy",
    "check_refund_policy": "store_policy",
    "check_payment_methods": "store_policy",
    "check_cancellation_fee": "store_policy",
    "contact_human_agent": "human_handoff",
    "contact_customer_service": "human_handoff",
    "place_order": "checkout",
}
# Own fields a shopper's wish only ranks by where the catalog leaves them blank for the
# product (as are all filter attributes).
SOFT_WHEN_UNSTATED = ("genders", "colors", "sizes")
PLACEHOLDER = re.compile(r"\{\{[^}]*\}\}")


def _no_progress(items: Iterable[Any], description: str, total: int) -> Iterable[Any]:
    return items


# NLU -------------------------------------------------------------------------------------------
@dataclass(slots=True)
class CrossValidation:
    variant: str
    accuracy: float
    macro_f1: float
    model_accuracy: float  # before the out-of-scope rules
    train_seconds: float
    # Expected calibration error of the top intent's confidence (10 bins): 0 is perfect.
    calibration_error: float = 0.0
    labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)


@dataclass(slots=True)
class NluReport:
    examples: int
    intents: int
    cross_validation: list[CrossValidation]
    clinc: dict[str, Any] | None = None
    bitext: dict[str, Any] | None = None
    latency_ms: dict[str, float] = field(default_factory=dict)
    training_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cross_validate(
    nlu: NluModel,
    memo: EmbeddingMemo,
    variants: dict[str, ClassifierSettings],
    folds: int = 5,
    progress: Progress = _no_progress,
) -> list[CrossValidation]:
    """Stratified k-fold over the YAML examples; each variant sees the same folds."""
    texts = [e.text for e in nlu.data.examples]
    labels = np.asarray([e.intent for e in nlu.data.examples])
    vectors = memo.encode(texts)
    extractions = [nlu.extractor.extract(t) for t in texts]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=13)
    splits = list(splitter.split(np.zeros(len(texts)), labels))
    results = []
    for name, settings in variants.items():
        predicted = np.empty(len(texts), dtype=object)
        raw = np.empty(len(texts), dtype=object)
        confidence = np.zeros(len(texts))
        seconds = 0.0
        for train, held in progress(splits, f"cross-validation ({name})", len(splits)):
            started = time.perf_counter()
            classifier = IntentClassifier(memo.embedder, settings)
            classifier.fit([texts[i] for i in train], labels[train], vectors[train])
            seconds += time.perf_counter() - started
            fold = NluModel(nlu.data, classifier, nlu.extractor, nlu.clarify_share)
            held_texts = [texts[i] for i in held]
            for i, prediction in zip(
                held, classifier.predict_many(held_texts, vectors[held]), strict=True
            ):
                parse = fold.decide(texts[i], prediction, extractions[i])
                predicted[i] = parse.intent
                raw[i] = prediction.model_intent
                confidence[i] = prediction.confidence
        intents = sorted(set(labels))
        results.append(
            CrossValidation(
                variant=name,
                accuracy=round(float(accuracy_score(labels, predicted.astype(str))), 4),
                macro_f1=round(float(f1_score(labels, predicted.astype(str), average="macro")), 4),
                model_accuracy=round(float(accuracy_score(labels, raw.astype(str))), 4),
                train_seconds=round(seconds / folds, 2),
                calibration_error=_calibration_error(confidence, raw.astype(str) == labels),
                labels=intents,
                confusion=confusion_matrix(labels, predicted.astype(str), labels=intents).tolist(),
                errors=[
                    {"text": texts[i], "expected": labels[i], "predicted": str(predicted[i])}
                    for i in range(len(texts))
                    if predicted[i] != labels[i]
                ],
            )
        )
    return results


def _calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    edges = np.linspace(0, 1, bins + 1)
    error = 0.0
    for low, high in pairwise(edges):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return round(float(error), 4)


def clinc_evaluation(
    nlu: NluModel, path: Path, progress: Progress = _no_progress
) -> dict[str, Any]:
    """Out-of-scope rate on non-shopping CLINC150 test utterances (plus its `oos_test`), and
    accuracy on the CLINC intents that are ours. Utterances that also occur in our training
    file (stock phrases like "hi") are left out, so nothing is tested on training text."""
    data = json.loads(path.read_text(encoding="utf-8"))
    trained = _trained_texts(nlu)
    pairs = [(t, i) for t, i in data["test"] + data["oos_test"] if _plain(t) not in trained]
    skipped = len(data["test"]) + len(data["oos_test"]) - len(pairs)
    outside = [t for t, i in pairs if i not in CLINC_TO_OURS and i not in CLINC_EXCLUDED]
    inside = [(t, CLINC_TO_OURS[i]) for t, i in pairs if i in CLINC_TO_OURS]
    predicted_out = _intents(nlu, outside, progress, "CLINC150 out-of-scope")
    predicted_in = _intents(nlu, [t for t, _ in inside], progress, "CLINC150 in-scope")
    wrong = Counter(p for p in predicted_out if p != OUT_OF_SCOPE)
    return {
        "out_of_scope_utterances": len(outside),
        "out_of_scope_rate": round(sum(p == OUT_OF_SCOPE for p in predicted_out) / len(outside), 4),
        "out_of_scope_leaks_by_intent": dict(wrong.most_common(10)),
        "in_scope_utterances": len(inside),
        "in_scope_accuracy": round(
            sum(p == e for p, (_, e) in zip(predicted_in, inside, strict=True))
            / max(len(inside), 1),
            4,
        ),
        "mapping": CLINC_TO_OURS,
        "excluded": sorted(CLINC_EXCLUDED),
        "skipped_as_in_training": skipped,
    }


def _plain(text: str) -> str:
    return re.sub(r"[^a-z0-9 ]+", "", text.lower()).strip()


def _trained_texts(nlu: NluModel) -> set[str]:
    return {_plain(e.text) for e in nlu.data.examples}


def bitext_evaluation(
    nlu: NluModel,
    path: Path,
    per_intent: int = 40,
    seed: int = 7,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    trained = _trained_texts(nlu)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if r["intent"] in BITEXT_TO_OURS and _plain(r["instruction"]) not in trained
        ]
    rng = random.Random(seed)
    sample: list[tuple[str, str, str]] = []
    for source in sorted(BITEXT_TO_OURS):
        texts = sorted({r["instruction"] for r in rows if r["intent"] == source})
        for text in rng.sample(texts, min(per_intent, len(texts))):
            sample.append((PLACEHOLDER.sub("12345", text), source, BITEXT_TO_OURS[source]))
    predicted = _intents(nlu, [t for t, _, _ in sample], progress, "Bitext")
    per_source: dict[str, float] = {}
    for source in sorted(BITEXT_TO_OURS):
        pairs = [(p, e) for p, (_, s, e) in zip(predicted, sample, strict=True) if s == source]
        per_source[source] = round(sum(p == e for p, e in pairs) / len(pairs), 4) if pairs else 0.0
    correct = sum(p == e for p, (_, _, e) in zip(predicted, sample, strict=True))
    return {
        "utterances": len(sample),
        "accuracy": round(correct / len(sample), 4),
        "accuracy_by_source_intent": per_source,
        "mapping": BITEXT_TO_OURS,
    }


def _intents(nlu: NluModel, texts: list[str], progress: Progress, label: str) -> list[str]:
    out: list[str] = []
    batch = 256
    for start in progress(range(0, len(texts), batch), label, (len(texts) + batch - 1) // batch):
        chunk = texts[start : start + batch]
        predictions = nlu.classifier.predict_many(chunk)
        for text, prediction in zip(chunk, predictions, strict=True):
            out.append(nlu.decide(text, prediction, nlu.extractor.extract(text)).intent)
    return out


def latency(nlu: NluModel, texts: list[str]) -> dict[str, float]:
    """Per-utterance parse time, one call per utterance as in a live turn."""
    nlu.parse("warm up")
    times = []
    for text in texts:
        started = time.perf_counter()
        nlu.parse(text)
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return {
        "utterances": len(times),
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max": round(ordered[-1], 2),
    }


def write_nlu_report(report: NluReport, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "nlu.json"
    json_path.write_text(json.dumps(report.to_dict(), indent=2), encoding="utf-8")
    md_path = out_dir / "nlu.md"
    md_path.write_text(nlu_markdown(report), encoding="utf-8")
    paths = [json_path, md_path]
    best = report.cross_validation[0]
    png = out_dir / "nlu_confusion.png"
    _confusion_png(best, png)
    paths.append(png)
    return paths


def nlu_markdown(report: NluReport) -> str:
    lines = [
        f"Intent classification, {report.examples} examples, {report.intents} intents, "
        "stratified 5-fold cross-validation:",
        "",
        "| variant | accuracy | macro-F1 | accuracy before out-of-scope rules "
        "| calibration error (ECE) | train s/fold |",
        "|---|---|---|---|---|---|",
    ]
    for cv in report.cross_validation:
        lines.append(
            f"| {cv.variant} | {cv.accuracy:.3f} | {cv.macro_f1:.3f} | {cv.model_accuracy:.3f} "
            f"| {cv.calibration_error:.3f} | {cv.train_seconds:.1f} |"
        )
    if report.clinc:
        c = report.clinc
        lines += [
            "",
            f"CLINC150: out-of-scope rate {c['out_of_scope_rate']:.3f} on "
            f"{c['out_of_scope_utterances']} non-shopping test utterances; in-scope accuracy "
            f"{c['in_scope_accuracy']:.3f} on {c['in_scope_utterances']} utterances of the "
            "CLINC intents that are ours.",
        ]
    if report.bitext:
        b = report.bitext
        lines += [
            "",
            f"Bitext: accuracy {b['accuracy']:.3f} on {b['utterances']} mapped utterances.",
        ]
    if report.latency_ms:
        lat = report.latency_ms
        lines += ["", f"Latency per utterance: p50 {lat['p50']:.1f} ms, p95 {lat['p95']:.1f} ms."]
    lines.append(f"Training on all examples: {report.training_seconds:.1f} s.")
    return "\n".join(lines) + "\n"


def _confusion_png(cv: CrossValidation, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(cv.confusion, dtype=float)
    normalised = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(11, 10))
    ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(cv.labels)), cv.labels, rotation=90, fontsize=7)
    ax.set_yticks(range(len(cv.labels)), cv.labels, fontsize=7)
    for i, j in zip(*np.nonzero(matrix), strict=True):
        ax.text(
            j,
            i,
            int(matrix[i, j]),
            ha="center",
            va="center",
            fontsize=5,
            color="white" if normalised[i, j] > 0.5 else "black",
        )
    ax.set_xlabel("predicted")
    ax.set_ylabel("expected")
    ax.set_title(f"Intent confusion, 5-fold CV ({cv.variant}): macro-F1 {cv.macro_f1:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# Dialogue --------------------------------------------------------------------------------------
@dataclass(slots=True)
class TurnOutcome:
    dialogue: str
    turn: int
    user: str
    intent_expected: str | None
    intent: str
    correct: bool
    differences: list[str]
    violations: list[str]


@dataclass(slots=True)
class DialogueReport:
    dialogues: int
    turns: int
    joint_goal_accuracy: float
    intent_accuracy: float
    dialogues_fully_correct: float
    suggestions_checked: int
    constraint_violations: int
    failures: list[TurnOutcome]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def markdown(self) -> str:
        return (
            f"Scripted dialogues: {self.dialogues} dialogues, {self.turns} turns. Joint goal "
            f"accuracy {self.joint_goal_accuracy:.3f}; intent accuracy {self.intent_accuracy:.3f}; "
            f"dialogues right at every turn {self.dialogues_fully_correct:.3f}; "
            f"{self.constraint_violations} of {self.suggestions_checked} suggested products "
            "break a hard constraint.\n"
        )


def evaluate_dialogues(
    model: DialogueModel, path: Path, progress: Progress = _no_progress
) -> DialogueReport:
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    dialogues = spec["dialogues"]
    outcomes: list[TurnOutcome] = []
    perfect = 0
    checked = violations = 0
    for dialogue in progress(dialogues, "dialogues", len(dialogues)):
        state = DialogueState()
        shown_before: list[list[str]] = []
        all_right = True
        for number, turn in enumerate(dialogue["turns"], 1):
            shown_before.append([card.id for card in state.shown])
            reply = model.respond(state, turn["user"])
            expected = _expected_state(turn.get("state") or {}, shown_before)
            differences = _differences(state, expected)
            broken = []
            # Search results must meet every constraint (complete-the-look and relaxed
            # alternatives are other products by design).
            for suggestion in reply.suggestions if reply.action == "search" else []:
                checked += 1
                broken += [
                    f"{suggestion.card.id}: {problem}"
                    for problem in unmet(suggestion.card, state.constraints, state.exclude)
                ]
            violations += len(broken)
            correct = not differences
            all_right &= correct
            outcomes.append(
                TurnOutcome(
                    dialogue["name"],
                    number,
                    turn["user"],
                    turn.get("intent"),
                    reply.intent,
                    correct,
                    differences,
                    broken,
                )
            )
        perfect += all_right
    scored = [o for o in outcomes if o.intent_expected]
    return DialogueReport(
        dialogues=len(dialogues),
        turns=len(outcomes),
        joint_goal_accuracy=round(sum(o.correct for o in outcomes) / len(outcomes), 4),
        intent_accuracy=round(
            sum(o.intent == o.intent_expected for o in scored) / max(len(scored), 1), 4
        ),
        dialogues_fully_correct=round(perfect / len(dialogues), 4),
        suggestions_checked=checked,
        constraint_violations=violations,
        failures=[o for o in outcomes if not o.correct or o.violations],
    )


REFERENCE = re.compile(r"^(?:turn\s+(?P<turn>\d+)\s+)?shown\s+(?P<n>\d+)$")


def _expected_state(spec: dict[str, Any], shown_before: list[list[str]]) -> dict[str, Any]:
    def item(ref: str) -> str:
        match = REFERENCE.match(str(ref).strip())
        if not match:
            return str(ref)  # a product id
        turn = int(match["turn"]) if match["turn"] else len(shown_before)
        shown = shown_before[turn - 1] if turn <= len(shown_before) else []
        n = int(match["n"])
        return shown[n - 1] if 0 < n <= len(shown) else f"<nothing at {ref}>"

    filters = {k: _norm(v) for k, v in (spec.get("filters") or {}).items()}
    exclude = dict(spec.get("exclude") or {})
    items = [item(r) for r in exclude.pop("items", [])]
    exclude = {k: _norm(v) for k, v in exclude.items()}
    if items:
        exclude["product_ids"] = tuple(sorted(items))
    cart = sorted(
        (
            item(line["item"]),
            _lower(line.get("size")),
            _lower(line.get("color")),
            int(line.get("quantity", 1)),
        )
        for line in spec.get("cart") or []
    )
    return {
        "filters": filters,
        "exclude": exclude,
        "sort": spec.get("sort"),
        "cart": cart,
        "focus": item(spec["focus"]) if spec.get("focus") else None,
    }


def _differences(state: DialogueState, expected: dict[str, Any]) -> list[str]:
    filters = {k: _norm(v) for k, v in state.constraints.active().items()}
    if "price_below" not in (expected.get("filters") or {}):
        filters.pop("price_below", None)  # how a limit was said, where a script leaves it out
    actual = {
        "filters": filters,
        "exclude": {
            k: tuple(sorted(v)) if k == "product_ids" else _norm(v)
            for k, v in state.exclude.active().items()
        },
        "sort": state.sort,
        "cart": sorted(
            (line.product_id, _lower(line.size), _lower(line.color), line.quantity)
            for line in state.cart
        ),
        "focus": state.focus,
    }
    return [
        f"{key}: expected {expected[key]!r}, got {actual[key]!r}"
        for key in expected
        if actual[key] != expected[key]
    ]


def _norm(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(sorted(str(v).lower() for v in value))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value), 2)
    return value


def _lower(value: Any) -> str | None:
    return None if value is None else str(value).lower()


def unmet(card: ProductCard, c: Constraints, x: Exclusions) -> list[str]:
    """Hard constraints the card's own facts contradict."""
    problems = []
    # A combined category holds its parts: a card in "bras & tanks" is a tank.
    kinds = {*card.categories, *(part for name in card.categories for part in category_parts(name))}
    checks = [
        ("categories", tuple(kinds)),
        ("genders", (*card.genders, "unisex")),
        ("colors", card.colors),
        ("sizes", card.sizes),
        *((name, card.attributes.get(name, ())) for name in c.attributes),
        ("brands", (card.brand,) if card.brand else ()),
    ]
    for name, have in checks:
        wanted = {v.lower() for v in c.values(name)}
        if (name in SOFT_WHEN_UNSTATED or name in c.attributes) and not have:
            continue  # the catalog states no such facet for this product: ranked, not filtered
        if wanted and not wanted & {h.lower() for h in have}:
            problems.append(f"{name} {sorted(wanted)} not in {list(have)}")
    price = card.price
    if c.price_max is not None and (
        price is None or price > c.price_max + 1e-9 or (c.price_below and price >= c.price_max)
    ):
        problems.append(f"price {price} over {c.price_max}")
    if c.price_min is not None and (price is None or price < c.price_min - 1e-9):
        problems.append(f"price {price} under {c.price_min}")
    if c.min_rating is not None and (card.rating or 0) < c.min_rating:
        problems.append(f"rating {card.rating} under {c.min_rating}")
    if c.on_sale and not card.in_sale:
        problems.append("not on sale")
    if card.id in x.product_ids:
        problems.append("excluded item shown")
    for name, have in (("brands", (card.brand or "",)), ("categories", card.categories)):
        if {v.lower() for v in getattr(x, name)} & {h.lower() for h in have}:
            problems.append(f"excluded {name} shown")
    if (
        x.colors
        and card.colors
        and not {c_.lower() for c_ in card.colors} - {v.lower() for v in x.colors}
    ):
        problems.append("only in excluded colours")
    return problems


def dialogue_markdown_failures(report: DialogueReport, limit: int = 30) -> str:
    lines = []
    for outcome in report.failures[:limit]:
        lines.append(
            f"- {outcome.dialogue} / turn {outcome.turn}: {outcome.user!r} "
            f"(intent {outcome.intent}, expected {outcome.intent_expected})"
        )
        lines += [f"    - {d}" for d in outcome.differences + outcome.violations]
    return "\n".join(lines) + "\n"
