"""The job code's model interface (relpredict.jobs.protocols) fits the trained model and the
job tests' double, so a test that runs jobs with the double runs the code a real model meets."""

from __future__ import annotations

from relpredict.jobs.protocols import ExplainingModel, JobModel
from relpredict.model.predictor import TrainedModel
from relpredict.model.targets import TargetCodec
from relpredict.query.bound import TaskType

from .fixture_model import FixtureModel


def _double() -> FixtureModel:
    return FixtureModel("churn", 1, "PREDICT COUNT(t.*, 0, 30, days) > 0 FOR EACH c.id",
                        "graph.yaml", TaskType.binary, True, None)


def test_the_trained_model_is_a_job_model_that_explains() -> None:
    model = TrainedModel(query_text="PREDICT c.x FOR EACH c.id", task_type=TaskType.regression,
                         kind="lightgbm", seed=0, codec=TargetCodec(TaskType.regression))
    assert isinstance(model, JobModel)
    assert isinstance(model, ExplainingModel)


def test_the_test_double_is_a_job_model() -> None:
    double = _double()
    assert isinstance(double, JobModel)
    assert double.ref == "churn@1"


def test_an_object_without_predict_is_not_a_job_model() -> None:
    class NoPredict:
        query_text = "q"
        task_type = TaskType.binary
        ref = "x@1"
        is_temporal = False
        classes = None

        def load_graph(self) -> None: ...
        def bound_query(self, graph: object) -> None: ...
        def embed(self, *args: object) -> None: ...

    assert not isinstance(NoPredict(), JobModel)
