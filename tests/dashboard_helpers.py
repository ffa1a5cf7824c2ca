"""Shared pieces of the dashboard tests: users and clients."""

import pytest
from django.test import Client


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("operator", password="pw-operator-1", is_staff=True)


@pytest.fixture
def staff_client(staff):
    client = Client()
    client.force_login(staff)
    return client


@pytest.fixture
def member_client(django_user_model):
    """Signed in, but not staff."""
    client = Client()
    client.force_login(django_user_model.objects.create_user("member", password="pw-member-1"))
    return client


HTMX = {"HTTP_HX_REQUEST": "true"}
