"""ledger pages."""
from flask import Blueprint

bp = Blueprint("ledger", __name__)
