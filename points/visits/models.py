"""visits models."""
