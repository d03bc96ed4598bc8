"""Intent classification: sentence embeddings plus character and word n-grams, a linear SVM,
and a temperature fitted on held-out folds so the softmax of its margins is a calibrated
confidence.

Measured (`shopassist eval nlu`): embeddings alone miss typo'd and slang examples that the
n-grams catch; the SVM trains in about a second (logistic regression took ~20 s for the same
accuracy), so a YAML edit applies at once.
An utterance is out of scope when the model says so, when its calibrated confidence is low,
or when its nearest training examples are out-of-scope ones rather than in-scope ones. That
contrast separated CLINC150's validation utterances from our own held-out examples far better
than the cosine to the nearest in-scope example alone (ROC AUC 0.977 against 0.954 on what the
model itself lets through), so it catches more at the same cost in cross-validated F1.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from dialogue._protocol import Embedder

OUT_OF_SCOPE = "out_of_scope"
FORMAT_VERSION = "intent-v3"
# Examples averaged on each side of the neighbour margin; 3 and 5 measured alike, 1 and 10 worse.
NEIGHBOURS = 3


@dataclass(frozen=True, slots=True)
class ClassifierSettings:
    """Hyper-parameters (from `prompts/dialogue.yml`); part of the model cache key."""

    char_ngrams: bool = True
    char_weight: float = 0.9
    word_ngrams: bool = True
    word_weight: float = 0.6
    regularisation: float = 1.0
    calibration_folds: int = 3
    min_confidence: float = 0.45
    min_margin: float = 0.09

    def __post_init__(self) -> None:
        if not 0 < self.min_confidence < 1:
            raise ValueError("min_confidence must be between 0 and 1")
        if not -2 <= self.min_margin <= 2:
            raise ValueError("min_margin must be between -2 and 2")
        if self.regularisation <= 0 or self.char_weight < 0 or self.word_weight < 0:
            raise ValueError("regularisation must be positive and the weights not negative")
        if self.calibration_folds < 2:
            raise ValueError("calibration_folds must be at least 2")

    def key(self) -> str:
        return repr(self)


@dataclass(frozen=True, slots=True)
class IntentPrediction:
    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]
    # Mean cosine to the nearest in-scope examples minus that to the nearest out-of-scope ones.
    margin: float
    # "model", "low_confidence" or "near_out_of_scope" when the answer is out of scope; "" else.
    out_of_scope_reason: str = ""

    @property
    def model_intent(self) -> str:
        """The top intent before the out-of-scope rules."""
        return self.ranking[0][0]


class IntentClassifier:
    def __init__(self, embedder: Embedder, settings: ClassifierSettings | None = None) -> None:
        self.embedder = embedder
        self.settings = settings or ClassifierSettings()
        self._chars = HashingVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), n_features=2**15, alternate_sign=False
        )
        self._words = HashingVectorizer(
            analyzer="word", ngram_range=(1, 2), n_features=2**14, alternate_sign=False
        )
        self.classes: list[str] = []
        self._coef: np.ndarray | None = None
        self._intercept = np.zeros(0)
        self.temperature = 1.0
        self._in_scope_vectors = np.zeros((0, 1), dtype=np.float32)
        self._out_of_scope_vectors = np.zeros((0, 1), dtype=np.float32)

    # Training -------------------------------------------------------------------------------
    def fit(
        self, texts: Sequence[str], labels: Sequence[str], vectors: np.ndarray | None = None
    ) -> IntentClassifier:
        if len(texts) != len(labels) or not texts:
            raise ValueError("texts and labels must be non-empty and of equal length")
        vectors = self.embedder(list(texts)) if vectors is None else vectors
        features = self._features(texts, vectors)
        y = np.asarray(labels)
        self.temperature = self._fit_temperature(features, y)
        model = self._new_model().fit(features, y)
        self.classes = [str(c) for c in model.classes_]
        self._coef = model.coef_.astype(np.float32)
        self._intercept = model.intercept_.astype(np.float32)
        self._in_scope_vectors = vectors[y != OUT_OF_SCOPE].astype(np.float32)
        self._out_of_scope_vectors = vectors[y == OUT_OF_SCOPE].astype(np.float32)
        return self

    def _new_model(self) -> LinearSVC:
        return LinearSVC(C=self.settings.regularisation, max_iter=5000)

    def _fit_temperature(self, features: sparse.csr_matrix, y: np.ndarray) -> float:
        """One scalar temperature minimising held-out log loss (Guo et al., 2017)."""
        counts = np.unique(y, return_counts=True)[1]
        folds = min(self.settings.calibration_folds, int(counts.min()))
        if folds < 2:
            return 1.0
        logits = np.zeros((len(y), len(np.unique(y))))
        classes = np.unique(y)
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        for train, held in splitter.split(np.zeros(len(y)), y):
            model = self._new_model().fit(features[train], y[train])
            fold_logits = model.decision_function(features[held])
            columns = np.searchsorted(classes, model.classes_)
            logits[np.ix_(held, columns)] = fold_logits
        truth = np.searchsorted(classes, y)

        def nll(t: float) -> float:
            scaled = logits / t
            scaled -= scaled.max(axis=1, keepdims=True)
            log_prob = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
            return float(-log_prob[np.arange(len(y)), truth].mean())

        return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)

    def _features(self, texts: Sequence[str], vectors: np.ndarray) -> sparse.csr_matrix:
        blocks = [sparse.csr_matrix(vectors.astype(np.float32))]
        if self.settings.char_ngrams:
            blocks.append(self._chars.transform(list(texts)) * self.settings.char_weight)
        if self.settings.word_ngrams:
            blocks.append(self._words.transform(list(texts)) * self.settings.word_weight)
        return sparse.hstack(blocks, format="csr")

    # Prediction -----------------------------------------------------------------------------
    def predict(self, text: str) -> IntentPrediction:
        return self.predict_many([text])[0]

    def predict_many(
        self, texts: Sequence[str], vectors: np.ndarray | None = None
    ) -> list[IntentPrediction]:
        if self._coef is None:
            raise RuntimeError("the classifier is not trained")
        vectors = self.embedder(list(texts)) if vectors is None else vectors
        features = self._features(texts, vectors)
        logits = np.asarray(features @ self._coef.T) + self._intercept
        logits = logits / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        margins = _neighbour_similarity(vectors, self._in_scope_vectors) - _neighbour_similarity(
            vectors, self._out_of_scope_vectors
        )
        return [self._decide(row, float(m)) for row, m in zip(probs, margins, strict=True)]

    def _decide(self, probs: np.ndarray, margin: float) -> IntentPrediction:
        order = np.argsort(-probs)
        ranking = tuple((self.classes[i], round(float(probs[i]), 4)) for i in order[:5])
        intent, confidence = ranking[0]
        reason = ""
        if intent == OUT_OF_SCOPE:
            reason = "model"
        elif confidence < self.settings.min_confidence:
            reason = "low_confidence"
        elif margin < self.settings.min_margin:
            reason = "near_out_of_scope"
        if reason:
            intent = OUT_OF_SCOPE
        return IntentPrediction(intent, confidence, ranking, round(margin, 4), reason)

    # Persistence ----------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Plain arrays (no pickle): the cache can be read without trusting code in it."""
        if self._coef is None:
            raise RuntimeError("the classifier is not trained")
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            coef=self._coef,
            intercept=self._intercept,
            classes=np.asarray(self.classes),
            temperature=np.asarray(self.temperature),
            in_scope=self._in_scope_vectors,
            out_of_scope=self._out_of_scope_vectors,
        )
        return buffer.getvalue()

    def load_bytes(self, blob: bytes) -> IntentClassifier:
        with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
            self._coef = arrays["coef"]
            self._intercept = arrays["intercept"]
            self.classes = [str(c) for c in arrays["classes"]]
            self.temperature = float(arrays["temperature"])
            self._in_scope_vectors = arrays["in_scope"]
            self._out_of_scope_vectors = arrays["out_of_scope"]
        return self


def _neighbour_similarity(vectors: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """Mean cosine of each vector to its `NEIGHBOURS` most similar examples (0 without any)."""
    if not len(examples):
        return np.zeros(len(vectors))
    similarities = vectors @ examples.T
    k = min(NEIGHBOURS, len(examples))
    return np.partition(similarities, -k, axis=1)[:, -k:].mean(axis=1)


class EmbeddingMemo:
    """Sentence vectors of training texts on disk, so retraining after a YAML edit only
    encodes the examples that changed."""

    def __init__(self, path: Path, embedder: Embedder, model_key: str) -> None:
        self.path = path
        self.embedder = embedder
        self.model_key = model_key
        self._vectors: dict[str, np.ndarray] = {}
        self._load()

    def _key(self, text: str) -> str:
        return hashlib.sha1(f"{self.model_key}\0{text}".encode()).hexdigest()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            with np.load(self.path, allow_pickle=False) as arrays:
                self._vectors = dict(zip(arrays["keys"].tolist(), arrays["vectors"], strict=True))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):
            self._vectors = {}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        missing = sorted({t for t, k in zip(texts, keys, strict=True) if k not in self._vectors})
        if missing:
            for text, vector in zip(missing, self.embedder(missing), strict=True):
                self._vectors[self._key(text)] = vector.astype(np.float32)
            self._save()
        return np.stack([self._vectors[k] for k in keys])

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.asarray(list(self._vectors)),
            vectors=np.stack(list(self._vectors.values())),
        )
        tmp.replace(self.path)
