"""API keys kept in a file, rotated without a restart.

Why: a key leaks or expires and must be replaced now, not at the next deploy.
``LEDGER_API_KEYS_FILE`` names a file of ``key:scope+scope`` entries (one a
line or comma-separated; ``#`` starts a comment). It is looked at again at most
once a second (its size, modification time and inode) and re-read when it
changed, or at once on ``SIGHUP`` (``ledger serve`` installs the handler). A
file that no longer parses, or holds no key, is not taken: the keys before it
stay in force and the error is logged (never a key) and kept in ``last_error``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import ItemsView, Iterator, Mapping
from pathlib import Path

from ledger.settings import checked_api_keys, parse_api_keys

log = logging.getLogger(__name__)


def read_key_file(path: Path) -> dict[str, frozenset[str]]:
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return checked_api_keys(parse_api_keys(",".join(line for line in lines if line)))


class KeyFile(Mapping[str, frozenset[str]]):
    """The keys in force: a mapping that follows its file."""

    def __init__(self, path: Path, *, check_every: float = 1.0) -> None:
        self.path = path
        self.check_every = check_every
        self._lock = threading.Lock()
        self._keys = read_key_file(path)  # a bad file at start-up is an error, not a guess
        self._seen = self._signature()
        self._checked = time.monotonic()
        self.last_error: str | None = None

    def _signature(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload(self) -> None:
        """Reads the file now (``SIGHUP``); keeps the old keys if it is not usable."""
        with self._lock:
            self._seen = self._signature()
            self._checked = time.monotonic()
            try:
                keys = read_key_file(self.path)
            except (OSError, ValueError) as e:
                # the message names the problem, never a key (parse errors quote entries,
                # so only the exception's class and a fixed text are logged)
                self.last_error = f"{type(e).__name__}: the keys file could not be used"
                log.error("API keys file %s not taken (%s); the previous keys stay in force",
                          self.path, type(e).__name__)
                return
            self._keys, self.last_error = keys, None
            log.info("API keys reloaded from %s: %d key(s)", self.path, len(keys))

    def _current(self) -> dict[str, frozenset[str]]:
        if time.monotonic() - self._checked >= self.check_every:
            self._checked = time.monotonic()
            if self._signature() != self._seen:
                self.reload()
        return self._keys

    def items(self) -> ItemsView[str, frozenset[str]]:
        """One consistent snapshot (a reload between a key and its scopes cannot split them)."""
        return self._current().items()

    def __getitem__(self, key: str) -> frozenset[str]:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._current()))

    def __len__(self) -> int:
        return len(self._current())
