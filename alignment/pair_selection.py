"""How a prompt's candidates become pairs (or k-sets, in a set study): embed their texts (through the cache),
then choose by the study's strategy (negatively-correlated, random, or all). Registered with
annotation/pairing.py and annotation/set_making.py at start-up."""

from collections.abc import Sequence

from alignment.embedding_store import embeddings_for_texts
from alignment.sampling import SelectedPair, SelectedSet, nc_select_pairs, nc_select_sets


def candidate_pairs_select(texts: list[str], n_pairs: int, strategy: str, seed: int) -> Sequence[SelectedPair]:
    return nc_select_pairs(embeddings_for_texts(texts), n_pairs, strategy=strategy, seed=seed)


def candidate_sets_select(texts: list[str], set_size: int, n_sets: int, strategy: str, seed: int) -> Sequence[
        SelectedSet]:
    return nc_select_sets(embeddings_for_texts(texts), set_size, n_sets, seed, strategy=strategy)
