"""The version of a user step's code in the project folder, read without running it.

A step ``uses: "steps:summarise"`` whose module lives in the project folder is versioned by
the sha256 of that module's source and of every project module it imports (found by
parsing, transitively), so editing a helper it imports re-runs the step too. Parsing
instead of importing keeps a re-run that reuses every result from loading the libraries
the step needs only when it runs.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

from forgeml.errors import ConfigError

__all__ = ["project_code_version", "project_module_file", "project_sources"]


def project_module_file(name: str, root: Path | None) -> Path | None:
    """The file of module ``name`` (``pkg.mod``) in the project folder ``root``, if any."""
    if root is None or not name:
        return None
    base = root.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def project_code_version(path: Path, root: Path) -> str:
    """sha256 of ``path``'s source and of the project modules it imports, in a stable order."""
    digest = hashlib.sha256()
    for name, source in sorted(project_sources(path, root).items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(source).digest())
    return digest.hexdigest()


def project_sources(path: Path, root: Path) -> dict[str, bytes]:
    """The source of module file ``path`` and of every project module it imports, by name."""
    sources: dict[str, bytes] = {}
    waiting = [path]
    while waiting:
        current = waiting.pop()
        name = ".".join(current.relative_to(root).with_suffix("").parts)
        name = name.removesuffix(".__init__")
        if name in sources:
            continue
        try:
            sources[name] = current.read_bytes()
        except OSError as error:
            raise ConfigError(
                f"cannot read the step module {current}: {error.strerror or error}",
                fix="check that the file exists and is readable",
            ) from None
        for imported in _imported(sources[name], current, root):
            found = project_module_file(imported, root)
            if found is not None:
                waiting.append(found)
    return sources


def _imported(source: bytes, path: Path, root: Path) -> set[str]:
    """Names of the modules ``source`` imports (``from a import b`` yields ``a`` and ``a.b``)."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as error:
        raise ConfigError(
            f"the step module {path} is not valid Python: {error.msg} (line {error.lineno})",
            fix="correct the syntax error; the step runs once the module parses",
        ) from None
    package = path.parent.relative_to(root).parts
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package, `level - 1` folders up
                up = len(package) - (node.level - 1)
                parts = [*package[: max(up, 0)], *(node.module or "").split(".")]
                module = ".".join(p for p in parts if p)
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" if module else alias.name for alias in node.names)
    # importing a.b.c runs a/__init__.py and a/b/__init__.py too
    return {".".join(n.split(".")[:i]) for n in names for i in range(1, n.count(".") + 2)}
