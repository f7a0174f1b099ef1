"""The import graph is layered: pconvkit's core <- maskgen <- models <- benchmark <- the CLI, and the
optional extras are imported only inside the functions that use them."""

import ast
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
# Folder of each layer, lowest first; a module may import its own layer and those below it.
LAYERS = {"core": "pconvkit", "maskgen": "maskgen", "models": "models", "benchmark": "benchmark"}
ORDER = ["core", "maskgen", "models", "benchmark", "cli"]
OPTIONAL = {"onnx", "onnxruntime", "patchmatch", "torch_fidelity", "lpips", "matplotlib", "flask", "werkzeug"}


def layer_of_module(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "pconvkit":
        return None
    if len(parts) == 1:
        return "core"
    return parts[1] if parts[1] in ("maskgen", "models", "benchmark", "cli") else "core"


def modules():
    for layer, folder in LAYERS.items():
        for path in sorted((REPOSITORY / folder).rglob("*.py")):
            in_cli = layer == "core" and path.relative_to(REPOSITORY / folder).parts[0] == "cli"
            yield ("cli" if in_cli else layer), path


def imports(tree):
    """(imported module name, at module level?) for every import of a module."""
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, id(node) in top_level) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module, id(node) in top_level


@pytest.mark.parametrize("layer,path", list(modules()), ids=lambda v: str(v).rsplit("/", 2)[-1])
def test_no_import_runs_upwards_and_extras_load_where_used(layer, path):
    tree = ast.parse(path.read_text())
    for name, at_module_level in imports(tree):
        target = layer_of_module(name)
        if target is not None:
            assert ORDER.index(target) <= ORDER.index(layer), f"{path.name} ({layer}) imports {name} ({target})"
        if name.split(".")[0] in OPTIONAL:
            assert not at_module_level, f"{path.name} imports the optional {name} at module level"
        assert name.split(".")[0] not in ("maskgen", "models", "benchmark", "cli"), f"{path.name}: bare {name}"
