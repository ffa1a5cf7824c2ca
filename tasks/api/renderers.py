"""The API's JSON renderer: orjson, writing the bytes DRF's JSONRenderer writes;
and the content negotiation that picks it.

Compact, UTF-8, times through DRF's encoder ("Z" for UTC), U+2028 and U+2029
escaped as DRF does (so the output is also valid JavaScript). Anything orjson
cannot write (integers past 64 bits, keys that are not strings), and the
indented form a client may ask for (`Accept: application/json; indent=4`), goes
through DRF's renderer.
"""

import orjson
from rest_framework import negotiation, renderers
from rest_framework.utils.encoders import JSONEncoder

OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME  # datetimes, dates and times go to DRF's encoder
LINE_SEPARATORS = ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029")
_default = JSONEncoder().default


class JSONRenderer(renderers.JSONRenderer):
    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if accepted_media_type and "indent" in accepted_media_type or (renderer_context or {}).get("indent"):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_default, option=OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        for raw, escaped in LINE_SEPARATORS:
            if raw in body:
                body = body.replace(raw, escaped)
        return body


class ContentNegotiation(negotiation.DefaultContentNegotiation):
    """DRF's negotiation, which parses the Accept header on every request, with
    the answer for what nearly every client sends (no Accept, */*, or
    application/json) given at once: the JSON renderer, as DRF would choose it."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (accept in PLAIN_ACCEPT and not format_suffix and renderers
                and renderers[0].media_type == "application/json"
                and self.settings.URL_FORMAT_OVERRIDE not in request.query_params):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)


PLAIN_ACCEPT = frozenset({"*/*", "application/json"})
