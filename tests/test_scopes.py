"""The four scopes (tasks/access/) as users and groups hold them: one table."""

import pytest
from django.contrib.auth.models import Group, Permission

from tasks.access import Scope, permission, scopes_of

pytestmark = pytest.mark.django_db

ALL = frozenset(Scope)


def grant(user_or_group, *scopes):
    perms = Permission.objects.filter(content_type__app_label="tasks",
                                      codename__in=[f"queue_{scope}" for scope in scopes])
    (user_or_group.user_permissions if hasattr(user_or_group, "user_permissions") else user_or_group.permissions).add(*perms)


@pytest.mark.parametrize("flags, granted, via_group, scopes", [
    ({}, (), False, frozenset()),                                    # a plain signed-in user
    ({"is_staff": True}, (), False, ALL),                            # staff with no scope: every scope
    ({"is_superuser": True, "is_staff": True}, ("read",), False, ALL),  # superusers are never narrowed
    ({"is_staff": True}, ("read",), False, {Scope.READ}),            # a read-only operator
    ({}, ("read",), True, {Scope.READ}),                             # the same, through a group
    ({}, ("operate",), False, {Scope.READ, Scope.OPERATE}),          # acting implies reading
    ({"is_staff": True, "is_active": False}, (), False, frozenset()),  # a disabled account
])
def test_scopes_of_a_user(django_user_model, flags, granted, via_group, scopes):
    user = django_user_model.objects.create_user("someone", **flags)
    if via_group:
        group = Group.objects.create(name="Some viewers")
        grant(group, *granted)
        user.groups.add(group)
    else:
        grant(user, *granted)
    user = django_user_model.objects.get(pk=user.pk)  # a fresh permission cache
    assert scopes_of(user) == frozenset(scopes)


def test_each_scope_is_a_permission_of_the_tasks_app():
    names = set(Permission.objects.filter(content_type__app_label="tasks").values_list("codename", flat=True))
    assert {permission(scope).split(".")[1] for scope in Scope} <= names


def test_nobody_has_scopes_when_signed_out():
    from django.contrib.auth.models import AnonymousUser

    assert scopes_of(AnonymousUser()) == frozenset() and scopes_of(None) == frozenset()
