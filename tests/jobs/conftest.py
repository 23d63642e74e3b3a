"""Job tests run against the model test double (``tests/jobs/fixture_model.py``).

The store, the workspace and :class:`~tests.conftest.Store` come from ``tests/conftest.py``; here
every test turns on the model-loader seam. To run these tests against real trained models, change
one fixture: make ``_loader_seam`` delete the variable (so jobs use the real loader) and make
``Store.workflow`` train and save a small model (``train_model`` + ``save_model``, LightGBM is
quick) under the name ``m-<kind>`` instead of calling ``register``. Tests that recompute the
double's scores by hand (``expected_probability``, ``key_hash``) or use its knobs
(``RELPREDICT_FIXTURE_DELAY`` / ``_LOG`` / ``_FAIL_ON``) stay on the double; the rest (schemas,
worker invariance, manifest, sample, backtest against labels) hold for any model.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loader_seam(model_loader_seam: None) -> None:
    """Every job test loads the test double (``test_real_models`` overrides this)."""
