"""claims pages."""
from flask import Blueprint

bp = Blueprint("claims", __name__)
