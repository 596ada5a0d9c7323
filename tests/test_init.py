"""Import hygiene: the public API is complete, ``import xbarsim`` needs no ngspice, and modules import
only along the layer direction of STYLE.md section 1."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import xbarsim

PACKAGE_DIR = Path(xbarsim.__file__).parent


def _fresh_python(code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a new interpreter (nothing imported yet); fails the test on a non-zero exit."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


def test_import_xbarsim_does_not_import_pyspice():
    """PySpice is imported lazily by the ngspice backend only; the sparse path never needs it."""
    code = (
        "import sys, numpy as np, xbarsim as xb\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'PySpice'], 'import xbarsim'\n"
        "xb.solve(xb.Crossbar(conductance=np.full((2, 2), 1e-4), lines=xb.LineResistance.uniform(1.0)),\n"
        "         xb.BiasScheme.read([1.0, 0.5]))\n"
        "xb.to_spice(xb.build_netlist(xb.Crossbar(conductance=np.ones((2, 2))), xb.BiasScheme.read([1, 1])))\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'PySpice'], 'sparse solve'\n"
    )
    out = _fresh_python(code)
    assert out.stdout == "" and "Unsupported Ngspice" not in out.stderr


def test_importing_every_package_needs_only_numpy_and_scipy():
    """The optional groups (plots, sweeps, datasets, ngspice) and networkx / tqdm are imported where
    they are used, never by importing a package; ``import xbarsim`` runs with numpy and scipy alone."""
    heavy = {"matplotlib", "sklearn", "mlxtend", "dask", "distributed", "PySpice", "networkx", "tqdm", "pandas"}
    out = _fresh_python(
        "import sys, pkgutil, importlib, xbarsim\n"
        "for info in pkgutil.iter_modules(xbarsim.__path__):\n"
        "    if info.ispkg: importlib.import_module('xbarsim.' + info.name)\n"
        f"print(sorted(set({sorted(heavy)!r}) & {{m.split('.')[0] for m in sys.modules}}))\n"
    )
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- __all__
def _subpackages() -> list[str]:
    return sorted(
        f"xbarsim.{info.name}" for info in pkgutil.iter_modules([str(PACKAGE_DIR)]) if info.ispkg
    )


def _public_names(module: object) -> set[str]:
    """What a module's namespace offers: not private, not a submodule, not ``from __future__``."""
    return {
        name for name, obj in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(obj) and name != "annotations"
    }


@pytest.mark.parametrize("name", ["xbarsim", *_subpackages()])
def test_all_is_complete_and_resolvable(name):
    """httpx's test_exported_members: every name in ``__all__`` exists, and every public name the
    package namespace holds is in ``__all__`` (nothing exported by accident, nothing forgotten)."""
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported), "duplicates in __all__"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ lists {attr!r}, which does not exist"
    assert _public_names(module) == set(exported) - {"__version__"}


#: Lower-level names of the circuit core that stay in their subpackage on purpose.
NOT_AT_TOP_LEVEL = {
    "xbarsim.solver": {"compare", "get_backend"},  # assert_agree / crosscheck / solve are the front door
}


@pytest.mark.parametrize("name", ["xbarsim.errors", "xbarsim.netlists", "xbarsim.solver"])
def test_circuit_core_classes_and_functions_are_re_exported(name):
    module = importlib.import_module(name)
    for attr in module.__all__:
        obj = getattr(module, attr)
        if not (inspect.isclass(obj) or inspect.isfunction(obj)) or attr in NOT_AT_TOP_LEVEL.get(name, set()):
            continue
        assert attr in xbarsim.__all__, f"{name}.{attr} is public but not re-exported by xbarsim"
        assert getattr(xbarsim, attr) is obj


def test_device_protocol_and_models_are_re_exported():
    from xbarsim import devices

    for attr in ("DeviceModel", "Ohmic", "Sinh"):
        assert attr in xbarsim.__all__ and getattr(xbarsim, attr) is getattr(devices, attr)


def test_version_is_exported():
    assert "__version__" in xbarsim.__all__
    assert isinstance(xbarsim.__version__, str) and xbarsim.__version__.count(".") >= 1


# ----------------------------------------------------------------------------- layer direction
#: errors/_typing <- devices <- netlists <- solver <- analysis <- mapping <- evaluation <- cli, with
#: networks a side wing: errors/_typing <- networks <- evaluation. Numbers are ranks: a module may
#: import a module of the same or a lower rank only; networks is checked separately.
RANK = {"errors": 0, "_typing": 0, "_validation": 0, "provenance": 0, "_repr": 0, "_files": 0, "devices": 1, "netlists": 2, "solver": 3, "analysis": 4,
        "mapping": 5, "networks": 5.5, "sweeps": 6.5, "evaluation": 6, "experiments": 7, "cli": 8, "__init__": 9,
        "__main__": 9}
#: Side wings on the base layer: they import only the base and themselves; only the layers named here use them.
WINGS = {"networks": "evaluation", "sweeps": "experiments"}
BASE = {"errors", "_typing", "_validation", "provenance", "_repr", "_files"}


def _layer(module: str) -> str:
    """``xbarsim.solver.sparse`` -> ``solver``; ``xbarsim`` -> ``__init__``."""
    parts = module.split(".")
    layer = parts[1] if len(parts) > 1 else "__init__"
    return "cli" if layer.startswith("cli_") else layer  # cli_<topic>.py: subcommands of the cli layer


def _imports(path: Path, package_dir: Path = PACKAGE_DIR) -> list[tuple[int, str]]:
    """Every module imported by ``path`` (lazy imports inside functions included), absolute names."""
    package = list(path.relative_to(package_dir.parent).parts[:-1])  # e.g. ["xbarsim", "netlists"]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package[: len(package) - node.level + 1]
                found.append((node.lineno, ".".join(base + ([node.module] if node.module else []))))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _package_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.rglob("*.py") if "data" not in p.relative_to(PACKAGE_DIR).parts[:-1])


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_imports_follow_the_layer_direction(path):
    rel = path.relative_to(PACKAGE_DIR)
    src = "__init__" if rel == Path("__init__.py") else rel.parts[0].removesuffix(".py")
    src = "cli" if src.startswith("cli_") else src
    assert src in RANK, f"{rel}: layer {src!r} is not placed in the layer order (STYLE.md section 1)"
    for line, target in _imports(path):
        where = f"{rel}:{line} imports {target}"
        top = target.split(".")[0]
        if top == "PySpice":
            assert rel == Path("solver/ngspice.py"), f"{where}: only solver/ngspice.py may import PySpice"
        if target.startswith("scipy.sparse"):
            assert src not in {"netlists", "devices", *BASE}, f"{where}: the circuit model stays free of scipy.sparse"
        if top != "xbarsim":
            continue
        dst = _layer(target)
        assert dst in RANK, f"{where}: unknown layer {dst!r}"
        if src in WINGS:
            assert dst in BASE or dst == src, f"{where}: the side wing {src} imports only the base layer"
        elif dst in WINGS:
            user = WINGS[dst]
            assert RANK[src] >= RANK[user], f"{where}: only {user} and above use {dst}"
        else:
            assert RANK[dst] <= RANK[src], f"{where}: {src} may not import the higher layer {dst}"


def test_the_import_walker_sees_lazy_and_relative_imports(tmp_path):
    """The layer test would pass vacuously if the walker missed imports: check it on a fake module."""
    assert "xbarsim.errors" in {t for _, t in _imports(PACKAGE_DIR / "netlists" / "spice.py")}
    fake = tmp_path / "xbarsim" / "netlists" / "fake.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from . import bias\n\ndef f():\n    from ..solver import sparse\n    import PySpice.Spice\n")
    assert _imports(fake, tmp_path / "xbarsim") == [
        (1, "xbarsim.netlists"), (4, "xbarsim.solver"), (5, "PySpice.Spice")
    ]


# ----------------------------------------------------------------------------- cycles and private names
def _module_name(path: Path, package_dir: Path = PACKAGE_DIR) -> str:
    rel = path.relative_to(package_dir.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    """Module -> the xbarsim modules it imports (lazy imports included; ``from pkg import mod``
    resolves to the submodule when ``mod`` is one)."""
    files = sorted(p for p in package_dir.rglob("*.py") if "data" not in p.relative_to(package_dir).parts[:-1])
    modules = {_module_name(p, package_dir) for p in files}
    graph: dict[str, set[str]] = {}
    for path in files:
        src = _module_name(path, package_dir)
        package = list(path.relative_to(package_dir.parent).parts[:-1])
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                for alias in node.names:
                    if f"{base}.{alias.name}" in modules:
                        edges.add(f"{base}.{alias.name}")
                    elif base in modules:
                        edges.add(base)
        graph[src] = edges - {src}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), i.e. the import cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_lazy_imports_included():
    """No two modules import each other, directly or through others, not even inside a function
    (STYLE.md section 1: a data type does not call its own consumer)."""
    assert _cycles(_import_graph()) == []


def test_the_cycle_finder_sees_a_lazy_cycle(tmp_path):
    pkg = tmp_path / "xbarsim" / "netlists"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from xbarsim.netlists.b import g\n")
    (pkg / "b.py").write_text("def g():\n    from xbarsim.netlists import a\n")
    assert _cycles(_import_graph(tmp_path / "xbarsim")) == [["xbarsim.netlists.a", "xbarsim.netlists.b"]]


def _package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1].removesuffix(".py") if len(parts) > 1 else "__init__"


@pytest.mark.parametrize("path", _package_files(), ids=lambda p: str(p.relative_to(PACKAGE_DIR)))
def test_no_private_names_imported_across_packages(path):
    """``from xbarsim.<other package>.<module> import _name`` or from a private module of another
    package (``devices._checks``) is refused; the base modules ``_typing`` / ``_validation`` are the
    shared vocabulary and checks, private by file name only."""
    src = _package_of(_module_name(path))
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ImportFrom) or node.level or not (node.module or "").startswith("xbarsim"):
            continue
        dst = _package_of(node.module)
        if dst == src or dst in BASE:
            continue
        where = f"{path.relative_to(PACKAGE_DIR)}:{node.lineno} imports from {node.module}"
        assert not any(p.startswith("_") for p in node.module.split(".")[2:]), f"{where}: a private module"
        private = [a.name for a in node.names if a.name.startswith("_")]
        assert not private, f"{where}: private name(s) {private}"
