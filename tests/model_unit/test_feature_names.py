"""Feature names holding JSON's special characters train (LightGBM refuses them as its own names)
and stay readable in the importance list."""

from __future__ import annotations

import json

import numpy as np

from relpredict.model.boosting import Booster
from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType

NAMES = ['orders.mean("amount, net")', "tags:[a]", "meta{x}", 'plain']


def test_feature_names_with_quotes_commas_colons_brackets_and_braces_train_and_stay_readable() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(NAMES)))
    y = (x[:, 0] + 0.1 * rng.normal(size=400) > 0).astype(np.float64)
    booster = Booster.fit(TargetCodec(TaskType.binary), NAMES, x[:300], y[:300], x[300:], y[300:], seed=0)
    assert booster.importance(1)[0][0] == NAMES[0]  # the readable name, not f0
    assert {name for name, _ in booster.importance()} <= set(NAMES)
    again = Booster.from_dict(json.loads(json.dumps(booster.to_dict())))
    np.testing.assert_allclose(again.predict(x[300:]), booster.predict(x[300:]))
    assert ((booster.predict(x[300:]) > 0.5) == y[300:]).mean() > 0.8
