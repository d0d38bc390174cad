"""Engine and session setup for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "huying_read_only"  # execution option: this transaction only reads


def is_sqlite(url: str) -> bool:
    """Whether the URL names a SQLite database."""
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite with WAL, a busy timeout and write-first transactions."""
    if not is_sqlite(url):
        return _pinged(create_async_engine(url, **kwargs))
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over BEGIN from the driver so that every transaction can start IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that reads and then writes can fail with SQLITE_BUSY when
        # another writer upgraded first; taking the write lock up front makes writers queue.
        # A unit of work that only reads says so, and reads beside the writer instead.
        read_only = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _pinged(engine: AsyncEngine) -> AsyncEngine:
    """Test each pooled PostgreSQL connection before it is handed out; a dead one (the server
    restarted, a proxy dropped it) empties the pool and a fresh connection is used instead.

    What `pool_pre_ping=True` does, in one round trip instead of three: SQLAlchemy's asyncpg
    ping wraps its `;` in BEGIN and ROLLBACK (for PgBouncer's transaction mode, which asyncpg's
    prepared statements do not work with anyway), and a unit of work checks out a connection
    at least once per update. A connection just opened is not pinged, as with pre-ping.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False):
            return
        try:
            dbapi_connection.run_async(lambda connection: connection.fetchrow(";"))
        except Exception as error:  # not cancellation: that is a BaseException
            raise exc.InvalidatePoolError(f"ping failed: {error!r}") from error

    return engine


_FRESH = "huying_fresh"


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def empty_postgres_schema(url: str) -> None:
    """Drop everything in a PostgreSQL database's public schema.

    For the tests and benchmarks, which start each run from nothing; the bot never calls it.
    """
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
