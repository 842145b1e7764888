"""Candidate selection (no Django): negatively-correlated pairs and k-sets, and the random baseline."""

from alignment.sampling.pairs import (
    SET_STRATEGIES,
    STRATEGIES,
    SelectedPair,
    SelectedSet,
    cosine_distances,
    nc_select_pairs,
    nc_select_sets,
)

__all__ = [
    "SET_STRATEGIES",
    "STRATEGIES",
    "SelectedPair",
    "SelectedSet",
    "cosine_distances",
    "nc_select_pairs",
    "nc_select_sets",
]
