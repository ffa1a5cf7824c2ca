"""API authentication: hashed API keys (tasks.ApiKey), remembered for a few seconds.

Clients send `Authorization: Token <key>` (or `Api-Key <key>`, `Bearer <key>`).
A key is `prefix.secret`: the prefix finds the row, the SHA-512 hash of the
whole key must match. What the request may do is request.auth.scopes
(tasks/api/permissions.py).

Looking a key up costs one query; this module keeps what it found in the web
process for QUEUE_API_TOKEN_CACHE seconds (0: not at all), so a busy client
costs one lookup per process per interval. What that changes:

- A revoked or deleted key, or a user made inactive, is refused at once by the
  process where the change was saved (signals below drop its entries) and
  within QUEUE_API_TOKEN_CACHE seconds (default 5) by every other web process.
- An expired key is refused at its expiry, whatever is remembered.
- Unknown keys are never remembered: a key created a moment ago works at once.

Legacy DRF tokens (40 hex characters) were turned into keys holding their
hash by the migration that added API keys (found by their first 8
characters). A DRF token made since still works, with the scopes of its
user: every scope for staff, read and enqueue for others; `api_keys
--hash-legacy` hashes those too (docs/security.md, "Rotating old tokens").

Every failed authentication counts against the client's address; past
QUEUE_API_AUTH_FAILURES (default 30/minute) the address gets 429 until its
window ends, even with a good key, so keys cannot be guessed at speed.
"""

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock

from django.contrib.auth import get_user_model
from django.db import DatabaseError, transaction
from django.db.models.signals import post_delete, post_save
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.throttling import BaseThrottle

from tasks import conf
from tasks.access import Scope, scopes_of
from tasks.api import throttling
from tasks.access.keys import LEGACY_PLAIN_SCOPES
from tasks.models import ApiKey

KEYWORDS = {b"token", b"api-key", b"bearer"}
MAX_ENTRIES = 10_000  # keys remembered per process; past it, the oldest entries go
LAST_USED_EVERY = timedelta(minutes=1)  # last_used is written at most this often per key


@dataclass(frozen=True)
class Credential:
    """request.auth: which key authenticated the request, and what it may do."""

    name: str
    prefix: str
    scopes: frozenset[Scope]
    expires: datetime | None = None
    legacy: bool = False


_entries: dict[str, tuple[float, tuple]] = {}  # key -> (monotonic expiry, (user, credential))
_lock = Lock()


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in KEYWORDS:
            return None
        ident = BaseThrottle().get_ident(request)
        refuse_if_blocked(ident)
        if len(header) != 2:
            raise failed(ident, "Invalid Authorization header: send 'Token <key>', with no spaces in the key.")
        try:
            key = header[1].decode()
        except UnicodeError:
            raise failed(ident, "Invalid Authorization header: the key has characters no key has.") from None
        found = remembered(key) or self.look_up(key)
        if found is None:
            raise failed(ident, "Invalid or revoked API key.")
        user, credential = found
        if credential.expires is not None and credential.expires <= timezone.now():
            raise failed(ident, "This API key has expired: create a new one (manage.py create_api_token).")
        return found

    def authenticate_header(self, request) -> str:
        return "Token"  # makes DRF answer 401 (not 403) when credentials are missing

    def look_up(self, key: str):
        """(user, Credential) for a usable key, remembered; None for anything else."""
        found = self._api_key(key)  # a legacy token hashed by `api_keys --hash-legacy` too
        if found is None and "." not in key:
            found = self._legacy_token(key)
        if found is not None and found[0].is_active:
            remember(key, found)
            return found
        return None

    @staticmethod
    def _api_key(key: str):
        prefix = key.partition(".")[0][:8]
        row = ApiKey.objects.filter(prefix=prefix, revoked=False).select_related("user").first()
        if row is None or not row.is_valid(key):
            return None
        now = timezone.now()
        if row.last_used is None or now - row.last_used >= LAST_USED_EVERY:
            try:
                with transaction.atomic():  # a savepoint when the request is inside a transaction
                    ApiKey.objects.filter(pk=row.pk).update(last_used=now)
            except DatabaseError:
                pass  # a read-only moment (a failover): last_used is a hint, not worth refusing the request
        return row.user, Credential(row.name, row.prefix, row.scope_set(), row.expiry_date)

    @staticmethod
    def _legacy_token(key: str):
        token = Token.objects.select_related("user").filter(key=key).first()
        if token is None:
            return None
        user = token.user
        scopes = scopes_of(user) or LEGACY_PLAIN_SCOPES
        return user, Credential("legacy token", key[:8], frozenset(scopes), legacy=True)


# Kept for settings written before API keys existed.
CachedTokenAuthentication = ApiKeyAuthentication


def failure_rate() -> tuple[int, int] | None:
    rate = conf.get("API_AUTH_FAILURES")
    return throttling.ClientRateThrottle().parse_rate(rate) if rate else None


def refuse_if_blocked(ident: str) -> None:
    """429 for an address past its failure limit, before any key is looked at."""
    rate = failure_rate()
    if rate is not None:
        blocked, wait = throttling.over_limit(f"authfail:{ident}", *rate)
        if blocked:
            raise Throttled(wait=max(1, round(wait)), detail="Too many failed authentications from this address.")


def failed(ident: str, message: str) -> Exception:
    """Count one failed authentication of `ident`: a 401, or a 429 past the limit."""
    rate = failure_rate()
    if rate is not None:
        admitted, wait = throttling.hit(f"authfail:{ident}", *rate)
        if not admitted:
            return Throttled(wait=max(1, round(wait)), detail="Too many failed authentications from this address.")
    return AuthenticationFailed(message)


def remembered(key: str):
    found = _entries.get(key)
    return found[1] if found is not None and found[0] > time.monotonic() else None


def remember(key: str, found: tuple) -> None:
    ttl = conf.get("API_TOKEN_CACHE")
    if ttl <= 0:
        return
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            for stale in list(_entries)[: MAX_ENTRIES // 10]:  # dicts keep insertion order
                _entries.pop(stale, None)
        _entries[key] = (time.monotonic() + ttl, found)


def forget(*, prefix: str | None = None, user_id: int | None = None) -> None:
    """Drop what this process remembers of a key (by prefix), of a user's keys, or (no argument) of all."""
    with _lock:
        if prefix is None and user_id is None:
            _entries.clear()
            return
        for cached, (_, (user, credential)) in list(_entries.items()):
            if credential.prefix == prefix or user.pk == user_id:
                _entries.pop(cached, None)


def _key_changed(sender, instance, **kwargs) -> None:
    forget(prefix=instance.prefix)


def _token_deleted(sender, instance, **kwargs) -> None:
    forget(prefix=instance.key[:8])


def _user_changed(sender, instance, **kwargs) -> None:
    forget(user_id=instance.pk)


post_save.connect(_key_changed, sender=ApiKey, dispatch_uid="tasks.api.authentication.key_saved")
post_delete.connect(_key_changed, sender=ApiKey, dispatch_uid="tasks.api.authentication.key_deleted")
post_delete.connect(_token_deleted, sender=Token, dispatch_uid="tasks.api.authentication.token")
post_save.connect(_user_changed, sender=get_user_model(), dispatch_uid="tasks.api.authentication.user_saved")
post_delete.connect(_user_changed, sender=get_user_model(), dispatch_uid="tasks.api.authentication.user_deleted")


class ApiKeySchema(OpenApiAuthenticationExtension):
    """How the OpenAPI schema names this scheme (registered by being defined)."""

    target_class = ApiKeyAuthentication
    name = "tokenAuth"  # the name the schema always had

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "An API key (manage.py create_api_token), sent as 'Token <key>'."}
