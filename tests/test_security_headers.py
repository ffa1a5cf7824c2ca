"""The Content-Security-Policy and the other headers a scanner expects, on the
dashboard and the admin; and no inline script or style in our templates that
the policy would have to allow."""

import re
from pathlib import Path

import pytest
from django.test import Client

from tests.support.processes import ROOT

pytestmark = pytest.mark.django_db

TEMPLATES = [*(ROOT / "dashboard" / "templates").rglob("*.html"), *(ROOT / "tasks" / "templates").rglob("*.html")]
INLINE = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=\"|\son[a-z]+=|hx-on|javascript:", re.I)


@pytest.fixture
def staff(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_user("olga", is_staff=True, is_superuser=True))
    return client


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/tasks/", "/dashboard/tasks/new/", "/admin/",
                                  "/admin/tasks/task/", "/admin/login/"])
def test_pages_carry_a_strict_policy_and_the_usual_headers(staff, path):
    client = staff if path != "/admin/login/" else Client()
    response = client.get(path)
    assert response.status_code == 200, path
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'self'"
    # 'self', plus a nonce when the page has a nonced element (the admin's changelist style)
    assert directives["script-src"].split()[0] == "'self'" and directives["style-src"].split()[0] == "'self'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]


def test_the_admin_inline_style_carries_the_nonce_of_the_policy(staff):
    response = staff.get("/admin/tasks/task/")
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]
    html = response.content.decode()
    assert all(f'nonce="{nonce}"' in tag for tag in re.findall(r"<style[^>]*>", html))


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_or_style(template: Path):
    markup = re.sub(r"{%.*?%}", "", template.read_text())  # {% include ... style="danger" %} is a parameter
    assert not INLINE.search(markup), template


def test_the_api_docs_page_has_its_own_policy():
    response = Client().get("/api/docs")
    assert "https://cdn.jsdelivr.net" in response["Content-Security-Policy"]
