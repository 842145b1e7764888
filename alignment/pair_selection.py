"""How a prompt's candidates become pairs: embed their texts (through the cache), then choose pairs by the
study's strategy (negatively-correlated or random). Registered with annotation/pairing.py at start-up."""

from collections.abc import Sequence

from alignment.embedding_store import embeddings_for_texts
from alignment.sampling import SelectedPair, nc_select_pairs


def candidate_pairs_select(texts: list[str], n_pairs: int, strategy: str, seed: int) -> Sequence[SelectedPair]:
    return nc_select_pairs(embeddings_for_texts(texts), n_pairs, strategy=strategy, seed=seed)
