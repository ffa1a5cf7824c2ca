"""API keys: who holds which, what they may do, when last used; revoke (the admin scope)."""

from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from dashboard.access import require
from dashboard.actions import perform
from dashboard.rendering import render_live
from tasks import conf
from tasks.access import keys


@require("keys")
def key_list(request):
    user = request.GET.get("user", "").strip()
    return render_live(request, "dashboard/keys.html", {
        "keys": keys.listing(user or None), "now": timezone.now(), "user_filter": user,
        "cache_seconds": conf.get("API_TOKEN_CACHE"),
    })


@require("keys")
@require_POST
def revoke(request, prefix):
    def do():
        count = keys.revoke([prefix])
        if not count:
            return f"No active key has the prefix {prefix}.", 0
        return (f"Key {prefix} revoked: refused at once here, and by every web process within "
                f"{conf.get('API_TOKEN_CACHE'):g} seconds."), count

    return perform(request, action="key.revoke", target=f"API key {prefix}", do=do, back=reverse("dashboard:keys"),
                   question=f"Revoke API key {prefix}? Clients using it are refused; this cannot be undone.")
