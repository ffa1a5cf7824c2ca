"""Issuing, listing and revoking API keys: what the command line, the admin and
the dashboard share (the rows are tasks.models.ApiKey).

Revoking saves each row, so that the process doing it forgets the key at once
(tasks/api/authentication.py); other web processes refuse it within
QUEUE_API_TOKEN_CACHE seconds. Legacy DRF tokens appear in listings with the
state "legacy" and are revoked (deleted) the same way, by their first 8 characters.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework.authtoken.models import Token

from tasks.access import Scope, scopes_of
from tasks.models import ApiKey

DEFAULT_SCOPES = (Scope.READ, Scope.ENQUEUE)
LEGACY_PLAIN_SCOPES = DEFAULT_SCOPES  # what an old token of a user without scopes may do
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_scopes(values) -> list[Scope]:
    """Scopes from command-line values: repeated and/or comma-separated; ValueError names a wrong one."""
    scopes = []
    for value in values:
        for name in filter(None, (part.strip() for part in value.split(","))):
            if name not in Scope.values:
                raise ValueError(f"Unknown scope {name!r}; choose from {', '.join(Scope.values)}.")
            scopes.append(Scope(name))
    return scopes


def parse_expiry(text: str, now: datetime) -> datetime:
    """A duration (30m, 12h, 90d, 2w) from now, or an ISO date or date-time; ValueError otherwise."""
    if match := _DURATION.match(text.strip()):
        return now + timedelta(**{_UNITS[match[2]]: int(match[1])})
    moment = parse_datetime(text) or (parse_date(text) and datetime.fromisoformat(text))
    if not moment:
        raise ValueError(f"Cannot read the expiry {text!r}: give 30m, 12h, 90d, 2w, or a date such as 2027-01-31.")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_current_timezone())
    if moment <= now:
        raise ValueError(f"The expiry {text!r} is in the past.")
    return moment


def issue(username: str, scopes, expires: datetime | None = None, name: str | None = None,
          staff: bool = False) -> tuple[ApiKey, str]:
    """A new key for user `username` (created when missing): (row, key in clear)."""
    user, _ = get_user_model().objects.get_or_create(username=username)
    if staff and not user.is_staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    return ApiKey.objects.issue(user, name or username, scopes or DEFAULT_SCOPES, expires)


@dataclass(frozen=True)
class Listed:
    prefix: str
    name: str
    user: str
    scopes: tuple[str, ...]
    created: datetime
    last_used: datetime | None
    expires: datetime | None
    state: str  # active, revoked, expired, legacy


def listing(username: str | None = None, now: datetime | None = None) -> list[Listed]:
    """Every key (newest first), then every legacy token; of one user when given."""
    now = now or timezone.now()
    keys = ApiKey.objects.select_related("user").order_by("-created")
    tokens = Token.objects.select_related("user").order_by("-created")
    if username:
        keys, tokens = keys.filter(user__username=username), tokens.filter(user__username=username)
    rows = [Listed(k.prefix, k.name, k.user.get_username(), tuple(k.scopes), k.created, k.last_used,
                   k.expiry_date, k.state(now)) for k in keys]
    rows += [Listed(t.key[:8], "legacy token", t.user.get_username(), (), t.created, None, None, "legacy")
             for t in tokens]
    return rows


def hash_legacy() -> tuple[int, list[str]]:
    """Replace every legacy token by an API key that holds its hash (and its user's scopes
    as a legacy token had them): clients keep their token, the database loses the clear
    text. Returns (converted, prefixes skipped because a key already has them)."""
    converted, skipped = 0, []
    for token in Token.objects.select_related("user"):
        prefix = token.key[:8]
        if ApiKey.objects.filter(prefix=prefix).exists():
            skipped.append(prefix)
            continue
        hashed = ApiKey.objects.key_generator.hash(token.key)
        scopes = scopes_of(token.user) or LEGACY_PLAIN_SCOPES
        ApiKey.objects.create(id=f"{prefix}.{hashed}", prefix=prefix, hashed_key=hashed, name="hashed legacy token",
                              user=token.user, scopes=sorted(s.value for s in scopes))
        token.delete()
        converted += 1
    return converted, skipped


def revoke(prefixes) -> int:
    """Revoke the keys (delete the legacy tokens) with these prefixes: how many were."""
    count = 0
    for key in ApiKey.objects.filter(prefix__in=list(prefixes), revoked=False):
        key.revoked = True
        key.save(update_fields=["revoked"])  # the signal makes this process forget it now
        count += 1
    for prefix in prefixes:
        for token in Token.objects.filter(key__startswith=prefix) if len(prefix) == 8 else ():
            token.delete()  # one by one: the signal makes this process forget each
            count += 1
    return count
