"""Standard competition ranks, as the boards, the 卫生评比 and the months' grids give them: equal values share a
place and the next place skips."""


def competition_ranks(values: list) -> list[int]:
    """The ranks of values already sorted best first: 1, 2, 2, 4 for 9, 7, 7, 3 (or for 3, 5, 5, 7, fewest first)."""
    ranks: list[int] = []
    for position, value in enumerate(values):
        ranks.append(ranks[-1] if position and value == values[position - 1] else position + 1)
    return ranks
