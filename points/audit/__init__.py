"""审计日志: who changed points, rules, roles or households, when, and what it was before and after."""
