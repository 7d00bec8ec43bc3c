"""Leader election: of several Control Planes on one store, exactly one runs the deployment controllers.

The lock is a PostgreSQL session advisory lock held on a dedicated connection (PostgreSQL frees it
the moment that connection's process dies, and TCP keepalives bound how long a vanished host keeps
it), an exclusive file lock for SQLite (one host by construction), or a Kubernetes Lease
(`kvmesh.engines.kubernetes.lease`). `ElectedControllers` tries to take the lock every
`retry_interval_s`; the winner starts its controllers, checks every interval that it still holds the
lock, and stops them the moment it does not — so two controllers never run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from kvmesh.background import BackgroundTask
from kvmesh.store.engine import normalize_database_url

log = logging.getLogger("kvmesh.engines.leader")

# Two-key advisory lock: a fixed class id, and the hash of the schema so test schemas don't collide.
LOCK_CLASS = 0x6B766D  # "kvm"
TRY_LOCK = text("SELECT pg_try_advisory_lock(:cls, hashtext(current_schema()))")
UNLOCK = text("SELECT pg_advisory_unlock(:cls, hashtext(current_schema()))")
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3}


def default_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLock(Protocol):
    identity: str

    async def acquire(self) -> bool:
        """Take the lock if it is free (or already ours); never waits for it."""
        ...

    async def held(self) -> bool:
        """Whether we still hold it (False once the connection, file or lease is lost)."""
        ...

    async def release(self) -> None: ...


class Member(Protocol):
    """A controller that only the leader runs."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def wake(self) -> None: ...


class PostgresAdvisoryLock:
    def __init__(self, database_url: str, identity: str | None = None) -> None:
        self.identity = identity or default_identity()
        self._url = normalize_database_url(database_url)
        self._engine: Engine | None = None
        self._conn: Connection | None = None

    def _engine_for_lock(self) -> Engine:
        if self._engine is None:
            args: dict[str, Any] = {
                **KEEPALIVES,
                "connect_timeout": 5,
                "application_name": f"kvmesh-controller {self.identity}"[:63],
            }
            engine = create_engine(self._url, poolclass=NullPool, connect_args=args)
            self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._engine

    def _acquire(self) -> bool:
        if self._conn is not None:
            return self._held()
        conn = self._engine_for_lock().connect()
        try:
            # The server drops a vanished leader's session (and so its lock) after ~11 s of silence.
            for name, value in (("tcp_keepalives_idle", 5), ("tcp_keepalives_interval", 2)):
                conn.exec_driver_sql(f"SET {name} = {value}")
            conn.exec_driver_sql("SET tcp_keepalives_count = 3")
            conn.exec_driver_sql("SET statement_timeout = 5000")
            won = bool(conn.execute(TRY_LOCK, {"cls": LOCK_CLASS}).scalar())
        except Exception:
            conn.close()
            raise
        if won:
            self._conn = conn
        else:
            conn.close()
        return won

    def _held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1")).scalar()
            return True
        except Exception as exc:
            log.warning("lost the controller lock connection: %s", exc)
            self._drop()
            return False

    def _drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None

    def _release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.execute(UNLOCK, {"cls": LOCK_CLASS})
            self._drop()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    async def acquire(self) -> bool:
        return await asyncio.to_thread(self._acquire)

    async def held(self) -> bool:
        return await asyncio.to_thread(self._held)

    async def release(self) -> None:
        await asyncio.to_thread(self._release)


class FileLock:
    """An exclusive flock on a file next to the SQLite database (released by the kernel on exit)."""

    def __init__(self, path: Path, identity: str | None = None) -> None:
        self.identity = identity or default_identity()
        self._path = path
        self._handle: IO[str] | None = None

    async def acquire(self) -> bool:
        if self._handle is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(self.identity)
        handle.flush()
        self._handle = handle
        return True

    async def held(self) -> bool:
        return self._handle is not None

    async def release(self) -> None:
        if self._handle is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def lock_for_store(database_url: str, data_dir: Path) -> LeaderLock:
    """The advisory lock for PostgreSQL; a file lock in the data dir for SQLite."""
    if normalize_database_url(database_url).startswith("postgresql"):
        return PostgresAdvisoryLock(database_url)
    return FileLock(data_dir / "controller.lock")


class ElectedControllers:
    """Runs `members` only while this process holds `lock`; `role` says which side it is on."""

    def __init__(
        self,
        lock: LeaderLock,
        make_members: Callable[[], Sequence[Member]],
        *,
        retry_interval_s: float = 1.0,
    ) -> None:
        self._lock = lock
        self._make_members = make_members
        self._members: list[Member] = []
        self.retry_interval_s = retry_interval_s
        self._loop = BackgroundTask(self._run, "kvmesh-leader-election")
        self.terms = 0

    @property
    def role(self) -> str:
        return "leader" if self._members else "standby"

    @property
    def members(self) -> list[Member]:
        return list(self._members)

    async def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        for member in self._members:
            member.wake()

    async def stop(self) -> None:
        await self._loop.stop()
        await self._step_down()
        await self._lock.release()

    async def _run(self) -> None:
        while True:
            try:
                if self._members:
                    if not await self._lock.held():
                        log.warning("controller lock lost; stopping controllers (%s)", self._lock.identity)
                        await self._step_down()
                elif await self._lock.acquire():
                    await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("leader election: %s", exc)
                await self._step_down()
            await asyncio.sleep(self.retry_interval_s)

    async def _lead(self) -> None:
        self.terms += 1
        log.info("this Control Plane (%s) now runs the deployment controllers", self._lock.identity)
        members = list(self._make_members())
        for member in members:
            await member.start()
            self._members.append(member)

    async def _step_down(self) -> None:
        members, self._members = self._members, []
        for member in reversed(members):
            with contextlib.suppress(Exception):
                await member.stop()


@contextlib.contextmanager
def startup_lock(database_url: str) -> Iterator[None]:
    """Serialise store preparation (migrations, catalog seeding) among Control Planes starting together.

    A blocking PostgreSQL advisory lock for the duration; nothing for SQLite (one host, one file).
    """
    url = normalize_database_url(database_url)
    if not url.startswith("postgresql"):
        yield
        return
    engine = create_engine(url, poolclass=NullPool).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(
                text("SELECT pg_advisory_lock(:cls, hashtext('startup:' || current_schema()))"),
                {"cls": LOCK_CLASS},
            )
            try:
                yield
            finally:
                conn.execute(
                    text("SELECT pg_advisory_unlock(:cls, hashtext('startup:' || current_schema()))"),
                    {"cls": LOCK_CLASS},
                )
    finally:
        engine.dispose()
