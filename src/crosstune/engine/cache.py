"""Content-addressed result cache: model fingerprint + method + prompt -> stored answer.

SQLite (stdlib, atomic commits, safe to share between processes) with JSON values: no pickle.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crosstune.errors import CrosstuneError
from crosstune.paths import home
from crosstune.progress import Advance

log = logging.getLogger(__name__)


def cache_key(fingerprint: str, method: str, payload: Any) -> str:
    """sha256 of everything that determines an answer."""
    blob = json.dumps([fingerprint, method, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """A persistent key -> JSON value store."""

    def __init__(self, path: Path):
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = self._open()
        except sqlite3.DatabaseError as err:
            if not path.exists() or not os.access(path.parent, os.W_OK) or "locked" in str(err):
                raise self._unusable(err) from err
            aside = path.with_name(f"{path.name}.damaged-{int(time.time())}")
            path.rename(aside)
            for extra in ("-wal", "-shm"):
                path.with_name(path.name + extra).unlink(missing_ok=True)
            log.warning("result cache %s was damaged (%s); moved it to %s and started a new one",
                        path, err, aside)
            try:
                self._db = self._open()
            except sqlite3.DatabaseError as again:
                raise self._unusable(again) from again
        except OSError as err:
            raise self._unusable(err) from err

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("integrity check failed")
            db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT)")
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _unusable(self, err: Exception) -> CrosstuneError:
        return CrosstuneError(f"cannot use the result cache {self.path} ({err}); make its folder "
                              "writable or set CROSSTUNE_HOME to a writable folder")

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(
                f"SELECT key, value FROM results WHERE key IN ({marks})", chunk
            )
            found.update({k: json.loads(v) for k, v in rows})
        return found

    def put_many(self, items: dict[str, Any]) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO results (key, value) VALUES (?, ?)",
                [(k, json.dumps(v)) for k, v in items.items()],
            )

    def close(self) -> None:
        self._db.close()


def cached(cache: ResultCache | None, keys: list[str],
           compute: Callable[[list[int]], Iterator[dict[int, Any]]],
           progress: Advance | None = None,
           store: Callable[[Any], Any] = lambda v: v, load: Callable[[Any], Any] = lambda v: v,
           ) -> list[Any]:
    """One caching wrapper for every engine path (lm-eval's CachingLM idea): look every key up,
    compute only the missing indices, and store each batch as soon as it is done, so an
    interrupted run resumes where it stopped. `compute(todo)` yields {index: result} per batch."""
    known = cache.get_many(keys) if cache else {}
    results: dict[int, Any] = {i: load(known[k]) for i, k in enumerate(keys) if k in known}
    if progress and results:
        progress(len(results))
    todo = [i for i in range(len(keys)) if i not in results]
    for batch in compute(todo) if todo else ():
        if cache:
            cache.put_many({keys[i]: store(v) for i, v in batch.items()})
        results.update(batch)
        if progress:
            progress(len(batch))
    return [results[i] for i in range(len(keys))]


def result_cache() -> ResultCache:
    """The shared result cache under crosstune's home folder, checked before any model is loaded."""
    return ResultCache(home() / "results.sqlite")
