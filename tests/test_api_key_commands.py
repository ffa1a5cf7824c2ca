"""The command line of API keys: create_api_token prints a new key every time
and says where it wrote it, refusing a database other than the running
service's (issue 15, bug 11); api_keys lists and revokes."""

import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from queueproject import serving
from tasks.models import ApiKey
from tests.factories import TaskFactory
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def state_file(tmp_path, monkeypatch):
    monkeypatch.setenv("SERVE_STATE_FILE", str(tmp_path / "serving.json"))
    return tmp_path / "serving.json"


def create(capsys, *args) -> tuple[str, str]:
    call_command("create_api_token", *args)
    out = capsys.readouterr()
    return out.out.strip(), out.err


def test_create_api_token_prints_a_new_working_key_every_time(capsys):
    first, said = create(capsys, "scripts")
    second, _ = create(capsys, "scripts")
    assert first != second and "." in first and "\n" not in first
    assert ApiKey.objects.filter(user__username="scripts").count() == 2
    assert "written to " in said and f"database {connection.settings_dict['NAME']}" in said
    assert first not in said
    api = APIClient(HTTP_AUTHORIZATION=f"Token {first}")
    assert api.get("/api/tasks").status_code == 200
    assert api.post("/api/queues/mail/pause").status_code == 403  # default scopes: read, enqueue


def test_scopes_and_expiry_from_the_command_line(capsys):
    key, said = create(capsys, "ops", "--scope", "read,operate", "--scope", "admin", "--expires", "90d")
    row = ApiKey.objects.get()
    assert sorted(row.scopes) == ["admin", "operate", "read"]
    assert 89 <= (row.expiry_date - timezone.now()).days <= 90 and "expires" in said
    staff_key, _ = create(capsys, "boss", "--staff")
    assert sorted(ApiKey.objects.get(user__username="boss").scopes) == ["admin", "enqueue", "operate", "read"]


@pytest.mark.parametrize("args, message", [
    (["--scope", "root"], "Unknown scope 'root'"),
    (["--expires", "soon"], "Cannot read the expiry"),
    (["--expires", "2001-01-01"], "in the past"),
])
def test_bad_options_are_refused_with_the_reason(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("create_api_token", "x", *args)
    assert ApiKey.objects.count() == 0


def test_a_key_is_refused_when_the_running_service_uses_another_database(capsys, state_file):
    state_file.write_text(json.dumps({"pid": os.getpid(), "address": "http://127.0.0.1:8000/",
                                      "database": {"host": "elsewhere", "port": "5432", "dbname": "other"},
                                      "description": "PostgreSQL at elsewhere:5432, database other"}))
    with pytest.raises(CommandError, match="uses PostgreSQL at elsewhere"):
        call_command("create_api_token", "alice")
    assert ApiKey.objects.count() == 0
    create(capsys, "alice", "--any-database")
    serving.record(connection.settings_dict, "http://127.0.0.1:8000/")  # the same database: fine
    create(capsys, "alice")
    assert ApiKey.objects.count() == 2


def test_a_record_of_a_service_that_is_gone_is_ignored(capsys, state_file):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    state_file.write_text(json.dumps({"pid": int(dead.stdout), "database": {"dbname": "other"}}))
    create(capsys, "alice")
    assert ApiKey.objects.count() == 1


def test_api_keys_lists_and_revokes(capsys, django_user_model):
    key, _ = create(capsys, "alice", "--key-name", "ci")
    legacy = Token.objects.create(user=django_user_model.objects.create_user("old")).key
    call_command("api_keys")
    listing = capsys.readouterr().out
    prefix = key.split(".")[0]
    assert prefix in listing and "ci" in listing and "active" in listing and legacy[:8] in listing
    assert key not in listing and legacy not in listing
    api = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/tasks").status_code == 200  # remembered by this process
    call_command("api_keys", "--revoke", prefix, legacy[:8])
    assert "Revoked 2" in capsys.readouterr().out
    assert api.get("/api/tasks").status_code == 401  # forgotten at once here
    assert not Token.objects.exists() and ApiKey.objects.get().revoked
    call_command("api_keys", "--user", "alice")
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(CommandError, match="No active key"):
        call_command("api_keys", "--revoke", prefix)


@pytest.mark.django_db(transaction=True)  # the command commits: flushed afterwards
def test_the_quick_start_second_terminal_says_which_database_it_wrote_to(queue_env):
    result = subprocess.run([sys.executable, "manage.py", "create_api_token", "second-terminal"], cwd=ROOT, env=queue_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1 and "." in result.stdout
    assert "written to PostgreSQL at" in result.stderr and "(DATABASE_URL)" in result.stderr  # not the embedded one


def test_hash_legacy_keeps_old_tokens_working_without_their_clear_text(capsys, django_user_model):
    TaskFactory(queue="mail")
    plain = Token.objects.create(user=django_user_model.objects.create_user("old-client")).key
    staff = Token.objects.create(user=django_user_model.objects.create_user("old-ops", is_staff=True)).key
    call_command("api_keys", "--hash-legacy")
    assert "Hashed 2 legacy token(s)" in capsys.readouterr().out
    assert not Token.objects.exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM tasks_apikey")
        stored = json.dumps(cursor.fetchall(), default=str)
    assert plain not in stored and staff not in stored and plain[:8] in stored
    plain_api, staff_api = (APIClient(HTTP_AUTHORIZATION=f"Token {key}") for key in (plain, staff))
    assert plain_api.get("/api/tasks").status_code == 200
    assert plain_api.post("/api/queues/mail/pause").status_code == 403  # read and enqueue, as before
    assert staff_api.post("/api/queues/mail/pause").status_code == 200
    call_command("api_keys", "--revoke", plain[:8])
    assert plain_api.get("/api/tasks").status_code == 401
