"""/api/v1 visits."""
from .blueprint import Blueprint

bp = Blueprint("api_visits", __name__, description="走访（敲门行动）与网格员履职")
