"""A throwaway PostgreSQL server for the tests and bench/ (Debian's postgresql package; `make test` installs it).

The ``postgres`` fixture (tests/conftest.py) starts one per test session; tests that use it carry the
``postgres`` marker.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

from tests.helpers.ports import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or (
        [shutil.which(name)] if shutil.which(name) else []
    )
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed; `make test` installs the postgresql package")
    return found[-1]


def _as_postgres(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI runs as root, a developer usually does not
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


class PostgresServer:
    """``fsync=False`` (the tests): commits do not wait for the disk. Benches of the real thing pass
    ``fsync=True`` (PostgreSQL's default, with ``synchronous_commit=on``): each commit waits for its WAL flush.
    ``options``: more ``-c name=value`` server settings (bench/pg_profile.py loads pg_stat_statements)."""

    def __init__(self, fsync: bool = False, options: str = "") -> None:
        self.dir = tempfile.mkdtemp(prefix="pc-pg-")
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        data = os.path.join(self.dir, "data")
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(
            _as_postgres([_bin("initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_postgres(
                [
                    _bin("pg_ctl"),
                    "-D",
                    data,
                    "-w",
                    "-l",
                    os.path.join(self.dir, "log"),
                    "-o",
                    f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync={'on' if fsync else 'off'}"
                    f" -c max_connections=200 {options}".rstrip(),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        self.data = data
        self._n = 0

    def pids(self) -> list[int]:
        """The server's processes: the postmaster and every backend and helper it started."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            main = int(f.readline())
        found = [main]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue  # ended meanwhile
                if int(fields[1]) == main:  # the parent's pid
                    found.append(int(entry))
        return found

    def cpu_seconds(self) -> float:
        """CPU (user + system) used so far by the server's processes still running, from /proc/<pid>/stat
        (backends that ended are missed: the benches keep their connections open while measuring)."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
        return total / ticks

    def new_database(self) -> str:
        import psycopg

        self._n += 1
        name = f"test_{self._n}"
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run(_as_postgres([_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop"]), capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
