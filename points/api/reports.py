"""/api/v1 reports."""
from .blueprint import Blueprint

bp = Blueprint("api_reports", __name__, description="民情诉求（随手拍）")
