"""The Recommendation Dialogue Model: intents, slots, dialogue state, policy and replies.

It never imports `retrieval`: products come through the `CatalogPort` protocol, which
`assistant` implements over the search engine. Behaviour lives in YAML under `prompts/`.
"""

from dialogue._answers import (
    Answer,
    AnswerSettings,
    FitAdvice,
    ListAnswer,
    ProductAnswerer,
    Source,
    product_sources,
    sentences,
)
from dialogue._cart import QuantityLimit, VariantGap, only_choices, put_in_cart, variant_gaps
from dialogue._classifier import (
    OUT_OF_SCOPE,
    ClassifierSettings,
    EmbeddingMemo,
    IntentClassifier,
    IntentPrediction,
)
from dialogue._config import (
    NLU_FILE,
    PROMPT_FILES,
    RESPONSES_FILE,
    DialogueSettings,
    LlmSettings,
    PolicySettings,
    PromptFileError,
    StorePolicy,
    Templates,
    prompts_hash,
)
from dialogue._entities import Entity, EntityExtractor, Extraction, Reference, category_parts
from dialogue._llm import GroundingCheck, GroundingVerdict, Rewriter
from dialogue._model import MAX_MESSAGE_CHARS, DecidedTurn, DialogueModel, read_message
from dialogue._nlu import NluModel, Parse, TrainingReport
from dialogue._nlu_data import EntitySpan, Example, NluData, NluDataError, load_nlu
from dialogue._policy import SIMPLE as SIMPLE_REPLIES
from dialogue._prices import TENS as NUMBER_TENS
from dialogue._prices import UNITS as NUMBER_UNITS
from dialogue._prices import PriceRange, find_price, parse_number
from dialogue._protocol import (
    CatalogPort,
    Embedder,
    Match,
    MatchEvidence,
    OrderLookupUnavailable,
    OrderPort,
    OrderStatus,
    PhotoSeen,
    ProductCard,
    ProductText,
    ReviewFact,
    SearchOutcome,
    SearchRequest,
)
from dialogue._reply import Comparison, DialogueReply, HandoffRequest, Suggestion, money
from dialogue._state import MAX_LINE_QUANTITY, CartLine, DialogueState, PendingAdd
from dialogue._tracker import TrackResult, track
from dialogue._wishes import Constraints, Exclusions, Preferences

__all__ = [
    "MAX_LINE_QUANTITY",
    "MAX_MESSAGE_CHARS",
    "NLU_FILE",
    "NUMBER_TENS",
    "NUMBER_UNITS",
    "OUT_OF_SCOPE",
    "PROMPT_FILES",
    "RESPONSES_FILE",
    "SIMPLE_REPLIES",
    "Answer",
    "AnswerSettings",
    "CartLine",
    "CatalogPort",
    "ClassifierSettings",
    "Comparison",
    "Constraints",
    "DecidedTurn",
    "DialogueModel",
    "DialogueReply",
    "DialogueSettings",
    "DialogueState",
    "Embedder",
    "EmbeddingMemo",
    "Entity",
    "EntityExtractor",
    "EntitySpan",
    "Example",
    "Exclusions",
    "Extraction",
    "FitAdvice",
    "GroundingCheck",
    "GroundingVerdict",
    "HandoffRequest",
    "IntentClassifier",
    "IntentPrediction",
    "ListAnswer",
    "LlmSettings",
    "Match",
    "MatchEvidence",
    "NluData",
    "NluDataError",
    "NluModel",
    "OrderLookupUnavailable",
    "OrderPort",
    "OrderStatus",
    "Parse",
    "PendingAdd",
    "PhotoSeen",
    "PolicySettings",
    "Preferences",
    "PriceRange",
    "ProductAnswerer",
    "ProductCard",
    "ProductText",
    "PromptFileError",
    "QuantityLimit",
    "Reference",
    "ReviewFact",
    "Rewriter",
    "SearchOutcome",
    "SearchRequest",
    "Source",
    "StorePolicy",
    "Suggestion",
    "Templates",
    "TrackResult",
    "TrainingReport",
    "VariantGap",
    "category_parts",
    "find_price",
    "load_nlu",
    "money",
    "only_choices",
    "parse_number",
    "product_sources",
    "prompts_hash",
    "put_in_cart",
    "read_message",
    "sentences",
    "track",
    "variant_gaps",
]
