"""Local, disposable state in one SQLite file: everything here is a cache or a hint.

- `stat`: (path, inode, size, mtime_ns) -> oid, so unchanged files are never re-hashed.
- `parsed`: (path, inode, size, mtime_ns) -> parsed JSON of a small text file
  (registry files, config), so a no-op `status` never imports the YAML parser.
- `hydrated`: path -> the oid gitfiler last placed there or added from there;
  a file whose content still has that oid may be replaced (invariant 3).
- `remote_has`: oids a remote was seen to hold. A hint for `status` only;
  `push` always asks the remote.
- `derived`: name -> a fact worked out from several files (a JSON value), with
  their (inode, size, mtime_ns) then; trusted while all of them are unchanged
  and none was racy (`model status`: git's index lists what models.yaml records).

Deleting the file loses nothing but time.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS stat (path TEXT PRIMARY KEY, ino INTEGER, size INTEGER, mtime_ns INTEGER, checked_ns INTEGER, oid TEXT);
CREATE TABLE IF NOT EXISTS parsed (path TEXT PRIMARY KEY, ino INTEGER, size INTEGER, mtime_ns INTEGER, checked_ns INTEGER, doc TEXT);
CREATE TABLE IF NOT EXISTS hydrated (path TEXT PRIMARY KEY, oid TEXT);
CREATE TABLE IF NOT EXISTS dirs (path TEXT PRIMARY KEY, sig TEXT, newest_ns INTEGER, checked_ns INTEGER, oid TEXT, size INTEGER, files INTEGER);
CREATE TABLE IF NOT EXISTS remote_has (remote TEXT, oid TEXT, PRIMARY KEY (remote, oid)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS derived (name TEXT PRIMARY KEY, keys TEXT, checked_ns INTEGER, value TEXT);
"""

# A file modified within this window of our last look could change again with the
# same mtime (coarse timestamps); such "racily clean" entries are not trusted.
RACY_NS = 20_000_000

StatKey = tuple[int, int, int]  # (ino, size, mtime_ns)


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class State:
    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._depth = 0

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many writes into one transaction (one fsync instead of one per artifact)."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._db is not None and self._db.in_transaction:
                self._db.commit()

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self.db.executemany(sql, rows)
        if self._depth == 0:
            self.db.commit()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- stat cache ------------------------------------------------------------

    def _select_in(self, sql: str, key_values: list[str], *params: str) -> list[tuple[Any, ...]]:
        """Run `sql` (ending in `IN (%s)`) over `key_values` in chunks SQLite accepts."""
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(key_values), 500):
            chunk = key_values[i : i + 500]
            rows += self.db.execute(sql % ",".join("?" * len(chunk)), (*params, *chunk)).fetchall()
        return rows

    def stat_lookup(self, paths: Iterable[str]) -> dict[str, tuple[StatKey, int, str]]:
        rows = self._select_in("SELECT path, ino, size, mtime_ns, checked_ns, oid FROM stat WHERE path IN (%s)", list(paths))
        return {r[0]: ((r[1], r[2], r[3]), r[4], r[5]) for r in rows}

    def stat_under(self, prefix: str) -> dict[str, tuple[StatKey, int, str]]:
        """Every stat entry below directory `prefix` (repo-relative, no trailing slash)."""
        lo, hi = prefix + "/", prefix + "0"  # '0' sorts right after '/'
        rows = self.db.execute(
            "SELECT path, ino, size, mtime_ns, checked_ns, oid FROM stat WHERE path >= ? AND path < ?", (lo, hi)
        )
        return {r[0]: ((r[1], r[2], r[3]), r[4], r[5]) for r in rows}

    @staticmethod
    def trusted(entry: tuple[StatKey, int, str] | None, key: StatKey) -> str | None:
        if entry is None:
            return None
        cached_key, checked_ns, oid = entry
        if cached_key != key or key[2] >= checked_ns - RACY_NS:
            return None
        return oid

    def stat_store(self, rows: Iterable[tuple[str, StatKey, str]]) -> None:
        now = time.time_ns()
        self._write("INSERT OR REPLACE INTO stat VALUES (?,?,?,?,?,?)", [(p, k[0], k[1], k[2], now, oid) for p, k, oid in rows])

    # -- tracked directories ------------------------------------------------------

    def dir_get(self, path: str, sig: str, newest_ns: int) -> tuple[str, int, int] | None:
        """(manifest oid, size, files) if the directory's stat signature is as recorded and not racy."""
        row = self.db.execute("SELECT sig, checked_ns, oid, size, files FROM dirs WHERE path = ?", (path,)).fetchone()
        if row is None or row[0] != sig or newest_ns >= row[1] - RACY_NS:
            return None
        return row[2], row[3], row[4]

    def dir_store(self, path: str, sig: str, newest_ns: int, oid: str, size: int, files: int) -> None:
        self._write("INSERT OR REPLACE INTO dirs VALUES (?,?,?,?,?,?,?)", [(path, sig, newest_ns, time.time_ns(), oid, size, files)])

    # -- parsed small files ------------------------------------------------------

    def parsed_get(self, path: str, key: StatKey) -> Any | None:
        row = self.db.execute("SELECT ino, size, mtime_ns, checked_ns, doc FROM parsed WHERE path = ?", (path,)).fetchone()
        if row is None or (row[0], row[1], row[2]) != key or key[2] >= row[3] - RACY_NS:
            return None
        return json.loads(row[4])

    def parsed_many(self) -> dict[str, tuple[StatKey, int, str]]:
        rows = self.db.execute("SELECT path, ino, size, mtime_ns, checked_ns, doc FROM parsed")
        return {r[0]: ((r[1], r[2], r[3]), r[4], r[5]) for r in rows}

    def parsed_store(self, rows: Iterable[tuple[str, StatKey, Any]]) -> None:
        now = time.time_ns()
        self._write("INSERT OR REPLACE INTO parsed VALUES (?,?,?,?,?,?)", [(p, k[0], k[1], k[2], now, json.dumps(doc, sort_keys=True)) for p, k, doc in rows])

    # -- facts derived from several files ---------------------------------------------

    def derived_get(self, name: str, keys: list[StatKey]) -> Any | None:
        """The value stored under `name` if it was worked out from files whose stat keys were
        `keys`, in that order, and none of them was modified within RACY_NS of that look."""
        row = self.db.execute("SELECT keys, checked_ns, value FROM derived WHERE name = ?", (name,)).fetchone()
        if row is None or json.loads(row[0]) != [list(k) for k in keys] or any(k[2] >= row[1] - RACY_NS for k in keys):
            return None
        return json.loads(row[2])

    def derived_store(self, name: str, keys: list[StatKey], value: Any, looked_ns: int) -> None:
        """Remember `value`, worked out from files with stat keys `keys` as they were at
        `looked_ns` (`time.time_ns()` taken before the first of them was read)."""
        self._write("INSERT OR REPLACE INTO derived VALUES (?,?,?,?)", [(name, json.dumps([list(k) for k in keys]), looked_ns, json.dumps(value))])

    # -- hydration record ----------------------------------------------------------

    def hydrated_get(self, path: str) -> str | None:
        row = self.db.execute("SELECT oid FROM hydrated WHERE path = ?", (path,)).fetchone()
        return row[0] if row else None

    def hydrated_under(self, prefix: str) -> dict[str, str]:
        rows = self.db.execute("SELECT path, oid FROM hydrated WHERE path >= ? AND path < ?", (prefix + "/", prefix + "0"))
        return dict(rows.fetchall())

    def hydrated_set(self, rows: Iterable[tuple[str, str]]) -> None:
        self._write("INSERT OR REPLACE INTO hydrated VALUES (?,?)", list(rows))

    def hydrated_forget(self, paths: Iterable[str]) -> None:
        self._write("DELETE FROM hydrated WHERE path = ?", [(p,) for p in paths])

    # -- remote hints --------------------------------------------------------------

    def remote_has_many(self, remote: str, oids: Iterable[str]) -> set[str]:
        rows = self._select_in("SELECT oid FROM remote_has WHERE remote = ? AND oid IN (%s)", list(oids), remote)
        return {r[0] for r in rows}

    def remote_mark(self, remote: str, oids: Iterable[str], present: bool = True) -> None:
        rows = [(remote, o) for o in oids]
        if present:
            self._write("INSERT OR IGNORE INTO remote_has VALUES (?,?)", rows)
        else:
            self._write("DELETE FROM remote_has WHERE remote = ? AND oid = ?", rows)
