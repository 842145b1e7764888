"""Each fit kind's parameters, declared once (alignment/fit_params.py): checked values, defaults, and the
same declaration behind the models page's form and the refit command's options."""

import pytest

from alignment.fit_params import FIT_PARAMS, fit_params_clean
from annotation.errors import InputError


def test_missing_parameters_take_their_declared_defaults():
    assert fit_params_clean("spica", {}) == {"m": 5, "tau": 2.0, "seed": 0}
    assert fit_params_clean("pal", {"k": "2"})["k"] == 2


@pytest.mark.parametrize(("kind", "params", "field"), [
    ("pal", {"model": ["pal-b"]}, "params.model"), ("pal", {"k": [2]}, "params.k"), ("pal", {"k": True}, "params.k"),
    ("pal", {"k": 2.5}, "params.k"), ("pal", {"max_epochs": 1e400}, "params.max_epochs"),
    ("spica", {"tau": float("nan")}, "params.tau"), ("spica", {"k": 2}, "params"), ("nope", {}, "kind"),
    ("spica", {"attribute": ["party"]}, "params.attribute"), ("pal", {"attribute": "x" * 101}, "params.attribute"),
])
def test_bad_values_are_refused_naming_the_parameter(kind, params, field):
    with pytest.raises(InputError) as error:
        fit_params_clean(kind, params)
    assert error.value.field == field


def test_the_refit_command_offers_every_declared_parameter():
    from alignment.management.commands.refit import OPTIONS

    assert set(OPTIONS) == {p.name for declared in FIT_PARAMS.values() for p in declared}
