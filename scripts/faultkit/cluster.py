"""The fault suite's PostgreSQL: the throwaway clusters (tests/support/pgcluster.py,
shared with the tests) and PgBouncer in front of one of them."""

import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import psycopg

from tests.support.pgcluster import SUPERUSER, Cluster, ReplicaPair
from tests.support.processes import free_port

__all__ = ["SUPERUSER", "Bouncer", "Cluster", "ReplicaPair"]


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
