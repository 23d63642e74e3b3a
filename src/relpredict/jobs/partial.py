"""Partial success: an entity whose prediction fails goes to the job's errors output, not down
with its whole shard.

A shard is scored in bulk (one model call per output, as fast as ever). Only when that call
raises does :func:`score_isolating` split the shard in halves and score each, again and again,
until the entities that fail on their own are found: each becomes a row ``ENTITY, ERROR`` of the
``errors`` output and the others get their predictions. With ``k`` bad entities among ``n`` this
costs about ``2 k log2(n)`` extra model calls, and it stops as soon as the shard has more bad
entities than the job's limit (``--max-errors``, default 0.1 % of the job's entities, rounded
down): the job then fails as it would have without isolation. A limit of 0 tries no isolation,
and neither does a failure that is everywhere: when three entities spread over the shard fail
on their own as well, the model or the data is broken as a whole and the job fails at once
with the bulk call's error (3 extra calls, not thousands).

Errors that are not one entity's (our own :class:`~relpredict.errors.RelpredictError`: a model
returning the wrong columns, a destination refusing a write) are raised at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pyarrow as pa

from relpredict.errors import RelpredictError

__all__ = ["ERRORS", "TooManyErrors", "error_limit", "errors_schema", "errors_table", "score_isolating"]

ERRORS = "errors"  # the name of the errors output (ENTITY, ERROR), staged and published like others
DEFAULT_ERROR_FRACTION = 0.001
MAX_MESSAGE = 500  # characters of an error message kept per entity

Tables = dict[str, pa.Table]


class TooManyErrors(RelpredictError):
    """More entities failed than the job allows: the job fails (resume reruns the failing shards)."""


def error_limit(max_errors: int | None, entities: int) -> int:
    """The most entities a job may lose to errors: ``max_errors``, else 0.1 % of ``entities``."""
    if max_errors is not None:
        return max_errors
    return int(entities * DEFAULT_ERROR_FRACTION)


def errors_schema(key_type: pa.DataType) -> pa.Schema:
    return pa.schema([("ENTITY", key_type), ("ERROR", pa.string())])


def errors_table(errors: list[tuple[Any, str]], key_type: pa.DataType) -> pa.Table:
    """The ``ENTITY, ERROR`` rows of a shard (possibly none)."""
    return pa.table({"ENTITY": pa.array([e for e, _ in errors], key_type),
                     "ERROR": pa.array([m for _, m in errors], pa.string())},
                    schema=errors_schema(key_type))


def score_isolating(score: Callable[[pa.Array], Tables], entities: pa.Array, limit: int,
                    describe: Callable[[BaseException], str], what: str = "the shard",
                    ) -> tuple[Tables, list[tuple[Any, str]]]:
    """``score(entities)``, or when it fails, the tables of the entities that score alone and
    the ``(entity, message)`` of those that do not (see the module docstring)."""
    try:
        return score(entities), []
    except RelpredictError:
        raise
    except Exception as err:
        if limit <= 0 or _everywhere(score, entities):
            raise err from None
    errors: list[tuple[Any, str]] = []
    parts = _bisect(score, entities, limit, describe, errors, what)
    return _concat(parts, score, entities), errors


PROBES = 3  # single entities scored after a failed bulk call, spread over the shard


def _everywhere(score: Callable[[pa.Array], Tables], entities: pa.Array) -> bool:
    """Whether a few entities spread over the shard each fail alone too: then the failure is the
    model's or the data's as a whole, not one entity's, and isolating would only cost calls."""
    if len(entities) < 4 * PROBES:
        return False
    for k in range(1, PROBES + 1):
        try:
            score(entities.slice(k * len(entities) // (PROBES + 1), 1))
            return False
        except RelpredictError:
            raise
        except Exception:
            continue
    return True


def _bisect(score: Callable[[pa.Array], Tables], entities: pa.Array, limit: int,
            describe: Callable[[BaseException], str], errors: list[tuple[Any, str]], what: str,
            ) -> list[Tables]:
    """Score both halves of ``entities`` (known to fail together), isolating what fails alone."""
    out: list[Tables] = []
    pending = [entities]
    while pending:  # depth first, left half first: the output keeps the entities' order
        chunk = pending.pop()
        if len(chunk) > 1 and chunk is not entities:
            try:
                out.append(score(chunk))
                continue
            except RelpredictError:
                raise
            except Exception:
                pass
        if len(chunk) == 1:
            _record(score, chunk, errors, limit, describe, what, out)
            continue
        mid = len(chunk) // 2
        pending += [chunk.slice(mid), chunk.slice(0, mid)]
    return out


def _record(score: Callable[[pa.Array], Tables], chunk: pa.Array, errors: list[tuple[Any, str]],
            limit: int, describe: Callable[[BaseException], str], what: str, out: list[Tables]) -> None:
    try:
        out.append(score(chunk))  # the whole shard failed: this entity may still score alone
        return
    except RelpredictError:
        raise
    except Exception as err:
        errors.append((chunk[0].as_py(), describe(err)[:MAX_MESSAGE]))
    if len(errors) > limit:
        first = "; ".join(f"entity {e!r}: {m}" for e, m in errors[:3])
        raise TooManyErrors(f"More than {limit} entities of {what} failed to score ({first}); the "
                            "job allows at most --max-errors failing entities. Fix the cause (the "
                            "data of those entities, or the model), or allow more with --max-errors, "
                            "then run the job again.")


def _concat(parts: list[Tables], score: Callable[[pa.Array], Tables], entities: pa.Array) -> Tables:
    if parts:
        return {name: pa.concat_tables([p[name] for p in parts]) for name in parts[0]}
    try:  # every entity failed (and the limit allows it): empty outputs of the right columns
        return score(entities.slice(0, 0))
    except Exception as err:
        raise TooManyErrors(f"Every entity of a shard of {len(entities)} failed to score, and the "
                            f"model cannot score an empty batch either ({type(err).__name__}: {err}). "
                            "Fix the cause, then run the job again.") from None
