"""The pages: the HTML door, one module a domain, each a blueprint over the domains' queries and services."""
from flask import flash

from ..errors import DomainError
from ..extensions import db


def refused(refusal: DomainError) -> None:
    """A refusal a page shows itself (beside its form, or after a redirect): what the service flushed before it
    refused is rolled back, and the reason flashed. The request's commit (unit_of_work) then finds nothing to write."""
    db.session.rollback()
    flash(refusal.message, "error")
