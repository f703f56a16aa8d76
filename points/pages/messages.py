"""Pages of messages."""
from flask import Blueprint

bp = Blueprint("messages", __name__)
