"""网格: the tree of town, villages and grids that every scope hangs from."""
