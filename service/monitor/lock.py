"""One daemon per SQLite file: an OS lock on `<db>.lock`, released when the process ends."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from service.errors import LinkwatchError


class DaemonAlreadyRunning(LinkwatchError):
    """Another daemon holds the database (SQLite allows one daemon per file)."""

    exit_code = 2


class DaemonLock:
    """An exclusive, non-blocking `flock` on `path`; the kernel drops it if the process dies."""

    def __init__(self, path: Path, database: str) -> None:
        self.path = path
        self.database = database
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            who = f" (pid {holder})" if holder else ""
            raise DaemonAlreadyRunning(
                f"another linkwatch daemon{who} is already running on {self.database}; "
                "SQLite allows one daemon per database file (use PostgreSQL for several)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> DaemonLock:
        self.acquire()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 32, 0).decode().strip()
        return int(raw) if raw.isdigit() else None
    except OSError:
        return None


def sqlite_lock_path(db_file: Path) -> Path:
    return db_file.with_name(db_file.name + ".lock")


def lock_for_database(url: str) -> DaemonLock | None:
    """Take the one-daemon lock of a SQLite database file (None for PostgreSQL and :memory:).

    Raises DaemonAlreadyRunning when another process holds it.
    """
    from service.store.db import mask_url, normalize_url

    parsed = normalize_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in {"", ":memory:"}:
        return None
    if database.startswith("file:") or parsed.query.get("uri"):
        return None
    db_file = Path(database).expanduser()
    db_file.parent.mkdir(parents=True, exist_ok=True)
    lock = DaemonLock(sqlite_lock_path(db_file), mask_url(parsed))
    lock.acquire()
    return lock
