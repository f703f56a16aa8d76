"""/api/v1 wishes."""
from .blueprint import Blueprint

bp = Blueprint("api_wishes", __name__, description="微心愿")
