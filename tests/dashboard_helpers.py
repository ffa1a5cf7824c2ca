"""Shared pieces of the dashboard tests: users and clients."""

import importlib

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.test import Client

# The migration that creates the groups "Queue viewers" and "Queue operators".
queue_groups = importlib.import_module("tasks.migrations.0012_queue_groups")


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


def queue_group(name: str) -> Group:
    """A group the data migration creates. Tests that run on a flushed database
    (after a transactional test) get it back the way the migration makes it."""
    queue_groups.create_groups(apps, None)
    return Group.objects.get(name=name)
