"""The demo village's month of 微心愿."""
from ..grids.models import GridNode


def sample_wishes(village: GridNode) -> None:
    """Creates the demo's 微心愿 through the services, unless the village has some already. Flushes, never commits."""
