"""A throwaway PostgreSQL cluster that the suite may stop, crash and restart.

Never the machine's shared server: this one lives in a temporary folder, listens
on a free loopback port, and is removed at the end. It uses the binaries of the
`pgserver` wheel (already a dependency, so it works on a fresh clone) and runs
as an unprivileged user when the suite runs as root, as PostgreSQL requires.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from tests.support.processes import free_port

SUPERUSER = "postgres"


def _bin_dir() -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def _run_as() -> str | None:
    """The system user to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    import stat

    # The embedded default makes the same change; without it the user cannot run the binaries.
    ensure_folder_permissions(_bin_dir(), stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(_bin_dir().parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    return "pgserver"


class Cluster:
    """initdb, start, stop (fast or immediate), restart; one superuser with trust auth."""

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.root.chmod(0o755)
        self.pgdata = self.root / "data"
        self.port = free_port()
        self.user = _run_as()
        self.settings = {"max_connections": "300", "unix_socket_directories": "",
                         "listen_addresses": "127.0.0.1", **(settings or {})}
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._ctl("initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8")
        self.start()

    def url(self, dbname: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port or self.port}/{dbname}"

    def _ctl(self, program: str, *args: str) -> None:
        subprocess.run([str(_bin_dir() / program), *args], check=True, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root, timeout=120)

    def start(self) -> None:
        options = " ".join(f"-c {k}={v!r}" if v == "" else f"-c {k}={v}" for k, v in self.settings.items())
        self._ctl("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.root / "server.log"),
                  "-o", f"-p {self.port} {options}", "start")

    def stop(self, mode: str = "fast") -> None:
        """mode "immediate" is a crash: no checkpoint, recovery at the next start."""
        self._ctl("pg_ctl", "-D", str(self.pgdata), "-w", "-m", mode, "stop")

    def execute(self, sql: str, dbname: str = "postgres", params=None) -> list:
        with psycopg.connect(self.url(dbname), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []

    def create_database(self, name: str, template: str | None = None) -> str:
        clause = f" TEMPLATE {template}" if template else ""
        self.execute(f"CREATE DATABASE {name}{clause}")
        return self.url(name)

    def terminate_backends(self, dbname: str) -> int:
        """Drop every connection to `dbname`, as a failover or an operator would."""
        rows = self.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            params=[dbname],
        )
        return len(rows)

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class Bouncer:
    """PgBouncer (Debian's package) in transaction mode in front of one database."""

    BINARY = "pgbouncer"

    @classmethod
    def available(cls) -> bool:
        return shutil.which(cls.BINARY) is not None or Path("/usr/sbin/pgbouncer").exists()

    def __init__(self, cluster: Cluster, dbname: str, pool_size: int) -> None:
        self.port = free_port()
        self.dbname = dbname
        self.pool_size = pool_size
        folder = cluster.root / "bouncer"
        folder.mkdir()
        config = folder / "pgbouncer.ini"
        config.write_text(
            f"[databases]\n{dbname} = host=127.0.0.1 port={cluster.port} dbname={dbname} user={SUPERUSER}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            "auth_type = any\npool_mode = transaction\n"
            f"default_pool_size = {pool_size}\nmax_client_conn = 500\n"
            f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
            f"admin_users = {SUPERUSER}\n"
        )
        if cluster.user:
            entry = pwd.getpwnam(cluster.user)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        binary = shutil.which(self.BINARY) or "/usr/sbin/pgbouncer"
        self.proc = subprocess.Popen([binary, str(config)], user=cluster.user,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.2)
        raise RuntimeError("PgBouncer did not start; see its log in " + str(folder))

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{self.dbname}"

    def server_connections(self) -> int:
        """Server connections PgBouncer holds for the database, from its admin console."""
        with psycopg.connect(f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/pgbouncer", autocommit=True) as conn:
            cursor = psycopg.ClientCursor(conn)  # the console speaks the simple protocol only
            cursor.execute("SHOW POOLS")
            names = [column.name for column in cursor.description]
            return sum(sum(row[names.index(k)] for k in names if k.startswith("sv_"))
                       for row in cursor.fetchall() if row[names.index("database")] == self.dbname)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
