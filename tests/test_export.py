"""Export: the generated code, run without the engine, computes what the engine computes; bad input is refused
in one line with exit code 2 and leaves nothing behind."""

import ast
import dataclasses
import inspect
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import nas
import search_spaces as S
from nas.atomic import write_json
from nas.cli import main
from nas.errors import UserError
from nas.export.codegen import generate_source
from nas.export.folder import _move_into_place, export, import_model_file, read_export, resolve_source
from nas.runs.folder import RunFolder, write_trials
from nas.train.checkpoint import Checkpoint, save_checkpoint
from nas.train.presets import PRESETS
from search_spaces.known_cells import DARTS_V2, ENAS
from search_spaces.nasnet import Block, Cell, NasnetArch
from search_spaces.nasnet.network import CellModule, NasnetNetwork
from search_spaces.nb201 import EDGES
from search_spaces.ops import OPS, SepConv

ROOT = Path(__file__).resolve().parents[1]
TINY = S.ModelConfig(channels=8, cells_per_stage=1)
ATOL = 1e-5


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # These networks are tiny: a second thread buys nothing, and on a busy 2-core machine OpenMP's hand-offs
    # make every op wait for a core (milliseconds per convolution instead of microseconds).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def randomise(model, seed):
    """Weights far from their initial values, BN running statistics included, so that equal outputs mean
    equal computations (fresh BN layers are the identity and would hide a missing or misplaced one)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith("running_var"):
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=g))
            elif name.endswith(("running_mean", "bias")):
                tensor.copy_(0.2 * torch.randn(tensor.shape, generator=g))
            elif tensor.dim() == 1:  # BN scale
                tensor.copy_(0.5 + torch.rand(tensor.shape, generator=g))
            else:
                tensor.add_(0.1 * tensor.std().nan_to_num(0.1) * torch.randn(tensor.shape, generator=g))
    return model


def trained_checkpoint(path, arch, config=TINY, seed=0, metadata=None):
    model = randomise(S.make_space(arch.space).build(arch, config), seed)
    save_checkpoint(path, Checkpoint(arch, {}, config, model.state_dict(), metadata or {}))
    return model.eval()


def nb201_with_conv_and_skip(seed):
    space, rng = S.make_space("nb201"), np.random.default_rng(seed)
    while True:
        arch = space.sample(rng)
        if {"nor_conv_3x3", "skip_connect"} <= set(arch.ops) and "nor_conv_1x1" not in arch.ops:
            return arch


def _cell_covering_all_ops(chain: bool) -> Cell:
    """Six blocks whose twelve op slots hold every registered op. chain=False: every block reads the cell
    inputs (in a reduction cell all ops then run at stride 2); chain=True: each block reads the one before."""
    ops = sorted(OPS) * 2
    return Cell(
        tuple(Block((b % 2, 1 + b if chain and b else 1), (ops[2 * b], ops[2 * b + 1])) for b in range(6))
    )


ALL_OPS = NasnetArch(normal=_cell_covering_all_ops(chain=True), reduce=_cell_covering_all_ops(chain=False))

CASES = {
    # DARTS-V2 trained with an auxiliary head and drop-path, whose weights and modules the export drops.
    "darts_v2": (DARTS_V2, S.ModelConfig(channels=8, cells_per_stage=1, auxiliary=True, drop_path=0.2)),
    "enas": (ENAS, TINY),
    "random_nasnet": (S.make_space("nasnet").sample(np.random.default_rng(7)), TINY),
    "random_nb201": (nb201_with_conv_and_skip(3), TINY),
}

FRESH_INTERPRETER = textwrap.dedent(
    """
    import importlib.abc, importlib.util, json, sys
    import torch

    torch.set_num_threads(1)

    class NoEngine(importlib.abc.MetaPathFinder):
        # The engine is installed in this environment; make sure the exported code never reaches for it.
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("nas", "search_spaces", "strategies"):
                raise ImportError(f"exported code imported the engine module {name}")
            return None

    sys.meta_path.insert(0, NoEngine())
    cases = json.loads(sys.argv[1])
    for name, folder in cases.items():
        spec = importlib.util.spec_from_file_location(f"exported_{name}", f"{folder}/model.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        model = module.Network()
        result = model.load_state_dict(torch.load(f"{folder}/weights.pt", weights_only=True), strict=True)
        assert not result.missing_keys and not result.unexpected_keys
        model.eval()
        x = torch.load(f"{folder}/../{name}_input.pt", weights_only=True)
        scripted = torch.jit.load(f"{folder}/model.torchscript.pt")
        with torch.no_grad():
            torch.save({"py": model(x), "torchscript": scripted(x)}, f"{folder}/../{name}_output.pt")
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("nas", "search_spaces", "strategies")))
    """
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Each case exported from a checkpoint with random weights, then run in a fresh interpreter that cannot
    import the engine; returns {case: (engine output, exported outputs, export folder)}."""
    root = tmp_path_factory.mktemp("exports")
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    engine_outputs, folders = {}, {}
    for seed, (name, (arch, config)) in enumerate(CASES.items()):
        engine = trained_checkpoint(root / f"{name}.pt", arch, config, seed=seed)
        with torch.no_grad():
            engine_outputs[name] = engine(x)
        export(resolve_source(weights=root / f"{name}.pt"), root / name, ("py", "torchscript"))
        torch.save(x, root / f"{name}_input.pt")
        folders[name] = str(root / name)
    # -I: no PYTHONPATH, no user site, no script folder on sys.path; cwd outside the project.
    proc = subprocess.run(
        [sys.executable, "-I", "-c", FRESH_INTERPRETER, json.dumps(folders)],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"  # no engine module was imported
    return {
        name: (
            engine_outputs[name],
            torch.load(root / f"{name}_output.pt", weights_only=True),
            Path(folders[name]),
        )
        for name in CASES
    }


@pytest.mark.parametrize("name", sorted(CASES))
def test_exported_code_and_torchscript_match_engine(exported, name):
    reference, outputs, _ = exported[name]
    assert reference.abs().max() > 1e-3 and reference.std(dim=0).max() > 1e-4  # a non-degenerate network
    torch.testing.assert_close(outputs["py"], reference, rtol=0, atol=ATOL)
    torch.testing.assert_close(outputs["torchscript"], reference, rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", sorted(CASES))
def test_weights_load_strictly_under_the_engines_names(exported, name):
    folder = exported[name][2]
    weights = torch.load(folder / "weights.pt", weights_only=True)
    model = import_model_file(folder / "model.py").Network()
    assert set(weights) == set(model.state_dict())
    model.load_state_dict(weights, strict=True)
    arch, config = CASES[name]
    engine = S.make_space(arch.space).build(arch, config).state_dict()
    # The exported network is the engine's, so its weights keep their names; only the auxiliary head's go.
    assert set(weights) == {k for k in engine if not k.startswith("auxiliary_head.")}
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["arch_hash"] == S.canonical_hash(arch) and meta["trained"] is True
    assert meta["params"] == sum(v.numel() for k, v in model.named_parameters())  # aux head not counted
    assert meta["flops"] > 0 and meta["versions"]["torch"] == torch.__version__
    assert S.arch_from_json((folder / "arch.json").read_text()) == arch


def assert_ruff_clean(*files):
    files = [str(f) for f in files]
    fmt = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,W,F,I,B,UP,N", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_generated_code_is_formatted_and_passes_the_linter(exported):
    assert_ruff_clean(*(exported[name][2] / "model.py" for name in CASES))


def _classes_and_imports(source):
    tree = ast.parse(source)
    classes = {node.name for node in tree.body if isinstance(node, ast.ClassDef)}
    imports = {alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
    imports |= {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    return classes, imports


def test_generated_code_is_the_engines_network_with_the_arch_as_a_constant(exported):
    darts_folder = exported["darts_v2"][2]
    darts = (darts_folder / "model.py").read_text()
    classes, imports = _classes_and_imports(darts)
    assert imports == {"torch", "dataclasses"}
    # DARTS-V2 uses sep and dilated convs, max pools and identities; no "none" op and no NB201 reduction. Its
    # architecture classes come as fields only; the network classes are the engine's own.
    assert classes == {
        "Classifier",
        "Block",
        "Cell",
        "NasnetArch",
        "ModelConfig",
        "ReLUConvBN",
        "DilConv",
        "SepConv",
        "FactorizedReduce",
        "DropPath",
        "CellModule",
        "AuxiliaryHead",
        "NasnetNetwork",
        "Network",
    }
    module = import_model_file(darts_folder / "model.py")
    assert dataclasses.asdict(module.ARCH) == dataclasses.asdict(DARTS_V2)
    assert set(module.OPS) == {"sep_conv_3x3", "dil_conv_3x3", "max_pool_3x3", "identity"}
    config = CASES["darts_v2"][1]
    assert dataclasses.asdict(module.CONFIG) == dataclasses.asdict(
        dataclasses.replace(config, auxiliary=False)
    )
    for engine_class in (CellModule, NasnetNetwork, SepConv, S.ModelConfig):  # copied, not rewritten
        assert inspect.getsource(getattr(module, engine_class.__name__)) == inspect.getsource(engine_class)
    nb201_folder = exported["random_nb201"][2]
    nb201 = (nb201_folder / "model.py").read_text()
    classes, imports = _classes_and_imports(nb201)
    # Only the ops it uses: no separable or dilated convs (FactorizedReduce comes with identity's builder).
    assert imports == {"torch", "dataclasses"} and {"SepConv", "DilConv"}.isdisjoint(classes)
    assert {"Nb201Arch", "ReLUConvBN", "ResidualReduction", "Nb201Cell", "Nb201Network", "Network"} <= classes
    module = import_model_file(nb201_folder / "model.py")
    assert module.ARCH.ops == CASES["random_nb201"][0].ops and module.EDGES == EDGES
    for source in (darts, nb201):
        assert "genotype" not in source.lower() and "search_spaces" not in source


def test_every_registered_op_exports(tmp_path):
    assert {op for cell in ALL_OPS.cells().values() for b in cell.blocks for op in b.ops} == set(OPS)
    engine = trained_checkpoint(
        tmp_path / "all.pt", ALL_OPS, S.ModelConfig(channels=4, cells_per_stage=1), seed=5
    )
    export(resolve_source(weights=tmp_path / "all.pt"), tmp_path / "out")
    model = nas.load(tmp_path / "out")
    assert not model.training
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(model(x), engine(x), rtol=0, atol=ATOL)


def test_every_registered_op_copies_clean_engine_code(tmp_path):
    """Export copies engine code by its source: whatever an op or a space names must pass the generated
    code's lint (ruff's defaults: 88 columns) and every class it needs must come with it."""
    archs = [ALL_OPS] + [S.make_space(name).sample(np.random.default_rng(0)) for name in sorted(S.SPACES)]
    config = S.ModelConfig(channels=4, cells_per_stage=1, auxiliary=True, drop_path=0.1, dropout=0.2)
    paths = []
    for k, arch in enumerate(archs):
        paths.append(tmp_path / f"model_{k}.py")
        paths[-1].write_text(
            generate_source(arch, config, "A generated network.\n\nWith a second paragraph.")
        )
    assert_ruff_clean(*paths)
    assert {"SepConv", "DilConv", "Zero", "FactorizedReduce"} <= _classes_and_imports(paths[0].read_text())[0]
    assert set(import_model_file(paths[0]).OPS) == set(OPS)


def test_import_nas_does_not_import_torch():
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, nas; print('torch' in sys.modules, callable(nas.load))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.split() == ["False", "True"], proc.stderr


def test_onnx(tmp_path):
    arch, config = CASES["random_nb201"]
    engine = trained_checkpoint(tmp_path / "w.pt", arch, config, seed=9)
    try:
        import onnx
    except ImportError:
        with pytest.raises(UserError, match="needs the onnx package"):
            export(resolve_source(weights=tmp_path / "w.pt"), tmp_path / "out", ("onnx",))
        assert not (tmp_path / "out").exists()
        return
    from onnx.reference import ReferenceEvaluator

    export(resolve_source(weights=tmp_path / "w.pt"), tmp_path / "out", ("onnx",), batch_size=2)
    graph = onnx.load(str(tmp_path / "out" / "model.onnx"))
    onnx.checker.check_model(graph, full_check=True)
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    (logits,) = ReferenceEvaluator(graph).run(None, {graph.graph.input[0].name: x.numpy()})
    with torch.no_grad():
        torch.testing.assert_close(torch.from_numpy(logits), engine(x), rtol=0, atol=1e-4)


# -- the command --


@pytest.fixture
def run(tmp_path):
    """A run whose best candidate is ENAS with a final.pt, and a second, untrained candidate."""
    folder = RunFolder(tmp_path / "results" / "run")
    write_json(folder.config_path, {"space": "nasnet", "space_options": {}})
    other = S.make_space("nasnet").sample(np.random.default_rng(11))
    rows = [
        {
            "trial_id": "t0",
            "proposal": 0,
            "arch": S.to_json(other),
            "arch_hash": S.canonical_hash(other),
            "space": "nasnet",
            "status": "completed",
            "val_accuracy": 0.6,
        },
        {
            "trial_id": "t1",
            "proposal": 1,
            "arch": S.to_json(ENAS),
            "arch_hash": S.canonical_hash(ENAS),
            "space": "nasnet",
            "status": "completed",
            "val_accuracy": 0.8,
        },
        {"trial_id": "t2", "proposal": 2, "status": "failed", "error": "boom"},
    ]
    write_trials(folder.trials_path, rows)
    engine = trained_checkpoint(folder.final_checkpoint_path, ENAS, seed=4, metadata={"test_accuracy": 0.5})
    write_json(folder.final_record_path, {"test_accuracy": 0.93})
    return folder, engine, other


def nas_cli(monkeypatch, capsys, *args):
    monkeypatch.setattr(sys, "argv", ["nas", *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


def test_export_best_candidate_with_final_weights(run, monkeypatch, capsys):
    folder, engine, _ = run
    out = folder.path.parent.parent / "export"
    code, stdout, stderr = nas_cli(
        monkeypatch, capsys, "export", "run", "--results-dir", folder.path.parent, "-o", out
    )
    assert code == 0 and "warning" not in stderr and "test accuracy 0.9300" in stdout
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["trained"] and meta["test_accuracy"] == 0.93 and meta["val_accuracy"] == 0.8
    assert meta["source"]["rank"] == 1 and meta["source"]["weights"] == str(
        folder.final_checkpoint_path.resolve()
    )
    assert meta["files"] == ["model.py", "weights.pt", "arch.json", "metadata.json"]
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(nas.load(out)(x), engine(x), rtol=0, atol=ATOL)


def test_export_without_trained_weights_warns(run, monkeypatch, capsys):
    folder, _, other = run
    # The real final preset builds a 3.3M-parameter network: too slow to export in a unit test.
    monkeypatch.setitem(PRESETS, "final", dataclasses.replace(PRESETS["final"], model=TINY))
    out = folder.path.parent.parent / "export"
    code, _, stderr = nas_cli(monkeypatch, capsys, "export", folder.path, "--rank", 2, "-o", out)
    assert code == 0 and stderr.startswith("warning: exporting untrained, freshly initialised weights")
    meta = json.loads((out / "metadata.json").read_text())
    assert not meta["trained"] and meta["arch_hash"] == S.canonical_hash(other)
    assert S.ModelConfig(**meta["model_config"]) == TINY
    assert "weights: UNTRAINED" in (out / "model.py").read_text()
    assert_ruff_clean(out / "model.py")


def _other_weights(tmp_path, arch):
    trained_checkpoint(tmp_path / "other.pt", arch, seed=1)
    return tmp_path / "other.pt"


def _bad_weights(tmp_path):
    """A checkpoint that claims ENAS at C=8 but carries the weights of a C=16 network."""
    wide = S.make_space("nasnet").build(ENAS, S.ModelConfig(channels=16, cells_per_stage=1))
    save_checkpoint(tmp_path / "shapes.pt", Checkpoint(ENAS, {}, TINY, wide.state_dict()))
    return tmp_path / "shapes.pt"


@pytest.mark.parametrize(
    "args, message",
    [
        (["nope"], "no run 'nope'"),
        (["run", "--rank", "3"], "--rank 3 is out of range: run run has 2 completed candidates"),
        (["run", "--weights", "{other}"], "holds architecture"),
        (["--arch", "enas", "--weights", "{shapes}"], "do not fit architecture"),
        (["run", "--model-format", "onnx"], "--model-format onnx needs the onnx package"),
        (["run", "-f", "pdf"], "--model-format/-f: 'pdf' is not one of 'py', 'torchscript', 'onnx'"),
        (["run", "--rank", "1", "--arch", "enas"], "pass only one"),
        (["--arch", "{missing}"], "no such file"),
        (["run", "-o", "{existing}"], "already exists"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(run, tmp_path, monkeypatch, capsys, args, message):
    folder, _, other = run
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "keep.txt").write_text("mine")
    makers = {
        "other": lambda: _other_weights(tmp_path, other),
        "shapes": lambda: _bad_weights(tmp_path),
        "missing": lambda: tmp_path / "no.json",
        "existing": lambda: tmp_path / "existing",
    }
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the optional extra were not installed
    args = [str(makers[a[1:-1]]()) if a.startswith("{") else a for a in args]
    out = ["-o", tmp_path / "export"] if "-o" not in args else []
    before = sorted(p.name for p in tmp_path.iterdir())
    code, _, stderr = nas_cli(monkeypatch, capsys, "export", *args, "--results-dir", folder.path.parent, *out)
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr and stderr.count("\n") == 1, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no export folder, no temporary left over
    assert (tmp_path / "existing" / "keep.txt").read_text() == "mine"


def test_overwrite_swaps_folders_whole(tmp_path):
    old, new = tmp_path / "export", tmp_path / ".export.new"
    old.mkdir()
    (old / "old.txt").write_text("old")
    new.mkdir()
    (new / "model.py").write_text("new")
    _move_into_place(new, old)
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # old copy and temporaries gone
    assert [p.name for p in old.iterdir()] == ["model.py"]


def test_python_m_nas_export_exit_code(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "nas", "export", "nope", "--results-dir", tmp_path, "-o", tmp_path / "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: no run 'nope'") and proc.stderr.count("\n") == 1
    assert not (tmp_path / "x").exists()


def _has(model, kind):
    return any(isinstance(m, kind) for m in model.modules())


@pytest.mark.parametrize("name", sorted(S.SPACES))
@pytest.mark.parametrize(
    "settings",
    [{"norm": "none"}, {"dropout": 0.3}, {"norm": "none", "dropout": 0.3, "drop_path": 0.2}],
    ids=["norm-none", "dropout", "all"],
)
def test_build_settings_survive_export_and_predict(tmp_path, name, settings):
    arch = S.make_space(name).sample(np.random.default_rng(6))
    config = dataclasses.replace(TINY, **settings)
    engine = trained_checkpoint(tmp_path / "w.pt", arch, config, seed=3)
    export(resolve_source(weights=tmp_path / "w.pt"), tmp_path / "out")
    meta = json.loads((tmp_path / "out" / "metadata.json").read_text())
    assert S.ModelConfig(**meta["model_config"]) == config
    assert dataclasses.asdict(import_model_file(tmp_path / "out" / "model.py").CONFIG) == dataclasses.asdict(
        config
    )
    model = nas.load(tmp_path / "out")  # what `nas predict` loads
    norm = nn.modules.batchnorm._BatchNorm
    assert _has(model, norm) == _has(engine, norm) == (config.norm == "batch")
    assert _has(model, nn.Dropout) == _has(engine, nn.Dropout) == (config.dropout > 0)
    x = torch.randn(3, 3, 32, 32, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        reference = engine(x)
        torch.testing.assert_close(model(x), reference, rtol=0, atol=ATOL)
    images = np.random.default_rng(0).integers(0, 256, size=(2, 32, 32, 3), dtype=np.uint8)
    names, probs = model.predict(list(images))
    with torch.no_grad():
        expected = engine(model.preprocess(list(images))).softmax(1)
    torch.testing.assert_close(probs, expected, rtol=0, atol=ATOL)
    assert names == [model.CLASS_NAMES[i] for i in expected.argmax(1).tolist()]
    # The export is read back for fine-tuning with the same settings.
    assert read_export(tmp_path / "out").model_config == config


def test_fine_tuning_an_export_keeps_its_norm_and_takes_the_presets_regularisers(tmp_path):
    from nas.export.folder import load_init
    from nas.train.data_spec import cifar10_spec
    from nas.train.final import _fit_preset

    config = dataclasses.replace(TINY, norm="none", dropout=0.4)
    trained_checkpoint(tmp_path / "w.pt", ENAS, config)
    export(resolve_source(weights=tmp_path / "w.pt"), tmp_path / "out")
    preset = dataclasses.replace(PRESETS["cpu"], model=dataclasses.replace(PRESETS["cpu"].model, dropout=0.1))
    fitted = _fit_preset(preset, cifar10_spec(), load_init(tmp_path / "out"))
    # The weights have no batch norm to load into a normalised network; dropout is a training choice.
    assert fitted.model.norm == "none" and fitted.model.dropout == 0.1
    assert fitted.model.channels == TINY.channels


class _NumpyNetwork(nn.Module):
    def __init__(self, arch, config):
        super().__init__()
        self.scale = float(np.pi)


def test_a_network_naming_a_package_other_than_torch_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(S.SPACES["nb201"], "network_class", classmethod(lambda cls: _NumpyNetwork))
    with pytest.raises(UserError) as error:
        generate_source(CASES["random_nb201"][0], TINY, "A network.")
    assert "uses np from numpy; exported code imports only torch" in str(error.value)
    assert "\n" not in str(error.value)
