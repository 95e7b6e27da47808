"""One settings object, read from the environment and checked at start-up.

``LEDGER_DATABASE_URL`` picks the store; it is mapped onto the eventsourcing
library's own ``PERSISTENCE_MODULE``/``SQLITE_*``/``POSTGRES_*`` variables here
and nowhere else, so the rest of the code never knows which store it runs on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.stores import POSTGRES_FACTORY_TOPIC, SQLITE_FACTORY_TOPIC

DEFAULT_DATABASE_URL = "sqlite:///./ledger.db"
SCOPES = frozenset({"commands", "read", "audit", "finance"})
MIN_API_KEY_LENGTH = 16


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEDGER_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    api_keys: str = Field(default="", description="key1:scope+scope,key2:scope")
    api_keys_file: str | None = Field(
        default=None, description="A file of key:scope+scope entries, re-read when it changes "
        "or on SIGHUP (rotation without a restart); used instead of LEDGER_API_KEYS")
    fee_schedule_file: str | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    pool_size: int = 5
    aggregate_cache_size: int = Field(
        default=2000, ge=0, description="Aggregates each process keeps between commands, "
        "brought up to date from the store before every use; 0 turns the cache off")
    test_clock: bool = Field(
        default=False, description="LEDGER_TEST_CLOCK=1: time moves only over HTTP (never in "
        "production)")
    test_clock_start: datetime | None = Field(
        default=None, description="Where a test clock starts on an empty store (ISO 8601, UTC)")
    scheduler_interval_seconds: float = Field(default=30.0, gt=0)
    scheduler_batch_size: int = Field(default=500, gt=0)
    scheduler_firing_batch: int = Field(
        default=250, gt=0, le=1000, description="Deadlines fired per transaction (all or "
        "nothing; one refused deadline makes its batch fire one by one)")
    metrics_port: int | None = Field(
        default=None, description="Serve GET /metrics without a key on this port too (bind it "
        "where only the scraper reaches); unset: /metrics on the API, scope audit")
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object a line (request id, command, "
        "outcome, position); text: the same facts for a terminal")

    @field_validator("test_clock_start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and (v.tzinfo is None or v.utcoffset() is None):
            raise ValueError("LEDGER_TEST_CLOCK_START must name its time zone, e.g. ...Z")
        return None if v is None else v.astimezone(UTC)

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, v: str) -> str:
        scheme = urlsplit(v).scheme
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError(
                f"LEDGER_DATABASE_URL must start with sqlite:/// or postgresql://, got {v!r}"
            )
        return v

    def parsed_api_keys(self) -> dict[str, frozenset[str]]:
        return parse_api_keys(self.api_keys)


def parse_api_keys(spec: str) -> dict[str, frozenset[str]]:
    """``key1:commands+read,key2:audit`` -> {key: scopes}; refuses unknown scopes."""
    keys: dict[str, frozenset[str]] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, sep, scopes_text = item.partition(":")
        if not sep or not key or not scopes_text:
            raise ValueError(f"LEDGER_API_KEYS entry {item!r} is not key:scope+scope")
        keys[key] = frozenset(s.strip() for s in scopes_text.split("+") if s.strip())
    return checked_api_keys(keys) if keys else keys


def checked_api_keys(api_keys: Mapping[str, Iterable[str]]) -> dict[str, frozenset[str]]:
    """The one check every API key passes, from the environment or given in code."""
    if not api_keys:
        raise ValueError(
            "no API keys configured: set LEDGER_API_KEYS=key:commands+read (the API is "
            "never open)"
        )
    checked: dict[str, frozenset[str]] = {}
    for key, scopes in api_keys.items():
        if len(key) < MIN_API_KEY_LENGTH:
            raise ValueError(f"API keys must be at least {MIN_API_KEY_LENGTH} characters")
        unknown = set(scopes) - SCOPES
        if unknown:
            raise ValueError(f"unknown API key scopes {sorted(unknown)}")
        checked[key] = frozenset(scopes)
    return checked


@dataclass(frozen=True)
class Store:
    """Which backend a URL names, and the library environment for it."""

    backend: str  # "sqlite" | "postgres"
    env: dict[str, str]


DEFAULT_SQLITE_LOCK_TIMEOUT = 30


def sqlite_lock_timeout(options: str) -> int:
    """``lock_timeout=5`` from ``sqlite:///./ledger.db?lock_timeout=5``: whole seconds.

    Why a knob: SQLite has one writer. A write waits this long for another
    process's write to finish, then is refused (the API answers 503
    ``store-unavailable`` with ``Retry-After``, nothing written). 30 s by
    default; a shorter wait suits a service behind a client that retries. Any
    other option is refused rather than ignored.
    """
    from urllib.parse import parse_qs

    parsed = parse_qs(options, keep_blank_values=True)
    unknown = set(parsed) - {"lock_timeout"}
    if unknown:
        raise ValueError(f"unknown sqlite URL option(s) {sorted(unknown)}; known: lock_timeout")
    (value,) = parsed.get("lock_timeout", [str(DEFAULT_SQLITE_LOCK_TIMEOUT)])
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= 3600:
        raise ValueError(f"sqlite lock_timeout must be whole seconds, 1 to 3600, got {value!r}")
    return int(value)


def store_from_url(url: str, *, pool_size: int = 5) -> Store:
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        # sqlite:///./ledger.db (relative), sqlite:////abs/path.db, sqlite:///:memory:
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parts.path
        lock_timeout = DEFAULT_SQLITE_LOCK_TIMEOUT
        if not path.startswith("file:") and "?" in path:
            path, _, options = path.partition("?")
            lock_timeout = sqlite_lock_timeout(options)
        if not path:
            raise ValueError("sqlite URL needs a file path, e.g. sqlite:///./ledger.db")
        if path != ":memory:" and not path.startswith("file:"):
            Path(path).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        env = {
            # the library's factory, retrying table creation another process raced:
            # see ledger.stores.RetryingSQLiteFactory
            "PERSISTENCE_MODULE": SQLITE_FACTORY_TOPIC,
            "SQLITE_DBNAME": path if path == ":memory:" else
            (path if path.startswith("file:") else str(Path(path).expanduser().resolve())),
            "SQLITE_LOCK_TIMEOUT": str(lock_timeout),
            "APPLICATION_RECORDER_TOPIC": "ledger.recorders:SQLiteLedgerRecorder",
        }
        if path == ":memory:":
            env["SQLITE_DBNAME"] = "file::memory:?cache=shared"
        return Store("sqlite", env)
    if parts.scheme in ("postgresql", "postgres"):
        from urllib.parse import parse_qs

        query = parse_qs(parts.query)
        env = {
            # the library's factory, creating tables under a lock (two processes may start
            # at once on an empty schema): see ledger.stores.SchemaLockingPostgresFactory
            "PERSISTENCE_MODULE": POSTGRES_FACTORY_TOPIC,
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_POOL_SIZE": str(pool_size),
            "POSTGRES_MAX_OVERFLOW": str(pool_size * 2),
            # how long a store call waits for a connection (to open one, or for a free one
            # in the pool). While the database is down a request answers 503 within about
            # this wait: the pool then refuses at once (ledger.stores.FailFastPool, past the
            # library's 10 retries), and the API's circuit breaker answers the next ones
            "POSTGRES_CONNECT_TIMEOUT": "2",
            "POSTGRES_LOCK_TIMEOUT": "10",
            # a pooled connection is checked before use, so after the database was down the
            # first command gets a fresh connection instead of a dead one (one round trip)
            "POSTGRES_PRE_PING": "y",
            "APPLICATION_RECORDER_TOPIC": "ledger.recorders:PostgresLedgerRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return Store("postgres", env)
    raise ValueError(f"unsupported database URL {url!r}")
