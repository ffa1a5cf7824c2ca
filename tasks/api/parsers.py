"""The API's JSON parser: DRF's, with deep nesting turned into a 400.

json.loads follows nesting by recursion: a body of 100,000 "[" overflows
Python's recursion limit, a RecursionError that DRF would let through as a
500. Here it is a parse error like any other malformed JSON. (The body's size
is capped before parsing by Django's DATA_UPLOAD_MAX_MEMORY_SIZE; see
queueproject/middleware.py for its 413.)
"""

from rest_framework import exceptions, parsers


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document nests too deeply.") from None
