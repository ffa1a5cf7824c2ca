"""The API's JSON parser: orjson for speed, DRF's own parser for every body
orjson refuses, so that what is accepted and every error message stay DRF's.

orjson refuses some JSON that Python's json module accepts (strings with lone
UTF-16 surrogates, nesting deeper than 1024): those bodies go through DRF's
parser, and the field checks then name the problem. It also reads integers
past 64 bits as floats, silently: a body with a run of 19 digits or more (such
an integer, or a harmless long number or string) is left to DRF's parser too,
which keeps every digit.

json.loads follows nesting by recursion: a body of 100,000 "[" overflows
Python's recursion limit, a RecursionError that DRF would let through as a
500. Here it is a parse error like any other malformed JSON. (The body's size
is capped before parsing; see tasks/api/middleware.py for its 413.)
"""

import io
import re

import orjson
from django.conf import settings
from rest_framework import exceptions, parsers


LONG_NUMBER = re.compile(rb"[0-9]{19}")


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read()
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        if encoding.lower().replace("-", "") == "utf8" and not LONG_NUMBER.search(body):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass  # DRF's parser decides, with its own message
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document nests too deeply.") from None
