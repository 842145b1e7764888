"""The PAL refit: a study's judgments -> a fitted, evaluated PAL model saved as an artifact.

Called by the fit service (alignment/fits.py) inside a worker; the numeric work is alignment/pal.
"""

import os
import time
from pathlib import Path

from django.conf import settings

from alignment.fit_params import attribute_check
from alignment.fit_requirements import PAL_MIN_ANNOTATORS, PAL_MIN_JUDGMENTS
from alignment.fit_runner import FitOutcome, FitProgress, artifact_dir
from alignment.models import FitRun
from alignment.pal import (
    TrainConfig,
    assignment_clusters,
    evaluate_pal,
    fit_kept,
    fit_pal,
    pal_reward_model,
    save_pal,
    small_data_candidate,
    split_pal_data,
)
from alignment.pal_dataset import pal_data_for_study

MODELS = {"pal-b": "B", "pal-a": "A"}  # the `model` parameter (alignment/fit_params.py) -> PAL variant
MIN_JUDGMENTS = PAL_MIN_JUDGMENTS
MIN_ANNOTATORS = PAL_MIN_ANNOTATORS


def run_pal_fit(run: FitRun, progress: FitProgress) -> FitOutcome:
    params = run.params
    started = time.perf_counter()
    attribute_check(run.study, params.get("attribute") or None)  # InputError is a ValueError: the run fails
    study_data = pal_data_for_study(study=run.study, last_judgment_id=run.last_judgment_id or 0,
                                    attribute=params.get("attribute") or None,
                                    prompts=params.get("prompts") or "all")
    data = study_data.data
    if len(data.judgments) < MIN_JUDGMENTS or data.n_users < MIN_ANNOTATORS:
        raise ValueError(f"a PAL fit needs at least {MIN_JUDGMENTS} A/B/tie judgments from {MIN_ANNOTATORS} "
                         f"annotators; the study has {len(data.judgments)} from {data.n_users}")
    loaded = time.perf_counter()
    split = split_pal_data(data, unseen_fraction=params["unseen_fraction"], seed=params["seed"])
    config = TrainConfig(max_epochs=params["max_epochs"], seed=params["seed"], threads=settings.PLURALWEB_FIT_THREADS,
                         small_data_below=settings.PLURALWEB_PAL_TWO_FITS_BELOW)

    kind = MODELS[params["model"]]
    # A small PAL-B set is fitted twice (TrainConfig.small_data_below): its epochs count on across both.
    candidate = small_data_candidate(config, kind, params["k"], len(split.train), len(split.val),
                                     grouped=assignment_clusters(data) is not None)
    fits = 2 if candidate else 1

    def on_epoch(row: dict) -> None:
        progress(epoch=row["epoch"], total=fits * params["max_epochs"], loss=row["train_loss"],
                 val_loss=row["val_loss"], val_accuracy=row["val_accuracy"])

    fit = fit_pal(data, split.train, split.val, kind=kind, k=params["k"], config=config, on_epoch=on_epoch)
    progress.phase("evaluating", best_epoch=fit.best_epoch)
    report = evaluate_pal(data, split, fit, config=config)
    saving = time.perf_counter()
    reward_model = pal_reward_model(fit, data, embedding_model=settings.EMBEDDING_MODEL,
                                    user_status=report.annotators["status"])
    path = _save(reward_model, artifact_dir(run.study) / f"pal-run{run.pk}.pt")
    phases = {"load": loaded - started, "fit": fit.seconds, **report.seconds, "save": time.perf_counter() - saving}
    metrics = report.to_dict() | {
        "best_epoch": fit.best_epoch, "epochs_run": len(fit.history), "val_loss": fit.val_loss,
        # Which fit was kept: the small-data candidate (TrainConfig.small_data_below) or the plain one.
        "small_data_fit": fit.config != config, "fit_kept": fit_kept(fit.config, config),
        "val_accuracy": fit.val_accuracy, "fit_seconds": fit.seconds, "attribute": params.get("attribute") or None,
        "prompts": params.get("prompts") or "all",
        "participant_ids": [int(pk) for pk in study_data.participant_ids], "threads": config.threads,
        "seconds": {name: round(value, 3) for name, value in phases.items()},
        "cpu_seconds": {"fit": round(fit.cpu_seconds, 3), **report.cpu_seconds},
        "total_seconds": round(time.perf_counter() - started, 3),
    }
    return FitOutcome(metrics=metrics, artifact_path=str(path), judgment_count=len(data.judgments))


def _save(reward_model, path: Path) -> Path:
    # Written under a temporary name and renamed: a crash never leaves a half-written artifact.
    tmp = path.with_suffix(".part")
    save_pal(reward_model, tmp)
    os.replace(tmp, path)
    return path

