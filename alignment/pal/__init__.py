"""PAL mixture reward models (no Django): arrays in, dataclasses and arrays out.

Typical use: build `PalData` (embedding matrices + `Judgments` index arrays), `split_pal_data`,
`select_pal` or `fit_pal` on train/val, `evaluate_pal` on test, `pal_reward_model` + `save_pal`.

Names load on first use (PEP 562), so that code needing only `alignment.pal.data` (a web process
building index arrays) does not import torch.
"""

import importlib

_EXPORTS = {
    "alignment.pal.artifact": ("load_pal", "read_pal_header", "save_pal"),
    "alignment.pal.data": ("TIE", "Judgments", "PalData", "PalSplit", "first_judgments", "split_pal_data"),
    "alignment.pal.evaluate": ("SHOTS", "PalReport", "adjusted_rand_index", "evaluate_pal"),
    "alignment.pal.fewshot": ("FewShotConfig", "FewShotWeights", "fit_new_users", "fit_new_users_by_shots"),
    "alignment.pal.group_bt": ("GroupBTFit", "fit_group_bt"),
    "alignment.pal.model": ("KINDS", "PalArchitecture", "PalModel", "build_model"),
    "alignment.pal.reward": ("PalRewardModel", "pal_reward_model"),
    "alignment.pal.synthetic": ("SyntheticPopulation", "make_population"),
    "alignment.pal.train": ("PalFit", "PalSelection", "TrainConfig", "assignment_clusters", "fit_kept", "fit_pal",
                           "paired_standard_error", "select_pal", "small_data_candidate"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULE_OF[name]), name)


def __dir__() -> list[str]:
    return __all__
