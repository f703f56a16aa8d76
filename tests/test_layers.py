"""The shape of points/, checked from its source: who may import whom, no cycles between packages, no module over
500 lines and no function over 60.

A unit is a package or a module directly under points/ (points.ledger, points.periods). A unit may import only
from units in layers below its own (and from itself). The two doors, pages and api, share a layer: neither imports
the other."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "points"

# Lowest first. Each domain sits on those before it: the log under everything that records, the tree under the
# register, accounts and their policy (who may) over the register, the rule book over accounts, the ledger over
# the rules, and each feature over the ledger and the features it reads.
LAYERS: list[set[str]] = [
    {"config"},
    {"extensions"},
    {"timeutil"},
    {"errors"},
    {"limits", "paging", "ranking", "qr", "unit_of_work", "assets"},
    {"periods", "xlsx", "media"},
    {"uploads"},
    {"audit"},
    {"grids"},
    {"people"},
    {"auth"},
    {"rules"},
    {"ledger"},
    {"messages"},
    {"claims"},
    {"events"},
    {"hygiene"},
    {"shop"},
    {"reports", "wishes", "visits"},  # the grid's own work: 民情诉求, 微心愿, 走访
    {"leaderboards"},
    {"dashboards"},
    {"demo", "backup"},
    {"pages", "api"},  # the two doors
    {"models", "cli"},
    {"points"},  # the app factory
]
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60


def _modules() -> list[Path]:
    return sorted(ROOT.rglob("*.py"))


def _dotted(path: Path) -> str:
    parts = ("points", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _unit(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[0] != "points":
        return None
    return parts[1] if len(parts) > 1 else "points"


def _imported(path: Path) -> list[tuple[str, int]]:
    """Every module of points/ the file imports (for "from x import y": x.y, which is x when y is a name in it),
    with its line."""
    package = _dotted(path) if path.name == "__init__.py" else _dotted(path).rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found += [(_module_of(module, alias.name), node.lineno) for alias in node.names]
    return found


def _module_of(module: str, name: str) -> str:
    """x.y when y is a module or package of x, else x (y is a name defined in x)."""
    relative = Path(*f"{module}.{name}".split(".")[1:])
    found = (ROOT / relative).with_suffix(".py").exists() or (ROOT / relative).is_dir()
    return f"{module}.{name}" if found else module


def _edges() -> dict[tuple[str, str], list[str]]:
    edges: dict[tuple[str, str], list[str]] = {}
    for path in _modules():
        source = _unit(_dotted(path))
        for module, line in _imported(path):
            target = _unit(module)
            if target is not None and target != source:
                edges.setdefault((source, target), []).append(f"{path.relative_to(ROOT.parent)}:{line}")
    return edges


def _layer(unit: str) -> int:
    return next(index for index, layer in enumerate(LAYERS) if unit in layer)


def test_every_unit_has_a_layer():
    units = {_unit(_dotted(path)) for path in _modules()}
    placed = set().union(*LAYERS)
    assert units - placed == set(), "new packages or modules under points/: give each a place in LAYERS"
    assert placed - units == set(), "LAYERS names units that no longer exist"


def test_imports_only_go_down():
    upward = [
        f"{source} -> {target} ({', '.join(where)})"
        for (source, target), where in sorted(_edges().items())
        if _layer(target) >= _layer(source)
    ]
    assert upward == []


def _cycles(edges) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(unit):
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        on_stack.add(unit)
        for other in graph[unit]:
            if other not in index:
                visit(other)
                low[unit] = min(low[unit], low[other])
            elif other in on_stack:
                low[unit] = min(low[unit], index[other])
        if low[unit] == index[unit]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == unit:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return found


def test_no_import_cycle_between_packages():
    assert _cycles(_edges()) == []


def test_the_cycle_check_finds_a_cycle():
    assert _cycles({("a", "b"): [], ("b", "c"): [], ("c", "a"): [], ("c", "d"): []}) == [["a", "b", "c"]]


def test_no_module_over_the_limit():
    long = {str(path.relative_to(ROOT.parent)): n for path in _modules()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert long == {}


def test_no_function_over_the_limit():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                if (lines := node.end_lineno - first + 1) > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(ROOT.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert long == []


@pytest.mark.parametrize("source, target, allowed", [
    ("ledger", "rules", True), ("rules", "ledger", False), ("pages", "api", False), ("ledger", "pages", False),
    ("people", "auth", False), ("audit", "auth", False), ("errors", "ledger", False),
])
def test_the_order_reads_as_documented(source, target, allowed):
    assert (_layer(target) < _layer(source)) is allowed
