"""manage.py serve: the whole service in one command (what `make run` runs).

Migrates, then supervises the production web server (granian serving the WSGI
application, started by queueproject/webserver.py), the WebSocket listener for
GET /ws on --ws-port (an ASGI process of its own, so that the WSGI hot path is
untouched; 0 turns it off) and the worker processes; Ctrl-C or SIGTERM stops
them all gracefully.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection

from queueproject import serving
from queueproject.database import describe
from tasks import conf


class Command(BaseCommand):
    help = "Run the web server (API, dashboard, admin) and workers with housekeeping, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--ws-port", type=int, default=None,
                            help="Port of the WebSocket listener (GET /ws); default WS_PORT, else --port + 1; 0: none.")
        parser.add_argument("--web-processes", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("QUEUE_WORKER_PROCESSES", "1")),
                            help="Worker processes to run (each with QUEUE_CONCURRENCY slots).")

    def handle(self, *args, host, port, ws_port, web_processes, workers, **options):
        self.stdout.write(f"Database: {describe(settings.DATABASE_URL)}")
        call_command("migrate", interactive=False, verbosity=0)
        web = [sys.executable, "-m", "queueproject.webserver", "--host", host, "--port", str(port),
               "--workers", str(web_processes)]
        worker = [sys.executable, "manage.py", "worker"]
        children = [subprocess.Popen(web)] + [subprocess.Popen(worker) for _ in range(workers)]
        serving.record(connection.settings_dict, f"http://{host}:{port}/")
        self.stdout.write(f"Web server on http://{host}:{port}/ (API /api/, dashboard /dashboard/, admin /admin/)")
        ws_port = int(os.environ.get("WS_PORT", port + 1)) if ws_port is None else ws_port
        if ws_port:
            children.append(subprocess.Popen([sys.executable, "-m", "queueproject.webserver", "--ws",
                                              "--host", host, "--port", str(ws_port)]))
            self.stdout.write(f"WebSocket events on ws://{host}:{ws_port}/ws")
        self.stdout.write(f"{workers} worker process(es), {conf.get('CONCURRENCY')} slots each. Ctrl-C stops everything.")

        stop = []
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: stop.append(signum))
        code = 0
        while not stop:
            if any(child.poll() is not None for child in children):
                self.stderr.write("A service process exited unexpectedly; stopping the others.")
                code = 1
                break
            time.sleep(0.2)
        self._stop(children)
        serving.forget()
        raise SystemExit(code)

    def _stop(self, children) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + conf.get("SHUTDOWN_GRACE") + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.stdout.write("Stopped.")
