"""账本: the append-only ledger of points, the only writer of entries, balances and period totals."""
