"""Users, login, role assignments and the one place where access is decided (policy.py)."""
