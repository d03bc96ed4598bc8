"""Faults: the Chroma server goes away mid-conversation and comes back.

The engine scores exactly in memory up to `exact_limit` vectors and asks Chroma's HNSW only
beyond that, so with a small store a turn does not need the server at all; with a store too
big for exact scoring (`exact_limit=1` here) an unfiltered search does. Either way the turn
must fail soft (a friendly reply, the state kept) and the next one work once the server is back.
"""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest
from conftest import ChromaServer

from assistant import Assistant, RetrievalStack
from retrieval import CatalogIndexer, EmbeddingCache, SearchEngine, VectorIndex

UNFILTERED = "i need something waterproof"  # no filter: the whole catalog is searched
FILTERED = "show me women's jackets"


@pytest.fixture(scope="module")
def server(tmp_path_factory, luma_store, text_encoder):
    """The Luma + eShop store indexed into a real Chroma server."""
    folder = tmp_path_factory.mktemp("faults")
    chroma = ChromaServer(folder / "chroma")
    chroma.start()
    index = VectorIndex(url=chroma.url)
    cache = EmbeddingCache(folder / "cache.db")
    CatalogIndexer(luma_store, index, cache, text_encoder).sync(progress=False)
    try:
        yield chroma, index, cache
    finally:
        chroma.stop()


def _assistant(assistant: Assistant, server, exact_limit: int) -> Assistant:
    """The session assistant's trained model files over an engine on the Chroma server."""
    chroma, index, cache = server
    settings = replace(
        assistant.settings, chroma_url=chroma.url, event_log=False, speech_backend="none"
    )
    stack = RetrievalStack(settings, assistant.stack.store, index, cache,
                           assistant.stack.text_encoder, None, None)  # fmt: skip
    stack.engine = SearchEngine(
        stack.store, index, stack.text_encoder, exact_limit=exact_limit, cache_size=0
    )
    return Assistant(settings, stack)


class TestChromaServerGoesAway:
    def test_a_turn_needing_the_server_fails_soft_and_the_next_works(self, assistant, server):
        chroma = server[0]
        shop = _assistant(assistant, server, exact_limit=1)
        session = f"fault-{uuid.uuid4().hex[:8]}"
        first = shop.respond(session, UNFILTERED)
        assert first.suggestions
        shop.respond(session, "add the first one")
        before = shop.state(session).to_dict()
        chroma.stop()
        try:
            failed = shop.respond(session, UNFILTERED)
            assert "went wrong" in failed.text and "kept" in failed.text
            assert not failed.suggestions
            assert shop.state(session).to_dict() == {**before, "turns": before["turns"]}
        finally:
            chroma.start()
        again = shop.respond(session, UNFILTERED)
        assert [s.card.id for s in again.suggestions] == [s.card.id for s in first.suggestions]
        assert shop.state(session).cart  # the cart survived the outage

    def test_a_small_store_keeps_answering_while_the_server_is_down(self, assistant, server):
        chroma = server[0]
        shop = _assistant(assistant, server, exact_limit=2_000_000)
        session = f"fault-{uuid.uuid4().hex[:8]}"
        expected = [s.card.id for s in shop.respond(session, FILTERED).suggestions]
        chroma.stop()
        try:
            during = shop.respond(f"{session}-2", FILTERED)
            assert [s.card.id for s in during.suggestions] == expected  # vectors in memory
            assert shop.respond(session, UNFILTERED).suggestions
        finally:
            chroma.start()
