"""API keys: hashed at rest, several per user, each with scopes, an optional
expiry, revocation and the time it was last used.

The row comes from djangorestframework-api-key: the key is `prefix.secret`,
only the 8-character prefix is stored in clear (to find the row and show it),
the whole key as a SHA-512 hash (the secret is 32 random characters, about 190
bits, so a fast hash is as safe as a slow password hasher for it). The key is
shown once, when created. What a key may do is its own scopes (tasks.access);
its user is who acts (audit, rate limits), and an inactive user's keys stop.
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone
from rest_framework_api_key.models import AbstractAPIKey, BaseAPIKeyManager

from tasks.access import Scope


class ApiKeyManager(BaseAPIKeyManager):
    def issue(self, user, name: str, scopes, expires=None) -> tuple["ApiKey", str]:
        """A new key for `user`: (row, the key in clear, which is never stored)."""
        return self.create_key(user=user, name=name[:50], scopes=sorted({Scope(s).value for s in scopes}),
                               expiry_date=expires)


class ApiKey(AbstractAPIKey):
    objects = ApiKeyManager()

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys",
                             help_text="Who acts with this key (audit, rate limits).")
    scopes = ArrayField(models.CharField(max_length=16, choices=Scope.choices), default=list,
                        help_text="What the key may do: read, enqueue, operate, admin.")
    last_used = models.DateTimeField(null=True, blank=True, help_text="Updated at most once a minute.")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API key"
        verbose_name_plural = "API keys"

    def scope_set(self) -> frozenset[Scope]:
        return frozenset(Scope(scope) for scope in self.scopes)

    def state(self, now=None) -> str:
        """active, revoked or expired, as lists show it."""
        if self.revoked:
            return "revoked"
        if self.expiry_date is not None and self.expiry_date <= (now or timezone.now()):
            return "expired"
        return "active"
