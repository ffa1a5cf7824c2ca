"""Outbound webhook requests: which URLs are safe, signed POSTs, pinned connections.

A webhook URL comes from whoever created the task, so it is treated as
hostile: only http(s), and every address its host resolves to must be public
(not private, loopback, link-local, shared, multicast or reserved), unless
QUEUE_WEBHOOK_ALLOW_PRIVATE or QUEUE_WEBHOOK_ALLOWED_NETWORKS says otherwise.

The name is resolved once per request and the connection goes to an address
that was checked: a second lookup by the HTTP library could answer
differently (DNS rebinding) and reach an internal service. The Host header,
TLS SNI and certificate check still use the host name. Redirects are followed
by hand, each hop checked the same way.
"""

import ipaddress
import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3
from django.core.serializers.json import DjangoJSONEncoder

from tasks import conf
from tasks.webhooks.signing import SIGNATURE_HEADER, sign

MAX_REDIRECTS = 3
REDIRECT_CODES = {301, 302, 303, 307, 308}
USER_AGENT = "django-pg-taskqueue/1.0"


class UnsafeURL(ValueError):
    """The URL is not http(s), or points at a private, loopback or link-local address."""


class WebhookError(OSError):
    """The request could not be made or answered with an error status."""


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts and the checked addresses to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


@dataclass(frozen=True)
class Response:
    status_code: int
    headers: dict

    def raise_for_status(self) -> None:
        if not 200 <= self.status_code < 300:
            raise WebhookError(f"The receiver answered HTTP {self.status_code}.")


def redact(url: str) -> str:
    """The URL without credentials, query or fragment, which may carry secrets: for logs."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise UnsafeURL unless `url` is http(s) and, once resolved, public (or allowed).

    Without `resolve` (at enqueue time: no DNS on the request path), only an
    address written in the URL itself is checked.
    """
    if resolve:
        target(url)
        return
    host = _split(url).hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return
    if not allowed(str(literal)):
        raise UnsafeURL(f"The webhook address {literal} is not public; set QUEUE_WEBHOOK_ALLOW_PRIVATE=true "
                        "or QUEUE_WEBHOOK_ALLOWED_NETWORKS to allow it.")


def target(url: str) -> Target:
    """Resolve `url`'s host once and check every address; raise UnsafeURL if any is refused."""
    parts = _split(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UnsafeURL(f"The webhook host {parts.hostname!r} does not resolve: {exc}.") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        if not allowed(address):
            raise UnsafeURL(
                f"The webhook host {parts.hostname!r} resolves to {address}, a non-public address; "
                "set QUEUE_WEBHOOK_ALLOW_PRIVATE=true or QUEUE_WEBHOOK_ALLOWED_NETWORKS to allow it."
            )
    path = parts.path or "/"
    return Target(parts.scheme, parts.hostname, port, f"{path}?{parts.query}" if parts.query else path, addresses)


def allowed(address: str) -> bool:
    """Whether a webhook may connect to this IP address."""
    if conf.get("WEBHOOK_ALLOW_PRIVATE"):
        return True
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in ipaddress.ip_network(net, strict=False) for net in conf.get("WEBHOOK_ALLOWED_NETWORKS")):
        return True
    return ip.is_global and not ip.is_multicast


def post_json(url: str, document, *, timeout: float | None = None) -> Response:
    """POST `document` as signed JSON; redirects are followed only to safe URLs."""
    body = json.dumps(document, cls=DjangoJSONEncoder).encode()
    timeout = timeout or conf.get("WEBHOOK_TIMEOUT")
    for _ in range(MAX_REDIRECTS + 1):
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   SIGNATURE_HEADER: sign(body, int(time.time()))}
        response = send(target(url), body, headers, timeout)
        location = response.headers.get("location")
        if response.status_code not in REDIRECT_CODES or not location:
            return response
        url = urljoin(url, location)
    raise WebhookError(f"More than {MAX_REDIRECTS} redirects.")


def send(where: Target, body: bytes, headers: dict, timeout: float) -> Response:
    """POST to the first of the target's checked addresses that accepts a connection."""
    failure: Exception | None = None
    for address in where.addresses:
        pool = _pool(where, address, timeout)
        try:
            answer = pool.urlopen("POST", where.path, body=body, headers={**headers, "Host": where.host_header},
                                  redirect=False, retries=False, assert_same_host=False)
            return Response(answer.status, {k.lower(): v for k, v in answer.headers.items()})
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            failure = exc
        except urllib3.exceptions.HTTPError as exc:
            raise WebhookError(f"{type(exc).__name__}: {exc}") from None
        finally:
            pool.close()
    raise WebhookError(f"Could not connect to {where.host} ({', '.join(where.addresses)}): {failure}")


def fetch(url: str, *, max_bytes: int, timeout: float | None = None) -> bytes:
    """GET `url` through the same guard as webhooks (every hop checked, the
    connection pinned to a checked address); at most `max_bytes` are read.
    For handlers that download what a task names (the image type)."""
    timeout = timeout or conf.get("WEBHOOK_TIMEOUT")
    for _ in range(MAX_REDIRECTS + 1):
        where = target(url)
        pool = _pool(where, where.addresses[0], timeout)
        try:
            answer = pool.urlopen("GET", where.path, headers={"User-Agent": USER_AGENT, "Host": where.host_header},
                                  redirect=False, retries=False, assert_same_host=False, preload_content=False)
            location = answer.headers.get("location")
            if answer.status in REDIRECT_CODES and location:
                url = urljoin(url, location)
                continue
            if not 200 <= answer.status < 300:
                raise WebhookError(f"{redact(url)} answered HTTP {answer.status}.")
            body = answer.read(max_bytes + 1)
            if len(body) > max_bytes:
                raise WebhookError(f"{redact(url)} sent more than {max_bytes} bytes.")
            return body
        except urllib3.exceptions.HTTPError as exc:
            raise WebhookError(f"{type(exc).__name__}: {exc}") from None
        finally:
            pool.close()
    raise WebhookError(f"More than {MAX_REDIRECTS} redirects.")


def _pool(where: Target, address: str, timeout: float) -> urllib3.HTTPConnectionPool:
    options = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "maxsize": 1}
    if where.scheme == "https":
        return urllib3.HTTPSConnectionPool(address, where.port, server_hostname=where.host,
                                           assert_hostname=where.host, cert_reqs="CERT_REQUIRED",
                                           ca_certs=conf.get("WEBHOOK_CA_BUNDLE") or certifi.where(), **options)
    return urllib3.HTTPConnectionPool(address, where.port, **options)


def _split(url: str):
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise UnsafeURL("The webhook URL's port is not a number from 0 to 65535.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL(f"Webhook URLs must be http or https with a host, not {redact(url)!r}.")
    return parts
