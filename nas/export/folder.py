"""Export a found architecture, with its weights, as something usable without this engine.

An export folder holds:

    model.py              the network as readable PyTorch code that imports only torch (nas/export/codegen.py)
    weights.pt            its state_dict, a plain dict of tensors (`torch.load(..., weights_only=True)`)
    arch.json             the architecture as the engine reads it (`search_spaces.arch_from_json`)
    metadata.json         accuracy, size, FLOPs, where the weights came from, versions, arch hash
    model.torchscript.pt  with -f torchscript: the same module, scripted
    model.onnx            with -f onnx:      the same module at a fixed input shape

Every export checks itself before anything is moved into place: the weights must load strictly into the
engine's network and into the generated one, and the two must give the same eval-mode output.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

import search_spaces
from nas._version import __version__
from nas.arch_file import arch_from_data, read_arch_file
from nas.errors import UserError
from nas.export.codegen import generate_source, remap_state_dict
from nas.train.checkpoint import load_checkpoint
from nas.train.data_spec import DataSpec, cifar10_spec, recorded_spec
from nas.train.final import InitSource
from nas.train.presets import PRESETS, fit_preset
from search_spaces import Architecture, ModelConfig, canonical_hash

FORMATS = ("py", "torchscript", "onnx")
IMAGE_SHAPE = (3, 32, 32)  # CIFAR-10's; a network trained on other data takes ModelConfig.image_size
ATOL = 1e-5  # exported and engine outputs may differ by at most this (float32 rounding of equal ops: 0)


@dataclass(frozen=True)
class ExportSource:
    """What to export: an architecture, the weights for it, and where both came from."""

    arch: Architecture
    space_options: dict[str, Any]
    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor] | None  # None: freshly initialised
    origin: dict[str, Any] = field(
        default_factory=dict
    )  # run, rank, weights, test accuracy... for metadata.json
    warning: str | None = None  # something the user should hear about (untrained weights)
    data_spec: DataSpec | None = None  # the input the weights were trained on; None: CIFAR-10's

    @classmethod
    def of_checkpoint(cls, checkpoint: Any, origin: dict[str, Any]) -> ExportSource:
        """A checkpoint's own arch (not an isomorphic relabelling: its weights follow its block order), size,
        weights and preprocessing."""
        return cls(
            checkpoint.arch,
            checkpoint.space_options,
            checkpoint.model_config,
            checkpoint.state_dict,
            origin,
            data_spec=checkpoint.data_spec,
        )

    def input_shape(self) -> tuple[int, int, int]:
        size = self.model_config.image_size
        return (3, size, size)

    def resolved_spec(self) -> DataSpec:
        return self.data_spec or cifar10_spec(self.model_config.num_classes, self.model_config.image_size)


def _read_arch(arch_arg: str, space_options: dict[str, Any]) -> Architecture:
    from search_spaces.known_cells import KNOWN_CELLS

    path = Path(arch_arg)
    if not path.is_file():
        if arch_arg in KNOWN_CELLS:
            return KNOWN_CELLS[arch_arg]
        raise UserError(
            f"--arch {arch_arg}: no such file; pass an architecture JSON file (as in a run's arch.json) "
            f"or a known cell ({', '.join(sorted(KNOWN_CELLS))})"
        )
    return read_arch_file(path, space_options)


def _final_test_accuracy(run: Any) -> float | None:
    try:
        record = json.loads(run.final_record_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return record.get("test_accuracy") if isinstance(record, dict) else None


def resolve_source(
    run_name: str | None = None,
    results_dir: str | os.PathLike | None = None,
    rank: int | None = None,
    arch: str | None = None,
    weights: str | os.PathLike | None = None,
    *,
    pareto_pick: str | None = None,
) -> ExportSource:
    """Choose the architecture (rank K of a run, an --arch file, or the --weights checkpoint's own) and its
    weights: --weights, else the run's final.pt when it holds this architecture, else fresh ones."""
    from nas.runs.folder import open_run

    if rank is not None and arch is not None:
        raise UserError("--rank and --arch both choose the architecture; pass only one")
    if rank is not None and rank < 1:
        raise UserError(f"--rank {rank} is out of range: ranks start at 1 (the best candidate)")
    if run_name is None and arch is None and weights is None:
        raise UserError("say what to export: a RUN, --arch FILE.json, or --weights CHECKPOINT")
    if run_name is None and rank is not None:
        raise UserError("--rank needs a RUN to rank the candidates of")
    if pareto_pick is not None and (run_name is None or arch is not None):
        raise UserError("--pareto-pick chooses among a RUN's candidates; give a RUN and no --arch")

    run = open_run(run_name, results_dir) if run_name is not None else None
    space_options: dict[str, Any] = {}
    origin: dict[str, Any] = {"run": str(run.path.resolve()) if run else None}
    spec: DataSpec | None = None
    chosen: Architecture | None = None
    if run is not None:
        config = run.config()
        space_options = dict(config.get("space_options") or {})
        spec = recorded_spec(config)  # own data: fresh weights get its classes, size and preprocessing
    if arch is not None:
        chosen = _read_arch(arch, space_options)
        origin["arch_file"] = arch
    elif run is not None:
        k = 1 if rank is None else rank
        if pareto_pick is not None:
            from nas.runs.front import pick

            row = pick(run, pareto_pick, k)
        else:
            row = run.candidate(k)
        chosen = arch_from_data(row["arch"], f"run {run.name}'s rank {k} candidate", space_options)
        origin.update(rank=k, trial_id=row.get("trial_id"), val_accuracy=row.get("val_accuracy"))
        if pareto_pick is not None:
            origin["pareto_pick"] = pareto_pick

    if weights is not None:
        checkpoint = load_checkpoint(weights)
        if chosen is not None and canonical_hash(checkpoint.arch) != canonical_hash(chosen):
            raise UserError(
                f"--weights {weights} holds architecture {canonical_hash(checkpoint.arch)}, not the chosen "
                f"{canonical_hash(chosen)}; pass the checkpoint trained for this architecture"
            )
        origin.update(
            weights=str(Path(weights).resolve()), test_accuracy=checkpoint.metadata.get("test_accuracy")
        )
        # The checkpoint's own arch, not an isomorphic relabelling of it: its weights follow its block order.
        return ExportSource.of_checkpoint(checkpoint, origin)
    assert chosen is not None

    if run is not None and run.final_checkpoint_path.is_file():
        checkpoint = load_checkpoint(run.final_checkpoint_path)
        if canonical_hash(checkpoint.arch) == canonical_hash(chosen):
            test_accuracy = _final_test_accuracy(run)
            if test_accuracy is None:
                test_accuracy = checkpoint.metadata.get("test_accuracy")
            origin.update(weights=str(run.final_checkpoint_path.resolve()), test_accuracy=test_accuracy)
            return ExportSource.of_checkpoint(checkpoint, origin)

    where = f"run {run.name} has no final.pt for it" if run is not None else "no --weights given"
    origin.update(weights=None, test_accuracy=None)
    preset = fit_preset(PRESETS["final"], spec)
    return ExportSource(
        chosen,
        space_options,
        preset.model,
        None,
        origin,
        warning=f"exporting untrained, freshly initialised weights ({where}); train it with `nas final` "
        "or pass --weights CHECKPOINT",
        data_spec=spec,
    )


def _describe_misfit(model: nn.Module, state_dict: dict[str, torch.Tensor]) -> str | None:
    """One line saying how `state_dict` fails to fit `model` strictly, or None when it fits."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    wrong = [
        f"{k} is {list(getattr(state_dict[k], 'shape', [type(state_dict[k]).__name__]))}, "
        f"needs {list(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and (not isinstance(state_dict[k], torch.Tensor) or state_dict[k].shape != v.shape)
    ]
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} wrong shapes (first: {wrong[0]})")
    if missing:
        problems.append(f"{len(missing)} missing (first: {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (first: {unexpected[0]})")
    return "; ".join(problems) or None


def engine_model(source: ExportSource) -> nn.Module:
    """The engine's network with the source's weights (or fresh ones, seeded so exports repeat), eval mode."""
    space = search_spaces.make_space(source.arch.space, **source.space_options)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = space.build(source.arch, source.model_config)
    if source.state_dict is not None:
        misfit = _describe_misfit(model, source.state_dict)
        if misfit:
            raise UserError(
                f"weights from {source.origin.get('weights')} do not fit architecture "
                f"{canonical_hash(source.arch)} at {source.model_config}: {misfit}"
            )
        model.load_state_dict(source.state_dict, strict=True)
    return model.eval()


def import_model_file(path: str | os.PathLike) -> ModuleType:
    """Import a generated model.py under a name of its own, so that several exports can live side by side.
    It stays in sys.modules: TorchScript and pickle look classes up there."""
    path = Path(path).resolve()
    name = "nas_export_" + hashlib.sha256(f"{path}:{path.stat().st_mtime_ns}".encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _header(source: ExportSource, arch_hash: str) -> str:
    origin = source.origin
    if origin.get("rank") is not None:
        found = f"rank {origin['rank']} of a {source.arch.space} search"
    else:
        found = f"a {source.arch.space} architecture"
    trained = "trained" if source.state_dict is not None else "UNTRAINED"
    shape = "x".join(str(n) for n in source.input_shape())
    return f"""A network found by neural architecture search: {found}.

Exported by nas {__version__}; architecture hash {arch_hash}; weights: {trained}.
See metadata.json for accuracy, size and provenance. Plain PyTorch, nothing else:

    import torch
    from model import Network

    model = Network()
    model.load_state_dict(torch.load("weights.pt", weights_only=True))
    model.eval()

    names, probabilities = model.predict(["photo.jpg", ...])  # raw images in

Left out, as only training uses it: the auxiliary head and its weights. Input of
forward: batches of {shape} images normalised as in training
(`Classifier.preprocess`); output: class logits."""


def _onnx_modules() -> ModuleType:
    try:
        import onnx
    except ImportError:
        raise UserError(
            "--model-format onnx needs the onnx package: pip install 'nas-engine[onnx]'"
        ) from None
    return onnx


def _export_onnx(model: nn.Module, example: torch.Tensor, path: Path) -> None:
    onnx = _onnx_modules()
    try:
        import onnxscript  # noqa: F401 - torch's current ONNX exporter is built on it
    except ImportError:
        dynamo = False  # torch's older TorchScript-based exporter needs only onnx
    else:
        dynamo = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (example,),
                str(path),
                dynamo=dynamo,
                verbose=False,
                input_names=["images"],
                output_names=["logits"],
                external_data=False,
            )
    except ImportError as e:  # a torch without the older exporter asks for onnxscript here
        raise UserError(
            f"--model-format onnx: torch's ONNX exporter needs {e.name or 'onnxscript'}: "
            "pip install onnxscript"
        ) from None
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def _check_same(reference: torch.Tensor, exported: torch.Tensor, what: str) -> None:
    # Exported modules run the same ops in the same order; a difference is a bug in the exporter, not bad
    # input.
    if not torch.allclose(reference, exported, rtol=0, atol=ATOL):
        gap = (reference - exported).abs().max().item()
        raise RuntimeError(f"export self-check failed: {what} differs from the engine's network by {gap:.3g}")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    files: tuple[str, ...]
    metadata: dict[str, Any]


def export(
    source: ExportSource,
    out: str | os.PathLike,
    formats: tuple[str, ...] = ("py",),
    batch_size: int = 1,
    overwrite: bool = False,
) -> ExportResult:
    """Write the export folder `out`. It appears whole or not at all: everything is written into a temporary
    folder beside it and renamed into place at the end."""
    from search_spaces.stats import model_stats

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"--model-format {unknown[0]} is unknown; choose from {', '.join(FORMATS)}")
    if batch_size < 1:
        raise UserError(f"--batch-size {batch_size} must be at least 1")
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())) and not overwrite:
        raise UserError(f"{out} already exists; choose another -o folder or pass --overwrite")
    if "onnx" in formats:
        _onnx_modules()  # fail before any work when the optional dependency is missing

    model = engine_model(source)
    arch_hash = canonical_hash(source.arch)
    weights = remap_state_dict(source.arch, model.state_dict())
    preprocessing = source.resolved_spec().to_dict()
    code = generate_source(source.arch, source.model_config, _header(source, arch_hash), preprocessing)
    example = torch.randn(batch_size, *source.input_shape(), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model(example)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        files = ["model.py", "weights.pt", "arch.json", "metadata.json"]
        (tmp / "model.py").write_text(code)
        torch.save(weights, tmp / "weights.pt")
        (tmp / "arch.json").write_text(json.dumps(source.arch.to_dict(), indent=2, sort_keys=True) + "\n")

        module = import_model_file(tmp / "model.py")
        try:
            generated = module.Network()
            generated.load_state_dict(torch.load(tmp / "weights.pt", weights_only=True), strict=True)
            generated.eval()
            with torch.no_grad():
                _check_same(reference, generated(example), "the generated model.py")
            if "torchscript" in formats:
                with warnings.catch_warnings():
                    warnings.simplefilter(
                        "ignore"
                    )  # torch.jit is deprecated but still what many runtimes load
                    scripted = torch.jit.script(generated)
                    scripted.save(str(tmp / "model.torchscript.pt"))
                    reloaded = torch.jit.load(str(tmp / "model.torchscript.pt"))
                with torch.no_grad():
                    _check_same(reference, reloaded(example), "the TorchScript module")
                files.append("model.torchscript.pt")
            if "onnx" in formats:
                _export_onnx(generated, example, tmp / "model.onnx")
                files.append("model.onnx")
        finally:
            sys.modules.pop(module.__name__, None)

        stats = model_stats(model, source.input_shape())
        origin = source.origin
        metadata = {
            "format": "nas-export/1",
            "space": source.arch.space,
            "arch_hash": arch_hash,
            "test_accuracy": origin.get("test_accuracy"),
            "val_accuracy": origin.get("val_accuracy"),
            "trained": source.state_dict is not None,
            "params": stats.params,
            "flops": stats.flops,
            "model_config": dataclasses.asdict(source.model_config),
            "space_options": source.space_options,
            "input_shape": [batch_size, *source.input_shape()],
            "preprocessing": preprocessing,
            "source": {k: origin.get(k) for k in ("run", "rank", "trial_id", "arch_file", "weights")},
            "dropped": "auxiliary head (training loss only)",
            "files": files,
            "versions": {
                "nas": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
                **({"onnx": _onnx_modules().__version__} if "onnx" in formats else {}),
            },
        }
        (tmp / "metadata.json").write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportResult(out, tuple(files), metadata)


def _move_into_place(tmp: Path, out: Path) -> None:
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.replace(tmp, out)
        return
    # --overwrite: move the old folder aside first, so a failure leaves it where it was.
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, old / out.name)
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / out.name, out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


def read_export(path: str | os.PathLike) -> ExportSource:
    """An export folder's architecture, model config, preprocessing and weights, renamed back to the engine's
    network (the auxiliary head, which exports drop, stays missing): what fine-tuning starts from."""
    path = Path(path)
    try:
        meta = json.loads((path / "metadata.json").read_text())
        arch_data = json.loads((path / "arch.json").read_text())
        weights = torch.load(path / "weights.pt", map_location="cpu", weights_only=True)
        config = ModelConfig(**meta["model_config"])
        arch = search_spaces.arch_from_json(arch_data, **(meta.get("space_options") or {}))
    except FileNotFoundError as e:
        raise UserError(f"{path} is not a nas export folder: {Path(e.filename).name} is missing") from None
    except Exception as e:
        raise UserError(f"{path} is not a readable nas export ({type(e).__name__}: {e})") from None
    space_options = dict(meta.get("space_options") or {})
    engine = search_spaces.make_space(arch.space, **space_options).build(arch, config).state_dict()
    # generated name -> engine name, one key at a time (remap_state_dict drops the auxiliary head's keys)
    names = {generated: own for own in engine for generated in remap_state_dict(arch, {own: None})}
    state_dict = {names[k]: v for k, v in weights.items() if k in names}
    return ExportSource(
        arch,
        space_options,
        config,
        state_dict,
        {"weights": str(path.resolve())},
        data_spec=DataSpec.of(meta.get("preprocessing")),
    )


def load_init(path: str | os.PathLike) -> InitSource:
    """The weights of a checkpoint file (final.pt) or of an export folder (weights.pt, arch.json,
    metadata.json)."""
    path = Path(path)
    if path.is_dir():
        source = read_export(path)
        return InitSource(
            source.arch, source.space_options, source.model_config, dict(source.state_dict), str(path)
        )
    if not path.exists():
        raise UserError(f"--init-from {path}: no such checkpoint file or export folder")
    checkpoint = load_checkpoint(path)
    return InitSource(
        checkpoint.arch,
        checkpoint.space_options,
        checkpoint.model_config,
        dict(checkpoint.state_dict),
        str(path),
    )


def load(path: str | os.PathLike) -> nn.Module:
    """The exported network from an export folder, in eval mode, on the CPU: model.py with weights.pt, or
    model.torchscript.pt when the folder has no Python code."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"no export folder at {path}; make one with `nas export RUN -o {path}`")
    if (path / "model.py").is_file() and (path / "weights.pt").is_file():
        model = import_model_file(path / "model.py").Network()
        model.load_state_dict(
            torch.load(path / "weights.pt", map_location="cpu", weights_only=True), strict=True
        )
        return model.eval()
    if (path / "model.torchscript.pt").is_file():
        return torch.jit.load(str(path / "model.torchscript.pt"), map_location="cpu").eval()
    raise UserError(
        f"{path} holds no model.py with weights.pt and no model.torchscript.pt; is it a nas export?"
    )
