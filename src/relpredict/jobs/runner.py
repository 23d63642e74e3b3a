"""The coordinator of a job: stages, worker processes, publishing, the manifest.

``run_job`` takes a queued job through its stages::

    loading data → building the prediction table → predicting → writing → done

The entity list is kept in the job's folder the first time it is built, so a resumed job scores
exactly the same entities in exactly the same shards; shards whose done marker exists are not
run again. Workers are separate ``spawn`` processes that take the next shard from one queue (so a
slow worker takes fewer) and write to the destination's staging area themselves. Publishing
streams the staged shards in order into the final files, feeding the sample, the histogram and
the backtest on the way; where the destination shows nothing until an output is complete (one
local file or S3 object per output) it runs while the shards are still being scored, each output
in its own thread following the shards as they are staged. The manifest is written last.

Run detached as ``python -m relpredict.jobs.runner --home HOME JOB_ID``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

from relpredict.errors import RelpredictError
from relpredict.jobs import store
from relpredict.jobs.control import JobProgress, finish, progress
from relpredict.jobs.drift import drift_report
from relpredict.jobs.metadata import MetadataColumns
from relpredict.jobs.notify import Watchdog, job_ended
from relpredict.jobs.partial import ERRORS, TooManyErrors, error_limit
from relpredict.jobs.prepare import (
    Prepared,
    checked_schema,
    filtered_query,
    job_dir,
    load_workflow_model,
    prediction_entities,
)
from relpredict.jobs.settings import JobSettings
from relpredict.jobs.shards import Shard, own_slice, plan_shards, score_column
from relpredict.jobs.sources import drop_job_sources, job_graph
from relpredict.jobs.status import JobStatus, Stage
from relpredict.jobs.summary import Backtest, Histogram, SampleWriter, histogram_edges
from relpredict.jobs.worker import describe, drop_graph_tensors, threads_per_worker, worker_main
from relpredict.labels.labels import fact_time_range, step_offset, training_table
from relpredict.query.bound import BoundQuery, TaskType
from relpredict.sinks import JobSink, SinkSpec, open_sink
from relpredict.workspace import Workspace

POLL_SECONDS = 0.1
ProgressCallback = Callable[[JobProgress], None]

__all__ = ["backtest_labels", "backtest_window", "run_job"]


def run_job(ws: Workspace, job_id: str, on_progress: ProgressCallback | None = None,
            prepared: Prepared | None = None) -> store.JobRecord:
    """Run a queued job to its end in this process (workers are child processes).

    Returns the final record. A failure is recorded on the job and raised again; Ctrl-C cancels.
    """
    record = _claim(ws, job_id)
    if record.status is not JobStatus.RUNNING:
        return record
    watchdog = Watchdog.start(ws, job_id, record.settings.timeout_seconds)
    try:
        _Run(ws, record, on_progress, prepared).execute()
    except KeyboardInterrupt:
        finish(ws, job_id, JobStatus.CANCELLED, error="Interrupted.")
        raise
    except BaseException as err:
        finish(ws, job_id, JobStatus.FAILED, error=describe(err))
        raise
    finally:
        job_ended(ws, job_id, watchdog)  # the timeout's message, then webhook and --on-finish
    return store.get_job(ws, job_id)


def _claim(ws: Workspace, job_id: str) -> store.JobRecord:
    """Queued → running, owned by this process; a cancel that came first wins."""
    record = store.get_job(ws, job_id)
    if record.cancel_requested and record.status is JobStatus.QUEUED:
        return finish(ws, job_id, JobStatus.CANCELLED)
    me = psutil.Process()
    return store.update_job(ws, job_id, JobStatus.RUNNING, runner_pid=me.pid,
                            runner_started=me.create_time(), started_at=record.started_at or store.now_iso(),
                            stage=Stage.LOADING_DATA, stage_started_at=store.now_iso(), error=None)


class _Run:
    """One run of one job (a resume is a new run of the same job)."""

    def __init__(self, ws: Workspace, record: store.JobRecord, on_progress: ProgressCallback | None,
                 prepared: Prepared | None) -> None:
        self.ws, self.rec, self.on_progress, self.prepared = ws, record, on_progress, prepared
        self.settings: JobSettings = record.settings
        self.folder = job_dir(ws, record.id)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_errors = 0  # the job's limit of failing entities, known once the entities are
        self.publisher: _Publisher | None = None
        self.spec = SinkSpec(record.id, self.settings.destination, self.settings.output_types,
                             workspace_home=str(ws.home))

    def _stage(self, stage: Stage) -> None:
        store.set_stage(self.ws, self.rec.id, stage)
        self._report()

    def _report(self) -> None:
        """Progress to the caller; a publisher that failed while the shards were being scored
        fails the job now (the workers are stopped), not after the last shard."""
        if self.publisher is not None:
            self.publisher.raise_failure()
        if self.on_progress is not None:
            self.on_progress(progress(self.ws, self.rec.id))

    def execute(self) -> None:
        prepared = self._load()
        self._stage(Stage.BUILDING_PREDICTION_TABLE)
        shards = self._shards(self._entities(prepared))
        sink = open_sink(self.spec)
        done, rescored = self._reconcile(sink)
        self._stage(Stage.PREDICTING)
        pending = [s for s in shards if s.number not in done]
        with ThreadPoolExecutor(1, thread_name_prefix="relpredict-labels") as background:
            # While the workers start and score (the coordinator only waits): a GNN's graph
            # tensors written once for them to map (they wait for it), then the backtest's labels.
            on_this_machine = bool(pending) and self.settings.dask in (None, "local")
            labels = background.submit(self._prepare_for_workers, prepared, on_this_machine)
            # Where the destination allows it, the outputs are written as the shards come in.
            streaming = bool(pending) and sink.streams and not rescored
            publisher = self.publisher = _Publisher(self, prepared, sink, len(shards), labels, streaming)
            try:
                completed = not pending or self._predict(pending)
                cancelled = not completed or store.cancel_requested(self.ws, self.rec.id)
            except BaseException:
                publisher.stop()
                raise
            if cancelled:
                publisher.stop()
                finish(self.ws, self.rec.id, JobStatus.CANCELLED)
                return
            self._stage(Stage.WRITING)
            summary = publisher.finish()
        ended = JobStatus.SUCCEEDED_WITH_ERRORS if summary["errors"] else JobStatus.SUCCEEDED
        store.update_job(self.ws, self.rec.id, ended, stage=Stage.DONE,
                         stage_started_at=store.now_iso(), ended_at=store.now_iso(), summary=summary)
        drop_job_sources(self.ws, self.rec.id)  # a failed job keeps them for its resume
        self._report()

    def _load(self) -> Prepared:
        if self.prepared is not None:
            return self.prepared
        start = time.perf_counter()
        model = load_workflow_model(self.ws, self.rec.model_ref, self.rec.loader)
        graph = checked_schema(model, job_graph(self.ws, model, self.rec.id))  # as at setup
        bound = (filtered_query(model.query_text, self.settings.entity_filter, graph)
                 if self.settings.entity_filter else model.bound_query(graph))
        return Prepared(model, graph, bound, self.rec.loader, time.perf_counter() - start)

    def _entities(self, prepared: Prepared) -> pa.Array:
        """The job's entity list: built once, then read back so every run shards it identically."""
        path = self.folder / "entities.parquet"
        if path.is_file():
            return pq.read_table(path).column("ENTITY").combine_chunks()
        entities = prediction_entities(prepared, self.settings)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pq.write_table(pa.table({"ENTITY": entities}), tmp)
        os.replace(tmp, path)
        return entities

    def _shards(self, entities: pa.Array) -> list[Shard]:
        ranges = plan_shards(len(entities), self.settings.shard_size_for(len(entities)))
        store.update_job(self.ws, self.rec.id, entities_total=len(entities), shards_total=len(ranges))
        self.max_errors = error_limit(self.settings.max_errors, len(entities))
        return [Shard(self.rec.id, i, own_slice(entities, lo, hi), self.settings.anchor_time,
                      self.rec.model_ref, self.rec.loader, str(self.ws.home), self.spec,
                      self.settings.predict_options(), explain_k=self.settings.explain_k,
                      explain_exact=self.settings.explain_exact,
                      max_errors=self.max_errors)
                for i, (lo, hi) in enumerate(ranges)]

    def _reconcile(self, sink: JobSink) -> tuple[dict[int, dict[str, Any]], set[int]]:
        """Count shards marked done at the destination (a worker may die before telling the DB);
        returns them and the done shards that are scored again.

        When the done shards hold more failed entities than the job allows (a run that failed for
        them), the shards with errors are scored again: a resume after a fix retries them."""
        done = found = sink.done_shards()
        if sum(info.get("errors", 0) for info in done.values()) > self.max_errors:
            done = {n: info for n, info in done.items() if not info.get("errors")}
        for number, info in done.items():
            store.shard_finished(self.ws, self.rec.id, -1, number, info["entities"], info.get("seconds"))
        return done, set(found) - set(done)

    # ------------------------------------------------------------------------------ workers
    def _predict(self, pending: list[Shard]) -> bool:
        """Score the pending shards in worker processes; False when the job was cancelled.

        The shards go into one queue, in order, followed by an end mark per worker; each worker
        takes the next one when it is free (:func:`relpredict.jobs.worker.worker_main`). With a
        Dask scheduler they are tasks on its cluster instead (:mod:`relpredict.jobs.cluster`).
        """
        if self.settings.dask:
            return self._predict_on_dask(pending)
        used = max(1, min(self.settings.workers, len(pending)))
        store.reset_workers(self.ws, self.rec.id, dict.fromkeys(range(used), 0))
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        for shard in [*pending, *[None] * used]:
            queue.put(shard)
        procs = {w: context.Process(target=worker_main, name=f"relpredict-worker-{w}",
                                    args=(w, queue, os.getpid(), str(self.ws.home), self.rec.id,
                                          threads_per_worker(used)))
                 for w in range(used)}
        for proc in procs.values():
            proc.start()
        try:
            return self._watch(procs)
        finally:
            for proc in procs.values():
                if proc.is_alive():
                    proc.terminate()
            for proc in procs.values():
                proc.join(10)
            queue.cancel_join_thread()  # shards left after a cancel or failure are dropped
            queue.close()
            drop_graph_tensors(self.rec.id)

    def _prepare_for_workers(self, prepared: Prepared, tensors: bool) -> Labels:
        """With ``tensors`` (workers on this machine), a GNN's graph tensors written once
        (model/graphcache.py: the workers map them, none holds the build's peak memory); then
        :func:`backtest_labels`."""
        gnn = getattr(prepared.model, "gnn", None)
        if tensors and gnn is not None and not store.cancel_requested(self.ws, self.rec.id):
            from relpredict.model.graphcache import prebuild

            info: dict[str, Any] = getattr(prepared.model, "info", {})
            prebuild(prepared.graph, gnn.encoders, info.get("graph"), self.rec.id)
        return backtest_labels(prepared, self.settings)

    def _predict_on_dask(self, pending: list[Shard]) -> bool:
        from relpredict.jobs.cluster import DaskRun
        from relpredict.jobs.remote import pack_model

        pack = pack_model(self.ws, self.rec.model_ref, self.rec.loader)
        address = self.settings.dask or "local"
        return DaskRun(self.ws, self.rec.id, address, self.settings.workers, self._report).run(pending, pack)

    def _watch(self, procs: dict[int, Any]) -> bool:
        while True:
            if store.cancel_requested(self.ws, self.rec.id):
                return False
            for w, proc in procs.items():
                if proc.exitcode not in (None, 0):
                    raise self._worker_error(w, proc)
            self._report()
            if all(proc.exitcode == 0 for proc in procs.values()):
                return True
            time.sleep(POLL_SECONDS)

    def _worker_error(self, worker: int, proc: Any) -> RelpredictError:
        reported = next((p.error for p in store.workers(self.ws, self.rec.id) if p.worker == worker), None)
        if proc.exitcode < 0:
            what = f"Worker {worker} (pid {proc.pid}) was killed by signal {-proc.exitcode}"
        else:
            what = f"Worker {worker} failed: {reported or f'exit status {proc.exitcode}'}"
        return RelpredictError(f"{what}. Finished shards are kept: fix the cause and run "
                               f"`relpredict job resume {self.rec.id}`.")


class _Stopped(Exception):
    """The job stopped (cancelled or failed) while its outputs were being published."""


class _Arrivals:
    """The shards of a run as they are staged, for a publisher that writes them in order."""

    def __init__(self, ws: Workspace, job_id: str) -> None:
        self.ws, self.job_id = ws, job_id
        self.staged: set[int] = set()
        self.stopped = threading.Event()  # the job stopped: abandon the outputs
        self.scored = threading.Event()  # the workers are done: a shard not staged now never is
        self.lock = threading.Lock()

    def wait(self, shard: int) -> None:
        """Return once ``shard`` is staged; raise :class:`_Stopped` when the job stopped first."""
        while True:
            scored = self.scored.is_set()
            with self.lock:
                if shard in self.staged:
                    return
                self.staged = store.finished_shards(self.ws, self.job_id)  # the workers count them
                if shard in self.staged:
                    return
            if scored:
                raise RelpredictError(f"Shard {shard} of job {self.job_id} has no output after its "
                                      f"workers ended; run `relpredict job resume {self.job_id}` "
                                      "to compute it.")
            if self.stopped.wait(POLL_SECONDS):
                raise _Stopped()


class _Publisher:
    """The writing stage: staged shards → final files, sample, summary, manifest (last).

    With ``streaming`` (a destination whose outputs appear only when complete, see
    :attr:`JobSink.streams`), every output is written in its own thread while the shards are
    still being scored, shard after shard in order as each is staged; :meth:`finish` then waits
    for the last ones. Otherwise :meth:`finish` publishes the outputs one after the other once
    every shard is done, as a warehouse table or part files must be. Either way the checks of a
    complete job (every shard there, not too many failed entities) come before any output is
    completed, and the manifest comes last."""

    def __init__(self, run: _Run, prepared: Prepared, sink: JobSink, n_shards: int,
                 labels: Future[Labels], streaming: bool) -> None:
        self.owner, self.prepared, self.sink, self.n_shards = run, prepared, sink, n_shards
        self.settings = run.settings
        self.labels = labels
        self.metadata = MetadataColumns.of(run.rec)  # the same values in every run of the job
        self.infos: dict[int, dict[str, Any]] = {}
        self.errors = 0
        self.backtest: Backtest | None = None
        self.arrivals = _Arrivals(run.ws, run.rec.id) if streaming else None
        self.threads: ThreadPoolExecutor | None = None
        self.futures: dict[str, Future[dict[str, Any]]] = {}
        self.check_lock = threading.Lock()
        self.checked: BaseException | bool = False
        if self.arrivals is not None:
            self.threads = ThreadPoolExecutor(len(self.settings.output_types),
                                              thread_name_prefix="relpredict-publish")
            self.futures = {o: self.threads.submit(self._publish, o) for o in self.settings.output_types}

    # ------------------------------------------------------------------------ the checks
    def _check(self) -> None:
        """Every shard staged and no more failed entities than the job allows (once: the output
        threads each ask before they complete their output)."""
        with self.check_lock:
            if isinstance(self.checked, BaseException):
                raise self.checked
            if self.checked:
                return
            try:
                self._check_now()
            except BaseException as err:
                self.checked = err
                raise
            self.checked = True

    def _check_now(self) -> None:
        run = self.owner
        self.infos = self.sink.done_shards()
        missing = sorted(set(range(self.n_shards)) - set(self.infos))
        if missing:
            raise RelpredictError(f"Shards {missing[:10]} of job {run.rec.id} have no output; run "
                                  f"`relpredict job resume {run.rec.id}` to compute them.")
        self.errors = sum(i.get("errors", 0) for i in self.infos.values())
        if self.errors > run.max_errors:
            raise TooManyErrors(
                f"{self.errors} entities of job {run.rec.id} failed to score, more than the "
                f"{run.max_errors} it allows (--max-errors; default 0.1 % of the entities): "
                f"{self._first_errors()}. Fix the cause (those entities' data, or the model), then "
                f"`relpredict job resume {run.rec.id}` scores their shards again; or run the job "
                "again with a higher --max-errors.")

    def _first_errors(self, count: int = 3) -> str:
        shards = sorted(s for s, i in self.infos.items() if i.get("errors"))[:count]
        rows = [r for s in shards for b in self.sink.read_shard(s, ERRORS) for r in b.to_pylist()]
        return "; ".join(f"entity {r['ENTITY']!r}: {r['ERROR']}" for r in rows[:count])

    # ------------------------------------------------------------------------ lifecycle
    def raise_failure(self) -> None:
        """Raise the error of an output thread that failed (streaming), at once."""
        for future in self.futures.values():
            if future.done() and future.exception() is not None:
                err = future.exception()
                if isinstance(err, RelpredictError):
                    raise err
                if err is not None and not isinstance(err, _Stopped):
                    # e.g. a full disk under the output: the user's message, as a worker's error
                    raise RelpredictError(describe(err)) from err

    def stop(self) -> None:
        """The job stopped: abandon the outputs being written (nothing of them appears)."""
        if self.arrivals is None or self.threads is None:
            return
        self.arrivals.stopped.set()
        self.threads.shutdown(wait=True)

    def finish(self) -> dict[str, Any]:
        """Every output published (the streamed ones completed), the summary, the manifest."""
        outputs: dict[str, dict[str, Any]] = {}
        try:
            if self.threads is not None:
                if self.arrivals is not None:
                    self.arrivals.scored.set()
                for output, future in self.futures.items():
                    future.exception()  # wait for it
                    self.raise_failure()
                    outputs[output] = future.result()
            else:
                self._check()
                for output in self.settings.output_types:
                    outputs[output] = self._publish(output)
        except BaseException:
            self.stop()
            raise
        finally:
            if self.threads is not None:
                self.threads.shutdown(wait=True)
        labels, window_end, skipped = self.labels.result()
        backtest = None
        if self.backtest is not None and window_end is not None and self.settings.anchor_time is not None:
            backtest = self.backtest.result(self.settings.anchor_time, window_end)
        if self.errors:  # ENTITY, ERROR beside the outputs, from the shards that had any
            outputs[ERRORS] = self._publish(ERRORS, sorted(s for s, i in self.infos.items() if i.get("errors")))
        summary = {"entities": sum(i["entities"] for i in self.infos.values()), "errors": self.errors,
                   "outputs": outputs, "backtest": backtest or {"skipped": skipped}}
        summary["drift"] = self._drift()
        self._manifest(summary)
        self.sink.discard_staging()
        return summary

    def _drift(self) -> dict[str, Any]:
        """PSI of the score and features against the model's validation split, unseen entities,
        the entity count against the workflow's previous succeeded job (:mod:`relpredict.jobs.drift`)."""
        rec = self.owner.rec
        previous = next(({"id": j.id, "entities": (j.summary or {}).get("entities")}
                         for j in store.list_jobs(self.owner.ws, rec.workflow)
                         if j.id != rec.id and j.status is JobStatus.SUCCEEDED and j.created_at <= rec.created_at),
                        None)
        keys = pq.read_table(self.owner.folder / "entities.parquet").column("ENTITY").combine_chunks()
        return drift_report(self.prepared.model, self.infos, keys, previous)

    # ------------------------------------------------------------------------ one output
    def _batches(self, output: str, numbers: Sequence[int], staged: pa.Schema,
                 meta: MetadataColumns) -> Iterator[pa.RecordBatch]:
        """The output's batches, shard by shard in order (each awaited when streaming); after
        the last one, the job's checks, so an output is completed only for a complete job."""
        for number in numbers:
            if self.arrivals is not None:
                self.arrivals.wait(number)
            for batch in self.sink.read_shard(number, output):
                yield meta.add(batch if batch.schema == staged else batch.cast(staged))  # e.g. all-null CLASS
        self._check()

    def _publish(self, output: str, shards: list[int] | None = None) -> dict[str, Any]:
        """Publish ``output`` from every shard (or from ``shards``: the errors output's), with the
        job's metadata columns appended (not to the errors output)."""
        task: TaskType = self.prepared.model.task_type
        numbers = range(self.n_shards) if shards is None else shards
        if self.arrivals is not None:
            self.arrivals.wait(numbers[0])
        staged = self.sink.shard_schema(numbers[0], output)
        meta = self.metadata if output != ERRORS else MetadataColumns.none()
        schema = meta.schema(staged)
        sample = SampleWriter(self.owner.folder / f"sample_{output}.parquet", schema,
                              self.settings.sample_cap_bytes)
        feeders: list[Any] = [sample]
        histogram = None
        if output != ERRORS:
            histogram = self._histogram(task, output, known_range=self.arrivals is None)
            if histogram is not None:
                feeders.append(histogram)
        if output == "predictions":
            labels = self.labels.result()[0]  # computed while the first shards are scored
            if labels is not None:
                self.backtest = Backtest(task, labels, self.settings.top_k or self.settings.num_classes)
                feeders.append(self.backtest)

        def on_batch(batch: pa.RecordBatch) -> None:
            for feeder in feeders:
                feeder.add(batch)

        try:
            files = self.sink.publish(output, schema, self._batches(output, numbers, staged, meta), on_batch)
        except BaseException:
            sample.abort()
            raise
        if output != ERRORS and histogram is None:  # the score range is known only now
            histogram = self._histogram(task, output, known_range=True)
            column = score_column(task, output)
            if histogram is not None and column is not None:
                for number in numbers:
                    for batch in self.sink.read_shard(number, output, columns=[column]):
                        histogram.add(batch)
        return {"files": [asdict(f) for f in files], "rows": sum(f.rows for f in files),
                "bytes": sum(f.bytes for f in files), "file_type": self.settings.destination.file_type,
                "schema": [{"name": f.name, "type": str(f.type)} for f in schema],
                "sample": sample.close(), "histogram": histogram.to_json() if histogram else None}

    def _histogram(self, task: TaskType, output: str, known_range: bool) -> Histogram | None:
        """The output's score histogram; ``None`` while the score range is not known yet (a
        streamed output other than a probability's)."""
        column = score_column(task, output)
        if column is None:
            return None
        if task is TaskType.binary:  # probabilities: fixed edges on [0, 1]
            edges = histogram_edges(task, None, None)
            return Histogram(column, edges) if edges else None
        if not known_range:
            return None
        ranges = [i["score_range"].get(output) for i in (self.infos or self.sink.done_shards()).values()]
        ranges = [r for r in ranges if r]
        lo = min((r[0] for r in ranges), default=None)
        hi = max((r[1] for r in ranges), default=None)
        edges = histogram_edges(task, lo, hi)
        return Histogram(column, edges) if edges else None

    def _manifest(self, summary: dict[str, Any]) -> None:
        rec, model = self.owner.rec, self.prepared.model
        manifest = {
            "job_id": rec.id, "workflow": rec.workflow, "model": rec.model_ref,
            "query": model.query_text, "task_type": model.task_type.value,
            "anchor_time": self.settings.anchor_time.isoformat() if self.settings.anchor_time else None,
            "settings": self.settings.to_json(), "entities": summary["entities"],
            "errors": summary["errors"],
            "outputs": {o: {k: v[k] for k in ("files", "rows", "bytes", "file_type", "schema")}
                        for o, v in summary["outputs"].items()},
            "written_at": store.now_iso(),
        }
        (self.owner.folder / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (self.owner.folder / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        self.sink.write_manifest(manifest)


Labels = tuple[pa.Table | None, datetime | None, str | None]


def backtest_labels(prepared: Prepared, settings: JobSettings) -> Labels:
    """What happened in the anchor's target window (the backtest's labels), its end, or why
    there is no backtest."""
    if "predictions" not in settings.output_types:
        return None, None, "no predictions output"
    bq, graph = prepared.bound, prepared.graph
    window_end, reason = backtest_window(bq, settings.anchor_time, fact_time_range(bq, graph)[1])
    anchor = settings.anchor_time
    if window_end is None or anchor is None:
        return None, None, reason or "no anchor time"
    return training_table(bq, graph, [anchor]), window_end, None


def backtest_window(bq: BoundQuery, anchor: datetime | None, data_end: datetime | None,
                    ) -> tuple[datetime | None, str | None]:
    """The end of the anchor's target window when it is fully in the data, else why not."""
    if not bq.is_temporal or bq.horizon is None or anchor is None:
        return None, "a static query has no anchor time to look back on"
    try:
        end = (pd.Timestamp(anchor) + step_offset(bq.horizon)).to_pydatetime()
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        return None, f"the target window after {anchor} ends beyond the times relpredict computes"
    if data_end is None or end > data_end:
        return None, (f"the target window ends {end}, after the latest data ({data_end}): what "
                      "happened is not known yet")
    return end, None


def main(argv: list[str] | None = None) -> int:
    """``python -m relpredict.jobs.runner --home HOME JOB_ID``: run a queued job (detached)."""
    parser = argparse.ArgumentParser(prog="python -m relpredict.jobs.runner")
    parser.add_argument("--home", required=True)
    parser.add_argument("job_id")
    args = parser.parse_args(argv)
    try:
        run_job(Workspace.open(Path(args.home)), args.job_id)
    except RelpredictError as err:
        print(f"Error: {err}", file=sys.stderr)  # the runner's log file; the job records it too
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
