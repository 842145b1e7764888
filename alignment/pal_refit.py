"""The PAL refit: a study's judgments -> a fitted, evaluated PAL model saved as an artifact.

Called by the fit service (alignment/fits.py) inside a worker; the numeric work is alignment/pal.
"""

import os
from pathlib import Path

from django.conf import settings

from alignment.fit_runner import FitOutcome, FitProgress, artifact_dir
from alignment.models import FitRun
from alignment.pal import TrainConfig, evaluate_pal, fit_pal, pal_reward_model, save_pal, split_pal_data
from alignment.pal_dataset import pal_data_for_study

MODELS = {"pal-b": "B", "pal-a": "A"}  # the `model` parameter (alignment/fit_params.py) -> PAL variant
MIN_JUDGMENTS = 40
MIN_ANNOTATORS = 4


def run_pal_fit(run: FitRun, progress: FitProgress) -> FitOutcome:
    params = run.params
    study_data = pal_data_for_study(study=run.study, last_judgment_id=run.last_judgment_id)
    data = study_data.data
    if len(data.judgments) < MIN_JUDGMENTS or data.n_users < MIN_ANNOTATORS:
        raise ValueError(f"a PAL fit needs at least {MIN_JUDGMENTS} A/B/tie judgments from {MIN_ANNOTATORS} "
                         f"annotators; the study has {len(data.judgments)} from {data.n_users}")
    split = split_pal_data(data, unseen_fraction=params["unseen_fraction"], seed=params["seed"])
    config = TrainConfig(max_epochs=params["max_epochs"], seed=params["seed"], threads=settings.PLURALWEB_FIT_THREADS)

    def on_epoch(row: dict) -> None:
        progress(epoch=row["epoch"], total=params["max_epochs"], loss=row["train_loss"],
                 val_loss=row["val_loss"], val_accuracy=row["val_accuracy"])

    kind = MODELS[params["model"]]
    fit = fit_pal(data, split.train, split.val, kind=kind, k=params["k"], config=config, on_epoch=on_epoch)
    report = evaluate_pal(data, split, fit, config=config)
    reward_model = pal_reward_model(fit, data, embedding_model=settings.EMBEDDING_MODEL)
    path = _save(reward_model, artifact_dir(run.study) / f"pal-run{run.pk}.pt")
    metrics = report.to_dict() | {
        "best_epoch": fit.best_epoch, "val_loss": fit.val_loss, "val_accuracy": fit.val_accuracy,
        "fit_seconds": fit.seconds, "participant_ids": [int(pk) for pk in study_data.participant_ids],
    }
    return FitOutcome(metrics=metrics, artifact_path=str(path), judgment_count=len(data.judgments))


def _save(reward_model, path: Path) -> Path:
    # Written under a temporary name and renamed: a crash never leaves a half-written artifact.
    tmp = path.with_suffix(".part")
    save_pal(reward_model, tmp)
    os.replace(tmp, path)
    return path

