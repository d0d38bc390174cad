"""One process per SQLite database: a second one refuses to start instead of racing the first."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from sqlalchemy.engine import make_url

from storage.db import is_sqlite


class ProcessLock:
    """An exclusive lock file next to the SQLite database, held while the program runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise SystemExit(
                f"another huying process is already using {path.with_suffix('')}: SQLite allows "
                "one bot process per database. Stop the other one, or use PostgreSQL "
                "(HUYING_DATABASE_URL=postgresql+asyncpg://…) to run several."
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    @classmethod
    def for_database(cls, url: str) -> ProcessLock | None:
        """The lock for a SQLite file database; None for PostgreSQL (rows are locked instead)."""
        if not is_sqlite(url):
            return None
        database = make_url(url).database
        if not database or database == ":memory:":
            return None
        return cls(Path(database + ".lock"))

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
