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


# -- layers: lower packages never import higher ones --

# The engine's packages from the bottom up. A module may import its own package and any lower layer, never a
# higher one: training, pictures and export read runs through the records layer (nas.runs), not through the
# orchestration (nas.searching), and the orchestration is driven only by the API and the commands above it.
LAYERS = (
    ("errors", "atomic", "arch_file", "_version", "provenance", "score_names", "strategy_names"),  # helpers
    ("runs",),  # the run folder, Trial records, the ranking rule, the Pareto front
    ("train",),  # data, DataSpec, presets, the training loop, checkpoints, final training
    ("scores",),  # training-free scores
    ("export", "viz"),  # export folders; pictures
    ("bench",),  # tabular benchmarks of the strategies
    ("searching",),  # the search's orchestration (config, driver, Ray Tune glue)
    ("api", "api_calls"),  # nas.search, nas.open_run, Run; their argument checks and messages
    ("commands", "cli", "__main__", ""),  # the CLI, and `nas` itself (the package's facade)
)
LEVEL = {name: level for level, names in enumerate(LAYERS) for name in names}


def _part(module: str) -> str:
    """nas.runs.folder -> runs; nas -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_engine_package_has_a_layer():
    parts = {_part(m) for m in _modules() if m.split(".")[0] == "nas"}
    assert parts <= set(LEVEL), f"packages without a layer in LAYERS: {sorted(parts - set(LEVEL))}"


def test_no_package_imports_one_above_it():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        if name.split(".")[0] != "nas":
            continue
        for target in _imports(ast.parse(path.read_text()), modules, name):
            if target.split(".")[0] != "nas" or _part(target) == _part(name):
                continue
            if LEVEL[_part(target)] > LEVEL[_part(name)]:
                upward.append(f"{name} -> {target}")
    assert not upward, f"imports of a higher layer: {upward}"


def test_spaces_and_strategies_import_no_engine():
    modules = _modules()
    found = [
        f"{name} -> {target}"
        for name, path in modules.items()
        if name.split(".")[0] in ("search_spaces", "strategies")
        for target in _imports(ast.parse(path.read_text()), modules, name)
        if target.split(".")[0] == "nas"
    ]
    assert not found, found


# -- the data's shape: resolved once, fitted by one function ------------------------------------------------

# Where the size, the normalisation and the fitting of a preset are worked out; nowhere else may call these.
DERIVERS = {
    "stem_stride": {"nas.train.images", "nas.train.presets"},  # the size rule; fit_preset
    "normalization": {"nas.train.images"},  # mean/std, in finish_dataset
    "auto_image_size": {"nas.train.images", "nas.train.downloads"},  # the readers
    "choose_size": {"nas.train.images", "nas.train.data"},  # the readers
    "DataSpec": {"nas.train.images", "nas.train.data_spec"},  # finish_dataset; from_dict, cifar10_spec
}


def _calls(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            names.add(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
    return names


def test_size_and_normalisation_are_derived_in_one_place():
    calls = {name: _calls(ast.parse(path.read_text())) for name, path in _modules().items()}
    for function, allowed in DERIVERS.items():
        callers = {name for name, called in calls.items() if function in called}
        assert callers <= allowed, (
            f"{function} is called outside {sorted(allowed)}: {sorted(callers - allowed)}"
        )


def test_one_function_fits_a_preset_to_the_data():
    defined = []
    for name, path in _modules().items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name in ("fit_preset", "for_data", "fitted_to"):
                defined.append(f"{name}.{node.name}")
    assert defined == ["nas.train.presets.fit_preset"], defined


def test_nas_search_is_a_function_with_the_settings_in_its_signature():
    import dataclasses
    import inspect

    import nas
    from nas.searching.config import SearchConfig

    assert inspect.isfunction(nas.search) and "strategy" in (nas.search.__doc__ or "")
    parameters = inspect.signature(nas.search).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    written_by_the_search = {"data_spec"}
    settings = {f.name for f in dataclasses.fields(SearchConfig)} - written_by_the_search
    assert settings <= set(parameters), (
        f"settings missing from nas.search: {sorted(settings - set(parameters))}"
    )
    for setting in settings:  # the docstring lists every setting
        assert f"\n    {setting} " in nas.search.__doc__, setting
