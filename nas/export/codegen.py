"""Write an architecture out as a readable, standalone PyTorch file.

The generated file imports only torch. Each cell becomes its own class whose `__init__` names one module per
op and whose `forward` spells out the wiring, so the file reads like a hand-written model instead of a
genotype interpreter. The engine classes the cells use (ops' helpers such as SepConv, from
search_spaces/ops.py or a space's network module) are copied once, at the top, from their own source, so they
cannot drift from the engine.

What is space-specific comes from the space: `SearchSpace.export_code` (the cells and the network as source,
and the engine classes it names) and `SearchSpace.export_key` (the engine's weight names -> the generated
ones), which spaces write beside their network builder; each op's constructor expression comes from the op
registry (`register_op(..., code=...)`). The generated modules mirror the engine's op for op and in the same
order, so in eval mode they compute exactly what the engine computes. Two training-only parts are left out:
the auxiliary head (only a training loss; its weights are dropped) and drop-path (identity at inference).
`nas.export.folder` checks both claims on every export by loading strictly and comparing outputs.
"""

from __future__ import annotations

import ast
import inspect
import sys
from typing import Any

import search_spaces
from nas.errors import UserError
from search_spaces.base import Architecture, ModelConfig


def _uses(cls: type) -> list[type]:
    """The classes, other than torch's and builtins, that `cls`'s source names: the engine classes it
    needs."""
    scope = vars(sys.modules[cls.__module__])
    names = {node.id for node in ast.walk(ast.parse(inspect.getsource(cls))) if isinstance(node, ast.Name)}
    return [
        obj
        for obj in (scope.get(name) for name in sorted(names))
        if isinstance(obj, type)
        and obj is not cls
        and obj.__module__.split(".")[0] not in ("torch", "builtins", "typing")
    ]


def class_source(classes: frozenset[type] | set[type]) -> str:
    """The source of `classes` and of the engine classes they use, each once, every class after those it
    uses."""
    done: list[type] = []

    def visit(cls: type) -> None:
        if cls in done:
            return
        for needed in _uses(cls):
            visit(needed)
        done.append(cls)

    for cls in sorted(classes, key=lambda c: (c.__module__, inspect.getsourcelines(c)[1])):
        visit(cls)
    return "".join(inspect.getsource(cls).strip("\n") + "\n\n\n" for cls in done)


def _space(arch: Architecture) -> type[search_spaces.SearchSpace]:
    if arch.space not in search_spaces.SPACES:
        raise UserError(
            f"unknown search space {arch.space!r}; choose one of {', '.join(sorted(search_spaces.SPACES))}"
        )
    return search_spaces.SPACES[arch.space]


def generate_source(
    arch: Architecture, config: ModelConfig, header: str, preprocessing: dict[str, Any] | None = None
) -> str:
    """The whole file. `header` is the module docstring's text (plain lines, at most 88 characters);
    `preprocessing` (image_size, mean, std, class_names; default CIFAR-10's) becomes the `Classifier` base
    class of the generated `Network` (nas.export.preprocessing)."""
    from nas.export.preprocessing import classifier_source, default_preprocessing

    try:
        code = _space(arch).export_code(arch, config)
    except (NotImplementedError, LookupError) as e:
        raise UserError(f"cannot export: {e}") from None
    imports = "import torch\nfrom torch import nn"
    base = classifier_source(preprocessing or default_preprocessing(config.num_classes, config.image_size))
    return f'"""{header.strip()}\n"""\n\n{imports}\n\n\n{base}\n\n\n{class_source(code.classes)}{code.body}'


def remap_state_dict(arch: Architecture, state_dict: dict[str, Any]) -> dict[str, Any]:
    """The engine's weights under the generated module's names, without the auxiliary head."""
    key = _space(arch).export_key
    return {key(k): v for k, v in state_dict.items() if not k.startswith("auxiliary_head.")}
