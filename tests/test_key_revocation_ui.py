"""Revoking API keys from the dashboard (a keys page for the admin scope) and
from the Django admin; a revoked key is refused at once by this process."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from tasks.access import Scope
from tasks.models import ApiKey, AuditEntry
from tests.api_helpers import key_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("olga", is_staff=True))
    return client


def test_the_dashboard_lists_keys_by_prefix_and_revokes_them(admin_client, user):
    key = key_for(user, [Scope.READ], name="billing")
    prefix = key.split(".")[0]
    page = admin_client.get("/dashboard/keys/").content.decode()
    assert prefix in page and "billing" in page and key.split(".")[1] not in page
    api = APIClient(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/tasks").status_code == 200
    asked = admin_client.post(f"/dashboard/keys/{prefix}/revoke/")
    assert asked.status_code == 200 and "Revoke API key" in asked.content.decode()  # confirm first
    assert not ApiKey.objects.get().revoked
    done = admin_client.post(f"/dashboard/keys/{prefix}/revoke/", {"confirm": "yes"})
    assert done.status_code == 302 and ApiKey.objects.get().revoked
    assert api.get("/api/tasks").status_code == 401
    assert AuditEntry.objects.filter(action="key.revoke", target=f"API key {prefix}").exists()


def test_the_keys_page_needs_the_admin_scope(django_user_model, user):
    operator = django_user_model.objects.create_user("op")
    operator.groups.add(Group.objects.get(name="Queue operators"))
    client = Client()
    client.force_login(operator)
    assert client.get("/dashboard/").status_code == 200
    assert "API keys" not in client.get("/dashboard/").content.decode()
    assert client.get("/dashboard/keys/").status_code == 403
    prefix = key_for(user).split(".")[0]
    assert client.post(f"/dashboard/keys/{prefix}/revoke/", {"confirm": "yes"}).status_code == 403
    assert not ApiKey.objects.get().revoked


def test_the_admin_creates_a_key_shown_once_and_revokes_keys(admin_client, user):
    response = admin_client.post("/admin/tasks/apikey/add/", {"name": "ci", "user": user.pk, "scopes": ["read", "enqueue"]},
                                 follow=True)
    assert response.status_code == 200
    row = ApiKey.objects.get()
    shown = [str(m) for m in response.context["messages"]]
    key = next(m for m in shown if "API key" in m).split(": ")[1].split(".")[:2]
    key = ".".join(key)
    assert key.startswith(row.prefix + ".") and sorted(row.scopes) == ["enqueue", "read"]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/tasks").status_code == 200
    listing = admin_client.get("/admin/tasks/apikey/").content.decode()
    assert row.prefix in listing and key not in listing
    admin_client.post("/admin/tasks/apikey/", {"action": "revoke", "_selected_action": [row.pk]})
    assert ApiKey.objects.get().revoked
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").get("/api/tasks").status_code == 401
    assert admin_client.get("/admin/rest_framework_api_key/apikey/").status_code == 404  # the library's own: hidden


def test_the_admin_shows_legacy_tokens_by_prefix_only_and_creates_none(django_user_model):
    from rest_framework.authtoken.models import Token

    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    legacy = Token.objects.create(user=root).key
    client = Client()
    client.force_login(root)
    listing = client.get("/admin/authtoken/tokenproxy/").content.decode()
    assert legacy[:8] in listing and legacy not in listing
    assert client.get("/admin/authtoken/tokenproxy/add/").status_code == 403
