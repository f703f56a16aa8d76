"""The demo village's month of 民情诉求."""
from ..grids.models import GridNode


def sample_reports(village: GridNode) -> None:
    """Creates the demo's 民情诉求 through the services, unless the village has some already. Flushes, never commits."""
