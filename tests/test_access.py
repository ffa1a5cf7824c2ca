"""Access: a token on every API endpoint but health, staff for the dashboard and
the admin, CSRF on every form, no secrets in logs or echoed back, and a clean
`check --deploy` with the documented production settings."""

import json
import logging
import os
import re
import subprocess
import sys
import uuid

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tasks.models import Task
from tests.api_helpers import key_for
from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db

# Health, and the API's documentation (it describes the API and holds no data;
# the API's owner keeps it public so that clients and schemathesis can load it).
PUBLIC = {"/api/health", "/api/schema", "/api/docs"}
# The production settings the README documents (secrets and host names are examples).
PRODUCTION_ENV = {
    "SECRET_KEY": "x7Kq2m9PzV4rT8wY1bN6cJ3hF5dG0sA-LpQeRtUiOzXcVbNmWkJhGfDsAq",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "queue.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://queue.example.com",
    "SECURE_PROXY_SSL_HEADER_ENABLED": "true",
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "EMAIL_BACKEND": "smtp",
}


def concrete_paths(prefix: str) -> list[str]:
    """Every routed path under `prefix`, with a fresh UUID in each parameter."""
    paths = []

    def walk(patterns, base):
        for entry in patterns:
            text = re.sub(r"\(\?=[^)]*\)", "", base + str(entry.pattern))  # look-aheads match no text
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, text)
            elif isinstance(entry, URLPattern):
                path = re.sub(r"<int:\w+>", "1", text)
                path = re.sub(r"<[^>]+>|\(\?P<\w+>[^)]*\)", str(uuid.uuid4()), path)
                path = "/" + path.replace("^", "").replace("$", "").replace("/?", "").replace("\\", "")
                if path.startswith(prefix):
                    paths.append(path)

    walk(get_resolver().url_patterns, "")
    return sorted(set(paths))


@pytest.fixture
def users(django_user_model):
    staff = django_user_model.objects.create_user("olga", password="pw-olga-123", is_staff=True)
    plain = django_user_model.objects.create_user("paul", password="pw-paul-123")
    return staff, plain


def test_every_api_endpoint_but_health_and_the_docs_needs_a_token():
    paths = concrete_paths("/api/")
    assert "/api/tasks" in paths and len(paths) > len(PUBLIC)
    anonymous = APIClient()
    for path in paths:
        for method in ("get", "post", "delete"):
            response = getattr(anonymous, method)(path)
            if path in PUBLIC:
                continue
            assert response.status_code == 401, (method, path, response.status_code)
            assert response.json()["error"]["code"] == "not_authenticated"
    assert anonymous.get("/api/health").status_code == 200


def test_dashboard_and_admin_pages_are_for_staff_only(users):
    staff, plain = users
    pages = concrete_paths("/dashboard/") + ["/admin/"]
    anonymous = Client()
    for page in pages:
        response = anonymous.get(page)
        assert response.status_code == 302 and "/login/" in response["Location"], page
    # A signed-in user who is not staff: the dashboard says 403 (a login page could
    # not help them); the admin sends them to its login page, as Django's admin does.
    signed_in = Client()
    signed_in.force_login(plain)
    for page in pages:
        response = signed_in.get(page)
        if page.startswith("/admin/"):
            assert response.status_code == 302 and "/login/" in response["Location"], page
        else:
            assert response.status_code == 403, page
    client = Client()
    client.force_login(staff)
    assert client.get("/dashboard/").status_code == 200
    assert client.get("/admin/").status_code == 200


def test_every_form_post_needs_a_csrf_token(users):
    staff, _ = users
    client = Client(enforce_csrf_checks=True)
    assert client.post("/admin/login/", {"username": "olga", "password": "pw-olga-123"}).status_code == 403
    client.force_login(staff)
    for page in concrete_paths("/dashboard/") + concrete_paths("/admin/"):
        if page == "/admin/health":
            continue  # document 003's health check: public and read-only, as /api/health (POST: 405)
        assert client.post(page, {}).status_code == 403, page
    # The API through a session (a browser) needs the token too; through a token, not.
    response = client.post("/api/tasks", json.dumps({"type": "echo"}), content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]["message"]
    assert Task.objects.count() == 0


def test_tokens_and_headers_are_neither_logged_nor_echoed(users, caplog):
    _, plain = users
    token = key_for(plain)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}", HTTP_X_API_KEY="hdr-secret-77", HTTP_COOKIE="s=ck-99")
    with caplog.at_level(logging.DEBUG):
        created = client.post("/api/tasks", json.dumps({"type": "echo", "payload": {"a": 1}}),
                              content_type="application/json")
        fetched = client.get(f"/api/tasks/{created.json()['id']}")
        refused = client.post("/api/tasks", json.dumps({"type": "nope"}), content_type="application/json")
        bad_token = APIClient(HTTP_AUTHORIZATION="Token " + "f" * 40).get("/api/tasks/" + str(uuid.uuid4()))
    assert (created.status_code, fetched.status_code, refused.status_code, bad_token.status_code) == (201, 200, 400, 401)
    stored = json.dumps(list(Task.objects.values()), default=str)
    for secret in (token, "hdr-secret-77", "ck-99", "f" * 40):
        assert secret not in caplog.text
        for response in (created, fetched, refused, bad_token):
            assert secret not in response.content.decode()
        assert secret not in stored


def test_check_deploy_is_clean_with_the_documented_production_settings():
    env = {**os.environ, **PRODUCTION_ENV}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
