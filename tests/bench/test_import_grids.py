"""The workbook of bench/import_grids.py, in small, is a tree the import takes whole: the benchmark measures what the
import does, not its refusals."""
import sys
from pathlib import Path

from points.auth.tree_workbook import COLUMNS, import_tree
from points.grids.models import NodeKind
from points.grids.services import create_node

from .. import factories

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.import_grids import tree_rows  # noqa: E402


def test_the_benchmarks_town_imports_whole():
    town = create_node("虹桥镇", "hq", NodeKind.TOWN)
    rows, staff = tree_rows(villages=2, grids=5, micro=13, seed=1)
    report = import_tree(None, town, factories.gen_workbook(COLUMNS, rows), 10 * 1048576)
    assert report.ok, report.errors[:3]
    assert (report.count(NodeKind.VILLAGE), report.count(NodeKind.GRID), len(report.accounts)) == (2, 18, staff)
