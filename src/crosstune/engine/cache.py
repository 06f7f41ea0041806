"""Content-addressed result cache: model fingerprint + method + prompt -> stored answer.

SQLite (stdlib, atomic commits, safe to share between processes) with JSON values: no pickle.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any


def cache_key(fingerprint: str, method: str, payload: Any) -> str:
    """sha256 of everything that determines an answer."""
    blob = json.dumps([fingerprint, method, payload], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


class ResultCache:
    """A persistent key -> JSON value store."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS results (key TEXT PRIMARY KEY, value TEXT)")
        self._db.commit()

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
