"""Pages of reports."""
from flask import Blueprint

bp = Blueprint("reports", __name__)
