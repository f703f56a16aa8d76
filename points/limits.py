"""Bounds on numbers that arrive in URLs, so that an absurd one is a miss or a 422, never a database error."""
from werkzeug.routing import IntegerConverter

# The largest id an INTEGER column holds on PostgreSQL.
MAX_ID = 2_147_483_647
# Keeps OFFSET (page × per_page) far inside what both databases accept.
MAX_PAGE = 1_000_000


class IdConverter(IntegerConverter):
    """<id:name> in a route: a row id from 1 to MAX_ID, in ASCII digits (\\d would take ١٢ or １２ too); anything
    else is a 404."""

    regex = r"[0-9]+"

    def __init__(self, map, *args, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)
