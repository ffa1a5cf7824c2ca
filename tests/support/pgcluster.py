"""Throwaway PostgreSQL clusters that a test or the fault suite may stop, crash,
restart, replicate and promote.

Never the machine's shared server: each lives in a temporary folder, listens
on a free loopback port, and is removed at the end. They use the binaries of
the `pgserver` wheel (already a dependency, so this works on a fresh clone)
and run as an unprivileged user when we are root, as PostgreSQL requires.

`ReplicaPair` is a primary with one streaming standby (`pg_basebackup -R`),
synchronous or not, and the failover of the pair: SIGKILL every process of
the primary, then `pg_ctl promote` the standby.
"""

import os
import pwd
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
from pathlib import Path

import psutil
import psycopg

from tests.support.processes import free_port

SUPERUSER = "postgres"


def bin_dir() -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def run_as() -> str | None:
    """The system user to run the server as: None when we are not root."""
    if os.geteuid() != 0:
        return None
    from pgserver.utils import ensure_folder_permissions, ensure_user_exists

    ensure_user_exists("pgserver")
    # The embedded default makes the same change; without it the user cannot run the binaries.
    ensure_folder_permissions(bin_dir(), stat.S_IXGRP | stat.S_IXOTH | stat.S_IRGRP | stat.S_IROTH)
    ensure_folder_permissions(bin_dir().parent / "lib", stat.S_IRGRP | stat.S_IROTH)
    return "pgserver"


class Cluster:
    """initdb (or a base backup of `standby_of`), start, stop, crash; one superuser with trust auth."""

    def __init__(self, settings: dict[str, str] | None = None, standby_of: "Cluster | None" = None) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="faults-pg-"))
        self.root.chmod(0o755)
        self.pgdata = self.root / "data"
        self.port = free_port()
        self.user = run_as()
        self.settings = {"max_connections": "300", "unix_socket_directories": "",
                         "listen_addresses": "127.0.0.1", **(settings or {})}
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        if standby_of is None:
            self._ctl("initdb", "-D", str(self.pgdata), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8")
        else:
            # -R writes primary_conninfo and standby.signal: the copy starts as a streaming standby.
            self._ctl("pg_basebackup", "-D", str(self.pgdata), "-h", "127.0.0.1", "-p", str(standby_of.port),
                      "-U", SUPERUSER, "-R", "-X", "stream", "-c", "fast")
        self.start()

    def url(self, dbname: str = "postgres", port: int | None = None) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{port or self.port}/{dbname}"

    def _ctl(self, program: str, *args: str) -> None:
        subprocess.run([str(bin_dir() / program), *args], check=True, user=self.user,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root, timeout=120)

    def start(self) -> None:
        options = " ".join(f"-c {k}={shlex.quote(v)}" for k, v in self.settings.items())
        self._ctl("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", str(self.root / "server.log"),
                  "-o", f"-p {self.port} {options}", "start")

    def stop(self, mode: str = "fast") -> None:
        """mode "immediate" is a crash: no checkpoint, recovery at the next start."""
        self._ctl("pg_ctl", "-D", str(self.pgdata), "-w", "-m", mode, "stop")

    def kill(self) -> None:
        """SIGKILL the postmaster and every backend at once, as when the machine dies."""
        pid = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
        for process in family:
            try:
                process.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(family, timeout=10)

    def promote(self) -> None:
        """End recovery: the standby becomes a primary that accepts writes."""
        self._ctl("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "promote")

    def execute(self, sql: str, dbname: str = "postgres", params=None) -> list:
        with psycopg.connect(self.url(dbname), autocommit=True, application_name="faults-observer") as conn:
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


class ReplicaPair:
    """A primary and one streaming standby of it; the standby is hot (it answers reads).

    Make the databases (and migrate them) before `add_standby()`: the base backup
    copies them. `synchronous=True` makes every commit wait until the standby has
    flushed it (synchronous_standby_names = '*', synchronous_commit = on).
    """

    def __init__(self, settings: dict[str, str] | None = None) -> None:
        self.primary = Cluster(settings)
        self.standby: Cluster | None = None
        self.settings = settings
        self.link = None

    def add_standby(self, synchronous: bool, through_link: bool = False) -> Cluster:
        """`through_link`: the standby streams through a TCP proxy that cut_link() can cut,
        so that the test decides when the standby stops receiving (a lagging standby)."""
        settings = self.settings
        if through_link:
            from tests.support.database import TcpProxy

            self.link = TcpProxy(("127.0.0.1", self.primary.port))
            self.link.start()
            settings = {**(settings or {}), "primary_conninfo":
                        f"host=127.0.0.1 port={self.link.port} user={SUPERUSER} application_name=standby"}
        self.standby = Cluster(settings, standby_of=self.primary)
        if synchronous:
            self.primary.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
            self.primary.execute("SELECT pg_reload_conf()")
        self.wait_streaming(synchronous)
        return self.standby

    def wait_streaming(self, synchronous: bool, timeout: float = 30) -> None:
        from tests.support.processes import wait_for

        wanted = "sync" if synchronous else "async"
        wait_for(lambda: self.primary.execute("SELECT sync_state FROM pg_stat_replication") == [(wanted,)],
                 timeout=timeout, interval=0.1, message=f"the standby streaming ({wanted})")

    def cut_link(self) -> None:
        """Stop the standby receiving WAL (add_standby(through_link=True) first)."""
        self.link.cut()

    def url(self, dbname: str, **params: str) -> str:
        """A libpq multi-host URL that reaches whichever of the two accepts writes."""
        assert self.standby is not None
        query = "&".join(f"{k}={v}" for k, v in {"target_session_attrs": "read-write", **params}.items())
        return (f"postgresql://{SUPERUSER}@127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
                f"/{dbname}?{query}")

    def fail_over(self) -> None:
        """SIGKILL the primary, promote the standby (which then has no standby of its own)."""
        assert self.standby is not None
        self.primary.kill()
        self.promote()

    def promote(self) -> None:
        assert self.standby is not None
        self.standby.promote()

    def destroy(self) -> None:
        for cluster in (self.standby, self.primary):
            if cluster is not None:
                cluster.destroy()
