"""The demo village's month of 走访."""
from ..grids.models import GridNode


def sample_visits(village: GridNode) -> None:
    """Creates the demo's 走访 through the services, unless the village has some already. Flushes, never commits."""
