"""/api/v1 messages."""
from .blueprint import Blueprint

bp = Blueprint("api_messages", __name__, description="站内消息")
