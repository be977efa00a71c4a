"""The tree's own rules: no import circles between the project's modules, and a light `import nas` / `nas
--help`."""

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nas", "search_spaces", "strategies")


def _modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, modules: dict[str, Path], this: str) -> set[str]:
    """The project modules `tree` imports, at module level or inside functions (lazy imports count: a circle
    through a lazy import is still two modules that each hold a piece of the other). `from pkg import name`
    points at pkg.name when that is a module, else at pkg itself (whose __init__ must then have run)."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if _type_checking_only(node):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in modules else node.module)
    return {name for name in found if name in modules and name != this}


def test_no_import_circles():
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(ast.parse(path.read_text()), modules, name):
            # A package's __init__ importing its own modules (to register them, or to re-export) is how a
            # package is made, not a circle; a module importing names back from its half-initialised package
            # is.
            if not target.startswith(name + "."):
                graph.add_edge(name, target)
    cycles = sorted(sorted(c) for c in nx.simple_cycles(graph))
    assert not cycles, f"import circles: {cycles}"


def _imported_after(code: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\nprint(sorted({m.split('.')[0] for m in sys.modules}))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1])


def test_import_nas_is_light():
    loaded = _imported_after("import nas")
    assert not {"torch", "ray", "matplotlib"} & set(loaded), loaded


def test_nas_help_imports_neither_torch_nor_ray():
    # -X importtime lists every module the real command imports, on stderr.
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "nas", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0 and "Usage" in proc.stdout, proc.stderr[-2000:]
    loaded = {
        line.rsplit("|", 1)[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line
    }
    assert "typer" in loaded  # the listing works
    assert not {"torch", "ray"} & loaded, sorted(loaded)


def test_architecture_values_import_no_torch():
    # Architectures are built, read, mutated and checked against the op names without torch: strategies, the
    # CLI and result files handle them, and only building a network needs it.
    loaded = _imported_after(
        "import numpy as np\n"
        "import search_spaces.nasnet.arch, search_spaces.nb201.arch\n"
        "from search_spaces import make_space, arch_from_json, to_json\n"
        "from search_spaces.known_cells import KNOWN_CELLS\n"
        "for name in ('nasnet', 'nb201'):\n"
        "    space = make_space(name)\n"
        "    arch = space.mutate(space.sample(np.random.default_rng(0)), np.random.default_rng(1))\n"
        "    assert arch_from_json(to_json(arch)) == arch\n"
        "assert all(arch_from_json(to_json(a)) == a for a in KNOWN_CELLS.values())"
    )
    assert "search_spaces" in loaded and "torch" not in loaded, loaded
