"""xbarsim.networks knows no hardware, exports what it defines, documents it, and never prints."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import xbarsim.networks as networks

NETWORKS_DIR = Path(networks.__file__).parent
#: What networks may import (STYLE.md section 1: errors/_typing <- networks <- evaluation).
ALLOWED_XBARSIM = ("xbarsim.errors", "xbarsim._typing", "xbarsim._validation", "xbarsim._repr", "xbarsim.networks")
ALLOWED_THIRD_PARTY = ("numpy", "scipy", "sklearn", "mlxtend")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_networks_imports_no_hardware_layer() -> None:
    import sys

    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    for path in sorted(NETWORKS_DIR.glob("*.py")):
        for mod in _imports(path):
            top = mod.split(".")[0]
            if top == "xbarsim":
                assert mod.startswith(ALLOWED_XBARSIM), f"{path.name} imports {mod}"
            else:
                assert top in stdlib or top in ALLOWED_THIRD_PARTY, f"{path.name} imports {mod}"


def test_mlxtend_is_imported_in_one_place_only() -> None:
    users = [p.name for p in NETWORKS_DIR.glob("*.py") if any(m.startswith("mlxtend") for m in _imports(p))]
    assert users == ["datasets.py"]
    source = (NETWORKS_DIR / "datasets.py").read_text(encoding="utf-8")
    assert source.count("from mlxtend") == 1


def test_all_is_complete_and_resolvable() -> None:
    exported = set(networks.__all__)
    assert len(exported) == len(networks.__all__), "duplicates in __all__"
    for name in exported:
        assert hasattr(networks, name), name
    public = {
        name
        for name, obj in vars(networks).items()
        if not name.startswith("_") and not inspect.ismodule(obj) and name != "annotations"
    }
    assert public == exported


def test_every_public_name_has_a_docstring() -> None:
    for name in networks.__all__:
        obj = getattr(networks, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert member.__doc__, f"{name}.{attr}"


def test_no_print_in_the_library() -> None:
    for path in sorted(NETWORKS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", path.name


def test_package_data_is_present() -> None:
    from importlib import resources

    data = resources.files("xbarsim.networks") / "data"
    names = {p.name for p in data.iterdir()}
    assert {"README.md", "train_moon_dataset.csv", "validation_moon_dataset.csv", "test_moon_dataset.csv",
            "double_yinyang_summary.json"} <= names
