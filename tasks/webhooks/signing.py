"""The webhook signature: an HMAC-SHA256 header that receivers check.

    X-Queue-Signature: t=<unix time>,v1=<hex HMAC of "<t>.<body>">

The key is QUEUE_WEBHOOK_SECRET (default: SECRET_KEY). Receivers verify the
key, the body and the age, which stops forgeries and replays.
"""

import hashlib
import hmac
import time

from django.conf import settings

from tasks import conf

SIGNATURE_HEADER = "X-Queue-Signature"


def sign(body: bytes, timestamp: int) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", as receivers verify it."""
    return f"t={timestamp},v1={_digest(body, timestamp, _secret())}"


def verify(header: str, body: bytes, *, secret: str | None = None, tolerance: float = 300,
           now: float | None = None) -> bool:
    """A receiver's check of SIGNATURE_HEADER: right key, right body, recent enough."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = _digest(body, timestamp, secret or _secret())
    return hmac.compare_digest(expected, fields.get("v1", ""))


def _secret() -> str:
    return conf.get("WEBHOOK_SECRET") or settings.SECRET_KEY


def _digest(body: bytes, timestamp: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
