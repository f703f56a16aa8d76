"""The pages: the HTML door, one module a domain, each a blueprint over the domains' queries and services."""
