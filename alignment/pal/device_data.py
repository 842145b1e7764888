"""A fit's embedding matrices and judgment columns as tensors on its device: shared by training, warm
start, few-shot and evaluation (its own module so that none of them imports another for it)."""

import torch

from alignment.pal.data import Judgments, PalData


class DeviceData:
    """Embedding matrices moved to the device once per fit."""

    def __init__(self, data: PalData, device: torch.device) -> None:
        self.device = device
        self.prompts = torch.as_tensor(data.prompt_embeddings, dtype=torch.float32, device=device)
        self.candidates = torch.as_tensor(data.candidate_embeddings, dtype=torch.float32, device=device)

    def columns(self, judgments: Judgments) -> tuple[torch.Tensor, ...]:
        indices = (judgments.user, judgments.prompt, judgments.a, judgments.b)
        return (
            *(torch.as_tensor(c, device=self.device) for c in indices),
            torch.as_tensor(judgments.label, device=self.device),
        )
