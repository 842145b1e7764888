"""PAL artifacts: one torch.save file holding a JSON header and the model's state dict.

Loading needs only this package: the header names the architecture, so no training state (optimiser,
data, config objects) is pickled, and torch.load runs with weights_only=True.
"""

from __future__ import annotations

import json
import os
from typing import BinaryIO

import numpy as np
import torch

from alignment.pal.model import PalArchitecture, build_model
from alignment.pal.reward import PalRewardModel

FORMAT = "pluralweb-pal/1"

Destination = str | os.PathLike | BinaryIO


def pal_header(reward_model: PalRewardModel) -> dict:
    return {
        "format": FORMAT,
        "architecture": reward_model.model.arch.to_dict(),
        "embedding_model": reward_model.embedding_model,
        "user_ids": list(reward_model.user_ids),
        "group_weights": {name: np.asarray(w).tolist() for name, w in reward_model.group_weights.items()},
        "hyperparameters": reward_model.hyperparameters,
        "user_status": list(reward_model.user_status),
    }


def save_pal(reward_model: PalRewardModel, destination: Destination) -> None:
    state = {name: tensor.detach().cpu() for name, tensor in reward_model.model.state_dict().items()}
    torch.save({"header": json.dumps(pal_header(reward_model)), "state_dict": state}, destination)


def read_pal_header(source: Destination) -> dict:
    return _read(source)[0]


def load_pal(source: Destination) -> PalRewardModel:
    header, state = _read(source)
    model = build_model(PalArchitecture(**header["architecture"]))
    model.load_state_dict(state)
    groups = {name: np.asarray(w, dtype=np.float32) for name, w in header["group_weights"].items()}
    return PalRewardModel(
        model,
        tuple(header["user_ids"]),
        groups,
        header["embedding_model"],
        header["hyperparameters"],
        tuple(header.get("user_status", ())),
    )


def _read(source: Destination) -> tuple[dict, dict]:
    payload = torch.load(source, map_location="cpu", weights_only=True)
    header = json.loads(payload["header"])
    if header.get("format") != FORMAT:
        raise ValueError(f"not a {FORMAT} artifact (format {header.get('format')!r})")
    return header, payload["state_dict"]
