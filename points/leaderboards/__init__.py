"""排行榜 and 红黑榜: rankings of households, residents and grids from the ledger's period totals, the village TV's
display page, and the admins' dashboards."""
