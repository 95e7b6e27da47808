"""A PostgreSQL cluster of the test's own, which the test may stop and start at will.

Why: an outage test must stop the database server, and the shared server on
port 5432 serves everybody else (the rest of the suite, other work on the
machine). So the test runs its own server: ``initdb`` in a temporary
directory, trust authentication, a free TCP port on 127.0.0.1 and its unix
socket in that directory; ``pg_ctl stop -m fast`` is the outage. When the
tests run as root (``initdb`` refuses root), the server runs as the
``postgres`` user through ``runuser``, in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.reliability.servers import free_port

SERVER_OPTIONS = ("-c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
                  "-c shared_buffers=16MB -c max_connections=50")
"""fsync off: only an operating-system crash could lose a commit, and the data directory
dies with the test anyway. A clean ``stop -m fast`` still writes every commit out."""


def postgres_bin() -> Path | None:
    """The newest installed server's bin directory (Debian's layout, or on the PATH)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit()
                   else 0)
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PrivateCluster:
    bin: Path
    root: Path
    port: int
    run_as: list[str]

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg_ctl(self, *args: str) -> None:
        subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.root / "data"),
                        *args], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)

    def start(self) -> None:
        self._pg_ctl("-l", str(self.root / "server.log"), "-w", "-t", "20", "-o",
                     f"-p {self.port} -k {self.root} {SERVER_OPTIONS}", "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-w", "-t", "20", "-m", mode, "stop")

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join((self.root / "server.log").read_text(errors="replace")
                             .splitlines()[-lines:])
        return ""


def unavailable_reason() -> str | None:
    """Why no private cluster can be made here, or None."""
    if postgres_bin() is None:
        return "no PostgreSQL server binaries (initdb, pg_ctl) installed"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root, and no postgres user to run initdb as"
        if shutil.which("runuser") is None:
            return "running as root, and no runuser to run initdb as postgres"
    return None


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    """A started cluster (superuser ``postgres``, trust), stopped and removed afterwards."""
    bin_dir = postgres_bin()
    assert bin_dir is not None, unavailable_reason()
    root = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    cluster = PrivateCluster(bin_dir, root, free_port(), run_as)
    try:
        subprocess.run([*run_as, str(bin_dir / "initdb"), "-D", str(root / "data"), "-A",
                        "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=60)
        cluster.start()
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
