"""The explanations output is refused with the settings, before any job exists, for a model that
cannot give it (a ranker's items, a model that predicts its baseline alone, a model without
``explain``), naming the field output_types."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from relpredict.errors import SettingsError
from relpredict.jobs import RawSettings
from relpredict.model.explain import cannot_explain
from relpredict.service import jobs as service
from tests.conftest import Store


def _model(**parts: object) -> SimpleNamespace:
    values = {"ref": "m@1", "kind": "lightgbm", "ranker": None, "booster": None, "gnn": None, "blend": 0.0}
    return SimpleNamespace(**{**values, **parts})


def test_which_models_can_explain() -> None:
    assert cannot_explain(_model(booster=object())) is None  # lightgbm
    assert cannot_explain(_model(gnn=object(), blend=1.0)) is None  # gnn
    assert cannot_explain(_model(gnn=object(), booster=object(), blend=0.5)) is None  # blend
    ranker = cannot_explain(_model(kind="lightgbm", ranker=SimpleNamespace(model=object()), booster=object()))
    assert ranker is not None and ranker.startswith(
        "The model m@1 (lightgbm) ranks items with its LightGBM ranker over candidate pairs, which "
        "relpredict cannot explain")
    none = cannot_explain(_model(kind="lightgbm", booster=None))
    assert none is not None and "has no LightGBM booster or GNN that scores it" in none
    alone = cannot_explain(_model(kind="baseline", booster=object(), baseline_weight=1.0))
    assert alone is not None and "predicts its baseline alone" in alone


def test_a_model_without_explain_is_refused_at_settings_time(store: Store) -> None:
    store.workflow("binary", "churn")  # the test double has no explain method
    with pytest.raises(SettingsError) as err:
        service.check_settings(store.ws, "churn", RawSettings(output_types="predictions,explanations"))
    assert err.value.errors == {"output_types": "The model m-churn@1 cannot explain its predictions: "
                                "leave out the explanations output type."}
    with pytest.raises(SettingsError):
        service.create_job(store.ws, "churn", RawSettings(output_types="explanations"))
    assert service.list_jobs(store.ws) == []
