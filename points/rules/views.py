"""The rule book's pages: read, add, revise, and .xlsx import and export (积分细则)."""
from flask import Blueprint

bp = Blueprint("rules", __name__)
