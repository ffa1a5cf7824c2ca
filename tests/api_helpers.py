"""Fixtures and helpers shared by the API tests (imported by each test module)."""

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("producer")


@pytest.fixture
def api(user):
    """A client with an ordinary (non-staff) token."""
    return client_for(user)


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
