"""Start and stop a throwaway PostgreSQL server for tests and local runs of the Dagster instance.

PostgreSQL refuses to run as root, and the machines that run our tests are often root, so the
server runs as the `postgres` system user (or `nobody`) from a data directory under the system temp
dir that this script creates and chowns — a pytest tmp_path sits under a 0700 root directory the
server could not enter. It listens on 127.0.0.1 only, on a free port, with trust authentication.

    python scripts/postgres.py start [--dir DIR] [--db NAME]   # prints DAGSTER_POSTGRES_* exports
    python scripts/postgres.py stop --dir DIR
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "codelupe"
HOST = "127.0.0.1"


class PostgresUnavailable(RuntimeError):
    """The server binaries are missing or the server did not start; the message says why."""


@dataclass(frozen=True)
class PostgresServer:
    base_dir: Path
    port: int
    dbname: str
    user: str = SUPERUSER
    host: str = HOST

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"

    def dagster_env(self) -> dict[str, str]:
        """The DAGSTER_POSTGRES_* variables docker/dagster.yaml reads."""
        return {
            "DAGSTER_POSTGRES_HOST": self.host,
            "DAGSTER_POSTGRES_PORT": str(self.port),
            "DAGSTER_POSTGRES_USER": self.user,
            "DAGSTER_POSTGRES_PASSWORD": "",
            "DAGSTER_POSTGRES_DB": self.dbname,
        }


def find_bindir() -> Path:
    """Directory of initdb/pg_ctl: PATH first, else the newest Debian /usr/lib/postgresql/N/bin."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name.split(".")[0])
    )
    for candidate in reversed(candidates):
        if (Path(candidate) / "initdb").is_file():
            return Path(candidate)
    raise PostgresUnavailable("PostgreSQL server binaries not found (apt-get install postgresql)")


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as when we are root; None when we are not."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise PostgresUnavailable("running as root and neither a 'postgres' nor a 'nobody' user exists")


def _run_as_server_user(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    account = _server_user()
    if account is not None:
        kwargs.update(user=account.pw_uid, group=account.pw_gid, extra_groups=[])
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _check(result: subprocess.CompletedProcess, what: str, log: Path | None = None) -> None:
    if result.returncode == 0:
        return
    detail = (result.stderr or result.stdout).strip()
    if log is not None and log.exists():
        detail += "\n" + log.read_text(errors="replace")[-2000:]
    raise PostgresUnavailable(f"{what} failed (exit {result.returncode}): {detail}")


def start(base_dir: Path | None = None, dbname: str = "dagster", attempts: int = 3) -> PostgresServer:
    """initdb into a fresh directory, start the server on a free port and create `dbname`."""
    bindir = find_bindir()
    base = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="codelupe-pg-"))
    base.mkdir(parents=True, exist_ok=True)
    account = _server_user()
    if account is not None:
        os.chown(base, account.pw_uid, account.pw_gid)
    data = base / "data"
    result = _run_as_server_user(
        [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8", "--no-sync"],
        env={**os.environ, "LC_ALL": "C.UTF-8"},
    )
    _check(result, "initdb")
    log = base / "server.log"
    for attempt in range(attempts):
        port = _free_port()
        options = (
            f"-p {port} -k {base} -c listen_addresses={HOST} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB -c max_connections=60"
        )
        result = _run_as_server_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        if result.returncode == 0:
            break
        # Another process may have taken the port between our probe and the server's bind.
        if attempt == attempts - 1:
            _check(result, "pg_ctl start", log)
    server = PostgresServer(base_dir=base, port=port, dbname=dbname)
    result = subprocess.run(
        [str(bindir / "createdb"), "-h", HOST, "-p", str(port), "-U", SUPERUSER, dbname],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        stop(server)
        _check(result, f"createdb {dbname}")
    return server


def stop(server: PostgresServer | Path, remove: bool = True) -> None:
    """Stop the server (fast shutdown) and, by default, delete its directory."""
    base = server.base_dir if isinstance(server, PostgresServer) else Path(server)
    data = base / "data"
    if (data / "postmaster.pid").exists():
        result = _run_as_server_user(
            [str(find_bindir() / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]
        )
        _check(result, "pg_ctl stop")
    if remove:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def running_postgres(dbname: str = "dagster") -> Iterator[PostgresServer]:
    server = start(dbname=dbname)
    try:
        yield server
    finally:
        stop(server)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    start_cmd = sub.add_parser("start", help="start a server and print its DAGSTER_POSTGRES_* exports")
    start_cmd.add_argument("--dir", type=Path, help="directory for the cluster (default: a new temp dir)")
    start_cmd.add_argument("--db", default="dagster")
    stop_cmd = sub.add_parser("stop", help="stop the server of --dir and delete the directory")
    stop_cmd.add_argument("--dir", type=Path, required=True)
    stop_cmd.add_argument("--keep", action="store_true", help="keep the directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            server = start(args.dir, args.db)
            print(f"# PostgreSQL at {server.url}")
            print(f"# stop: python scripts/postgres.py stop --dir {server.base_dir}")
            for name, value in server.dagster_env().items():
                print(f"export {name}={value}")
        else:
            stop(args.dir, remove=not args.keep)
    except PostgresUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
