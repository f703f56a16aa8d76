"""户 and 村民: households, their residents and the personal data that must stay in scope."""
