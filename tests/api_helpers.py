"""Fixtures and helpers shared by the API tests (imported by each test module)."""

import json

import pytest
from rest_framework.test import APIClient

from tasks.access import Scope, scopes_of
from tasks.models import ApiKey

PLAIN_SCOPES = (Scope.READ, Scope.ENQUEUE)


def key_for(user, scopes=None, name="test") -> str:
    """A new API key of `user`: with `scopes`, else its user's (read and enqueue for a plain user)."""
    if scopes is None:
        scopes = scopes_of(user) or PLAIN_SCOPES
    return ApiKey.objects.issue(user, name, scopes)[1]


def client_for(user, scopes=None) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key_for(user, scopes)}")
    return client


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("producer")


@pytest.fixture
def api(user):
    """A client with an ordinary (non-staff) user's key: read and enqueue."""
    return client_for(user)


@pytest.fixture
def operator_api(user):
    """A client whose key may also retry, cancel, pause and purge (the operate scope)."""
    return client_for(user, [Scope.READ, Scope.ENQUEUE, Scope.OPERATE])


@pytest.fixture
def staff_api(django_user_model):
    return client_for(django_user_model.objects.create_user("operator", is_staff=True))


def post(client, path, body=None, **headers):
    data = None if body is None else json.dumps(body)
    return client.post(path, data=data, content_type="application/json", **headers)


def error_of(response, status_code, code=None) -> dict:
    """The error body of `response`, after checking its status and shape."""
    assert response.status_code == status_code, (response.status_code, response.content[:500])
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code, error
    return error
