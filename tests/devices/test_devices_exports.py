"""The devices layer exports what it defines and imports nothing from the layers above it."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import xbarsim.devices as devices

DEVICES_DIR = Path(devices.__file__).parent
#: Layers to the right of devices (STYLE.md section 1): devices must not import them.
FORBIDDEN = ("xbarsim.netlists", "xbarsim.solver", "xbarsim.analysis", "xbarsim.mapping",
             "xbarsim.networks", "xbarsim.evaluation", "xbarsim.cli", "PySpice")


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_devices_never_import_upper_layers() -> None:
    for path in sorted(DEVICES_DIR.glob("*.py")):
        for mod in _imports(path):
            assert not mod.startswith(FORBIDDEN), f"{path.name} imports {mod}"


def test_all_is_complete_and_resolvable() -> None:
    exported = set(devices.__all__)
    assert len(exported) == len(devices.__all__), "duplicates in __all__"
    for name in exported:
        assert hasattr(devices, name), name
    public = {
        name
        for name, obj in vars(devices).items()
        if not name.startswith("_") and not inspect.ismodule(obj) and name != "annotations"
    }
    assert public == exported


def test_every_public_name_has_a_docstring() -> None:
    for name in devices.__all__:
        obj = getattr(devices, name)
        if inspect.isclass(obj) or inspect.isfunction(obj):
            assert obj.__doc__ and obj.__doc__.strip(), name
            for attr, member in vars(obj).items() if inspect.isclass(obj) else ():
                if not attr.startswith("_") and inspect.isfunction(member):
                    assert member.__doc__, f"{name}.{attr}"


def test_no_print_in_the_library() -> None:
    for path in sorted(DEVICES_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", path.name
