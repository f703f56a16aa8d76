"""wishes models."""
