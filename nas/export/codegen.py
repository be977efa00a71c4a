"""Write an architecture out as a readable, standalone PyTorch file.

The generated file imports only torch and the standard library, and holds the engine's own network: the
space's network class (`SearchSpace.network_class`) and every engine class, function and constant it names
(ops, their helpers such as SepConv, `ModelConfig`), copied from their source; the table of the ops the
architecture uses; the architecture as a constant `ARCH`, written with field-only copies of its value
classes; the model config as a constant `CONFIG`; and `Network`, that class built from the two. Nothing is
written twice, so the export cannot drift from the engine, and the weights keep the engine's names.

The auxiliary head is left out (a training loss only: its weights are dropped); everything else, drop-path
and dropout included (the identity in eval mode), is the network that was trained. `nas.export.folder`
checks on every export that the weights load strictly and that both give the same eval-mode output.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import search_spaces
from nas.errors import UserError
from nas.export.literals import LINE_LENGTH, Ref, assignment
from search_spaces.base import Architecture, ModelConfig

_SCALARS = (type(None), bool, int, float, str)
# Modules the generated file imports itself: names from them are used as they are.
_IMPORTED = {"torch": "torch", "torch.nn": "nn"}


def _is_constant(value: Any) -> bool:
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, tuple | list):
        return all(_is_constant(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_constant(v) for k, v in value.items())
    return False


def _value_types(value: Any) -> Iterator[type]:
    """The dataclasses an architecture value is made of, parts before wholes."""
    if isinstance(value, tuple | list):
        for item in value:
            yield from _value_types(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _value_types(getattr(value, field.name))
        yield type(value)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _strings(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _strings(getattr(value, field.name))


def _fields_only(cls: type) -> str:
    """A frozen dataclass with `cls`'s name and fields and none of its checks or methods: what the network
    reads of an architecture value."""
    doc = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
    if not doc or doc.startswith(f"{cls.__name__}("):  # the docstring dataclass makes up
        doc = f"The fields of the engine's {cls.__name__} (its checks and methods left out)."
    lines = textwrap.wrap(f'"""{doc}"""', LINE_LENGTH - 4)
    annotations = inspect.get_annotations(cls)
    fields = [
        f"    {f.name}: {a if isinstance(a := annotations[f.name], str) else inspect.formatannotation(a)}"
        for f in dataclasses.fields(cls)
    ]
    docstring = "\n".join("    " + line for line in lines)
    return f"@dataclass(frozen=True)\nclass {cls.__name__}:\n{docstring}\n\n" + "\n".join(fields) + "\n"


def _source(obj: Any) -> str:
    """A class's or function's source, dedented, without decorators of functions (register_op)."""
    source = textwrap.dedent(inspect.getsource(obj))
    if inspect.isfunction(obj):
        node = ast.parse(source).body[0]
        if not isinstance(node, ast.FunctionDef) or obj.__name__ == "<lambda>":
            raise UserError(f"cannot export: {obj.__qualname__} is not a plain function (write it with def)")
        source = "\n".join(source.splitlines()[node.lineno - 1 :]) + "\n"
    return source


def _names(source: str) -> list[str]:
    """The names `source` reads, in the order they first appear."""
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name)]
    return list(dict.fromkeys(n.id for n in sorted(nodes, key=lambda n: (n.lineno, n.col_offset))))


class _Module:
    """The generated file's body, built definition by definition, each after what it names."""

    def __init__(self, arch: Architecture, used_ops: list[str]) -> None:
        self.blocks: list[str] = []
        self.defined: dict[str, Any] = {}  # name in the generated file -> the engine object
        self.imports: set[str] = set()
        self.used_ops = used_ops
        for cls in dict.fromkeys(_value_types(arch)):
            self._define(cls.__name__, cls, _fields_only(cls))

    def _define(self, name: str, obj: Any, text: str) -> None:
        if name in self.defined:
            if self.defined[name] is not obj:
                raise UserError(f"cannot export: two different engine objects are both named {name}")
            return
        self.defined[name] = obj
        self.blocks.append(text)

    def add(self, obj: Any) -> None:
        """`obj` (a class or a function) with everything it names, those first."""
        name = obj.__name__
        if name in self.defined:
            self._define(name, obj, "")  # only checks it is the same object
            return
        self.defined[name] = obj  # before its dependencies: a class may name itself
        source = _source(obj)
        scope = vars(sys.modules[obj.__module__])
        for used in _names(source):
            if used in scope:
                self._use(used, scope[used])
        self.blocks.append(source)

    def _use(self, name: str, value: Any) -> None:
        from search_spaces.ops import OPS

        module = getattr(value, "__module__", None) or ""
        if inspect.ismodule(value):
            if _IMPORTED.get(value.__name__) != name:
                alias = "" if value.__name__ == name else f" as {name}"
                self._stdlib_import(value.__name__, f"import {value.__name__}{alias}", name)
        elif value is OPS:
            self._ops(OPS)
        elif module.split(".")[0] in ("torch", "builtins", "typing"):
            pass
        elif inspect.isclass(value) or inspect.isfunction(value):
            if module.split(".")[0] in sys.stdlib_module_names:
                self._stdlib_import(module, f"from {module} import {name}", name)
            else:
                self.add(value)
        elif _is_constant(value):
            self._define(name, value, assignment(name, value))
        else:
            raise UserError(f"cannot export: {name} ({type(value).__name__}) cannot be written in a file")

    def _stdlib_import(self, module: str, statement: str, name: str) -> None:
        if module.split(".")[0] not in sys.stdlib_module_names:
            raise UserError(
                f"cannot export: the network uses {name} from {module}; exported code imports only torch (as "
                "torch and nn) and the standard library"
            )
        self.imports.add(statement)

    def _ops(self, ops: dict[str, Any]) -> None:
        """The table of the ops this architecture uses, each builder copied."""
        if "OPS" in self.defined:
            return
        for op in self.used_ops:
            self.add(ops[op])
        table = {op: Ref(ops[op].__name__) for op in self.used_ops}
        self._define("OPS", ops, assignment("OPS", table))


def _space(arch: Architecture) -> type[search_spaces.SearchSpace]:
    if arch.space not in search_spaces.SPACES:
        raise UserError(
            f"unknown search space {arch.space!r}; choose one of {', '.join(sorted(search_spaces.SPACES))}"
        )
    return search_spaces.SPACES[arch.space]


def export_config(config: ModelConfig) -> ModelConfig:
    """The config of the exported network: the trained one without its auxiliary head."""
    return dataclasses.replace(config, auxiliary=False)


_NETWORK = '''
class Network(Classifier, {network}):
    """{network} with the searched cells (ARCH) at the trained size (CONFIG).

    Other configs, e.g. `Network(dataclasses.replace(CONFIG, channels=32))`, build the
    same cells, untrained.
    """

    def __init__(self, config: ModelConfig = CONFIG):
        super().__init__(ARCH, config)
'''


def generate_source(
    arch: Architecture, config: ModelConfig, header: str, preprocessing: dict[str, Any] | None = None
) -> str:
    """The whole file. `header` is the module docstring's text (plain lines, at most 88 characters);
    `preprocessing` (image_size, mean, std, class_names; default CIFAR-10's) becomes the `Classifier` base
    class of the generated `Network` (nas.export.preprocessing)."""
    from nas.export.preprocessing import classifier_source, default_preprocessing
    from search_spaces.ops import OPS

    space = _space(arch)
    network = space.network_class()
    registry_name = dict(space.registry_ops)
    used_ops = sorted({registry_name.get(s, s) for s in _strings(arch)} & set(OPS))
    module = _Module(arch, used_ops)
    module.blocks.append(assignment("ARCH", arch))
    module.add(ModelConfig)
    module.blocks.append(assignment("CONFIG", export_config(config)))
    module.add(network)
    if "Classifier" in module.defined or "Network" in module.defined:
        raise UserError(f"cannot export: {network.__name__} names an engine object Classifier or Network")
    module.blocks.append(_NETWORK.format(network=network.__name__).strip("\n") + "\n")
    base = classifier_source(preprocessing or default_preprocessing(config.num_classes, config.image_size))
    stdlib = sorted(s for s in module.imports | {"from dataclasses import dataclass"})
    imports = sorted(s for s in stdlib if s.startswith("import ")) + sorted(
        s for s in stdlib if s.startswith("from ")
    )
    body = "\n\n\n".join(block.strip("\n") for block in [base, *module.blocks] if block)
    head = "\n".join(imports) + "\n\nimport torch\nfrom torch import nn"
    return f'"""{header.strip()}\n"""\n\n{head}\n\n\n{body}\n'


def remap_state_dict(arch: Architecture, state_dict: dict[str, Any]) -> dict[str, Any]:
    """The engine's weights as the exported network holds them: the same names, without the auxiliary
    head's."""
    return {k: v for k, v in state_dict.items() if not k.startswith("auxiliary_head.")}
