"""A LangChain retriever over the search engine, so it plugs into LangChain chains.

Each document's text is the product as the encoders read it; its metadata carries the facts
(price, sizes, colours, rating) and the evidence, so a chain can quote them without inventing.
"""

from __future__ import annotations

from dataclasses import asdict

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever

from retrieval._documents import product_document, product_metadata
from retrieval._query import Exclusions, Filters, SearchQuery
from retrieval._search import SearchEngine


class CatalogRetriever(BaseRetriever):
    """`invoke("blue hoodie")` -> product Documents, ranked by the hybrid engine."""

    engine: SearchEngine
    k: int = 10
    filters: Filters = Filters()
    exclude: Exclusions = Exclusions()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.engine.search(
            SearchQuery(text=query, filters=self.filters, exclude=self.exclude, k=self.k)
        )
        return [
            Document(
                id=hit.product.id,
                page_content=product_document(hit.product),
                metadata={
                    **product_metadata(hit.product),
                    "product_id": hit.product.id,
                    "score": hit.score,
                    "evidence": asdict(hit.evidence),
                },
            )
            for hit in result.hits
        ]
