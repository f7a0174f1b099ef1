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


def module_name(layer: str, path: Path) -> str:
    """The import name of a source file: pconvkit.maskgen.build, pconvkit.cli.options ..."""
    folder = LAYERS.get(layer, "pconvkit")  # the command line is a folder of the core's
    relative = path.relative_to(REPOSITORY / folder).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    prefix = ["pconvkit"] if folder == "pconvkit" else ["pconvkit", layer]
    return ".".join(prefix + parts)


def import_graph() -> dict:
    """{module: the pconvkit modules it imports, at module level or inside a function}."""
    sources = {module_name(layer, path): path for layer, path in modules()}
    graph = {}
    for name, path in sources.items():
        tree = ast.parse(path.read_text())
        targets = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pconvkit"):
                for alias in node.names:  # `from pconvkit.models import unet` imports the module unet
                    candidate = f"{node.module}.{alias.name}"
                    targets.add(candidate if candidate in sources else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("pconvkit"))
        graph[name] = {t for t in targets if t in sources and t != name}
    return graph


def test_no_module_imports_itself_through_others():
    graph = import_graph()
    assert "pconvkit.models.train" in graph and "pconvkit.cli.options" in graph
    state = {}

    def visit(name, trail):
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = trail[trail.index(target) :] + [target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_the_harness_needs_no_network_code_for_images():
    """Compositing and the hole tile live in pconvkit.images: benchmark/ imports models/ only where it
    runs a network (the neural methods, super-resolution, the trained models' paths)."""
    graph = import_graph()
    for name in ("pconvkit.benchmark.run", "pconvkit.benchmark.grid", "pconvkit.benchmark.study"):
        assert not any(t.startswith("pconvkit.models") for t in graph[name]), name


# Modules that share one test module because they are one concept (CONTRIBUTING.md says which).
SHARED_TESTS = {
    "models/onnx_cache.py": "tests/models/test_onnx_engine.py",  # the ONNX engine: its graph, cache and export
    "models/onnx_export.py": "tests/models/test_onnx_engine.py",
    "benchmark/study_server.py": "tests/benchmark/test_study.py",  # the study: its pages and its commands
    "pconvkit/cli/study_commands.py": "tests/benchmark/test_study.py",
    "pconvkit/cli/__init__.py": "tests/cli/test_cli.py",
    "models/weights/__init__.py": "tests/models/test_weights.py",  # the bundled weights
}
TEST_FOLDERS = {
    "pconvkit": "core",
    "pconvkit/cli": "cli",
    "maskgen": "maskgen",
    "models": "models",
    "benchmark": "benchmark",
}


def test_every_module_has_a_test_module_of_its_name_and_every_test_module_a_module():
    expected = {}
    for folder, tests in TEST_FOLDERS.items():
        for path in sorted((REPOSITORY / folder).glob("*.py")):
            module = f"{folder}/{path.name}"
            if path.name != "__init__.py" or module in SHARED_TESTS:
                expected[module] = SHARED_TESTS.get(module, f"tests/{tests}/test_{path.stem}.py")
    expected |= {m: t for m, t in SHARED_TESTS.items() if m not in expected}
    missing = sorted(f"{m} -> {t}" for m, t in expected.items() if not (REPOSITORY / t).is_file())
    assert not missing, missing
    # test_hostile_*.py: a surface tried with hostile input (the weights, file names, the study
    # server, merges ...), across the modules that serve it
    orphans = sorted(
        str(path.relative_to(REPOSITORY))
        for path in (REPOSITORY / "tests").glob("*/test_*.py")
        if str(path.relative_to(REPOSITORY)) not in expected.values() and not path.name.startswith("test_hostile_")
    )
    assert not orphans, orphans
