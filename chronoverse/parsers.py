"""The JSON parser of the API: DRF's, refusing what Postgres or Python would choke on later."""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            # A body nested thousands of levels deep: malformed for our purposes, not a crash.
            raise ParseError("JSON nested too deeply.") from None
        # Postgres text and jsonb cannot store NUL characters; refuse them here, as a 400.
        if _has_nul(data):
            raise ParseError("NUL characters (\\u0000) are not allowed.")
        return data
