"""Cursor pagination in a stable order, for tables of any size.

Ids are UUIDv7, time-ordered, so ordering by id is creation order and each
page is a range scan on an index ((status, id) when filtered by status, the
primary key otherwise): page 10,000 costs what page 1 costs, and rows added
meanwhile never shift a page. No total count is computed.
"""

import uuid

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstCursor(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    invalid_cursor_message = "Invalid cursor: use the `next` or `previous` link of a page."

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            size = int(raw)
        except ValueError:
            size = 0
        if size < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number of at least 1."]})
        return min(size, self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = f"Tasks per page: default {self.page_size}, at most {self.max_page_size}."
                parameter["schema"] = {"type": "integer", "minimum": 1, "default": self.page_size}
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "Opaque: take it from the `next` or `previous` link of a page."
        return parameters

    def decode_cursor(self, request):
        """A cursor that is not one of ours is bad input (400 naming `cursor`), not a missing page."""
        try:
            cursor = super().decode_cursor(request)
            if cursor is not None and cursor.position is not None:
                uuid.UUID(cursor.position)
        except (NotFound, ValueError):
            raise ValidationError({self.cursor_query_param: [self.invalid_cursor_message]}) from None
        return cursor
