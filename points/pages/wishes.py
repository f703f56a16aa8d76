"""Pages of wishes."""
from flask import Blueprint

bp = Blueprint("wishes", __name__)
