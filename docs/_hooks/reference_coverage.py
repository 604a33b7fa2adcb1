"""MkDocs hook: fail the build when a public name is missing from docs/reference/.

A public name is an entry of ``refsampler.__all__`` or of the ``__all__`` of any public module
(no leading underscore in its dotted path). It is documented when some ``::: dotted.path``
directive in ``docs/reference/*.md`` names it, names its module (a module directive renders
the module's ``__all__``), or resolves to the same function or class (re-exports). The same
functions back ``tests/test_docs.py``.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
from pathlib import Path
from typing import Any

DIRECTIVE = re.compile(r"^:::\s+([\w.]+)", re.MULTILINE)
#: Modules that cannot be imported in a docs build are skipped (none today); entries of
#: ``__all__`` that are not API (the version string) are exempt.
EXEMPT = {"refsampler.__version__"}


def directives(reference_dir: Path) -> set[str]:
    """Every dotted path named by a ``:::`` directive under ``reference_dir``."""
    found: set[str] = set()
    for page in sorted(reference_dir.glob("*.md")):
        found.update(DIRECTIVE.findall(page.read_text(encoding="utf-8")))
    return found


def public_names() -> dict[str, Any]:
    """``{"module.name": object}`` for every public name of refsampler."""
    import refsampler

    modules = [refsampler]
    for info in pkgutil.walk_packages(refsampler.__path__, "refsampler."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    names: dict[str, Any] = {}
    for module in modules:
        for name in getattr(module, "__all__", ()):
            dotted = f"{module.__name__}.{name}"
            if dotted not in EXEMPT:
                names[dotted] = getattr(module, name)
    return names


def _resolve(dotted: str) -> Any:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def undocumented(reference_dir: Path) -> list[str]:
    """Public names with no ``:::`` directive (sorted)."""
    documented = directives(reference_dir)
    objects: list[Any] = []
    for dotted in documented:
        try:
            obj = _resolve(dotted)
        except (ImportError, AttributeError):
            continue
        objects.append(obj)
        if isinstance(obj, types.ModuleType):  # a module directive renders its __all__
            objects.extend(getattr(obj, name) for name in getattr(obj, "__all__", ()))
    missing = []
    for dotted, obj in public_names().items():
        # Re-exports count once their object is documented anywhere.
        if dotted not in documented and not any(obj is o for o in objects):
            missing.append(dotted)
    return sorted(missing)


def on_config(config: Any) -> Any:
    """MkDocs entry point: raise (failing the build) when names are undocumented."""
    from mkdocs.exceptions import PluginError

    missing = undocumented(Path(config["docs_dir"]) / "reference")
    if missing:
        raise PluginError(
            "public names missing from docs/reference (add a `::: name` directive): "
            + ", ".join(missing)
        )
    return config
