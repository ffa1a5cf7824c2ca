"""JSON in and out through orjson (tasks/api/renderers.py, parsers.py): the
bytes DRF's own classes write, the bodies they accept, their error messages."""

import io
import json
import uuid
from datetime import UTC, date, datetime, time
from decimal import Decimal

import pytest
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, parsers, renderers
from rest_framework.utils.serializer_helpers import ReturnDict

from tasks.api.parsers import JSONParser
from tasks.api.renderers import JSONRenderer

WHEN = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.mark.parametrize("data", [
    {"id": str(uuid.uuid4()), "payload": {"to": ["a@example.com"], "n": 1.5, "ok": True, "none": None}},
    [1, -2, 3.25, "é ü 漢字 🚀", "line\u2028separator\u2029too", "quote\" back\\slash \n"],
    {"at": WHEN, "day": date(2030, 1, 2), "clock": time(3, 4, 5), "uuid": uuid.UUID(int=7), "price": Decimal("1.50"),
     "lazy": gettext_lazy("Not found."), "ordered": ReturnDict({"b": 1, "a": 2}, serializer=None), "tuple": (1, 2)},
    {"big": 2**70, "keys": {1: "int key"}},  # orjson refuses both: DRF's renderer writes them
    {}, [], "text", 0, None,
])
def test_the_renderer_writes_the_bytes_drfs_renderer_writes(data):
    assert JSONRenderer().render(data) == renderers.JSONRenderer().render(data)


def test_an_indented_answer_on_request_is_drfs():
    data = {"a": [1, 2]}
    media = "application/json; indent=4"
    assert JSONRenderer().render(data, media) == renderers.JSONRenderer().render(data, media)


def parse(body: bytes, encoding: str = "utf-8"):
    return JSONParser().parse(io.BytesIO(body), "application/json", {"encoding": encoding})


def drf_parse(body: bytes):
    return parsers.JSONParser().parse(io.BytesIO(body), "application/json", {"encoding": "utf-8"})


@pytest.mark.parametrize("body", [
    b'{"type": "echo", "payload": {"n": [1, 2.5, null, true]}}',
    b'{"big": 123456789012345678901234567890}',  # past 64 bits: orjson refuses, Python accepts
    b'{"lone": "\\ud800"}',  # a lone surrogate: orjson refuses, Python accepts (the field check names it)
    '{"text": "é 漢字"}'.encode(),
    b'[' * 1100 + b']' * 1100,  # deeper than orjson goes, within Python's recursion limit
])
def test_the_parser_accepts_what_drfs_parser_accepts(body):
    assert parse(body) == drf_parse(body)


@pytest.mark.parametrize("body", [b'{"a": NaN}', b'{"a": Infinity}', b"{'a': 1}", b'{"a": 1', b"\xff\xfe", b'{"a":1}x'])
def test_the_parser_refuses_what_drfs_parser_refuses_with_its_message(body):
    with pytest.raises(exceptions.ParseError) as ours:
        parse(body)
    with pytest.raises(exceptions.ParseError) as drfs:
        drf_parse(body)
    assert str(ours.value.detail) == str(drfs.value.detail)


def test_nesting_past_pythons_recursion_limit_is_a_parse_error_not_a_crash():
    with pytest.raises(exceptions.ParseError, match="nests too deeply"):
        parse(b"[" * 100_000 + b"]" * 100_000)


def test_a_body_in_another_charset_is_read_in_that_charset():
    assert parse('{"name": "café"}'.encode("latin-1"), "latin-1") == {"name": "café"}
    assert json.loads(JSONRenderer().render({"name": "café"})) == {"name": "café"}


@pytest.mark.parametrize("number", [2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30])
def test_every_digit_of_a_long_integer_is_kept(number):
    assert parse(b'{"n": %d}' % number) == {"n": number}
