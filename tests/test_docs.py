"""The documentation is complete: every public name has a docstring and an API page entry,
and every cross-reference in a docstring points at a documented name.

`mkdocs build --strict` checks the same things when the docs are built; these tests check
them without mkdocs, so that CI catches an undocumented name in the test run.
"""

import ast
import importlib
import inspect
import pathlib
import pkgutil
import re
import shutil
import subprocess
import sys
import types

import pytest

import funcdyn

ROOT = pathlib.Path(__file__).resolve().parents[1]
API_DIR = ROOT / "docs" / "api"
ENTRY = re.compile(r"^:::\s+([\w.]+)\s*$", re.MULTILINE)
# mkdocstrings cross-references: [`funcdyn.run`][] or [text][funcdyn.run].
REFERENCE = re.compile(r"\[`?([\w.]+)`?\]\[\]|\]\[(funcdyn[\w.]*)\]")


def _public_modules() -> list[types.ModuleType]:
    """funcdyn and its public subpackages/submodules (no underscore anywhere in the path)."""
    modules = [funcdyn]
    for info in pkgutil.walk_packages(funcdyn.__path__, prefix="funcdyn."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _public_names(module: types.ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    return sorted(
        n for n in names if not isinstance(getattr(module, n), types.ModuleType)
    )


PUBLIC = [(m.__name__, n) for m in _public_modules() for n in _public_names(m)]


def _attribute_docstrings(module: types.ModuleType) -> dict[str, str]:
    """`{name: docstring}` of the module-level assignments followed by a string literal."""
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    docs = {}
    for stmt, after in zip(tree.body, tree.body[1:]):
        if (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name) and isinstance(after, ast.Expr)
                and isinstance(after.value, ast.Constant) and isinstance(after.value.value, str)):
            docs[stmt.targets[0].id] = after.value.value
    return docs


def _resolve(path: str):
    """The object named by a dotted path such as `funcdyn.layers.Dense.init_state`."""
    parts = path.split(".")
    for k in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def _api_entries() -> dict[str, list[str]]:
    """`{dotted path: [pages]}` for every `::: path` entry of the API reference pages."""
    entries: dict[str, list[str]] = {}
    for page in sorted(API_DIR.glob("*.md")):
        for path in ENTRY.findall(page.read_text()):
            entries.setdefault(path, []).append(page.name)
    return entries


def test_public_api_is_not_empty():
    assert len(PUBLIC) > 20
    assert ("funcdyn", "run") in PUBLIC
    assert ("funcdyn.layers", "Dense") in PUBLIC


@pytest.mark.parametrize("module,name", PUBLIC, ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_public_name_has_docstring(module, name):
    obj = getattr(importlib.import_module(module), name)
    if module == "funcdyn.typing":
        # A type alias cannot carry `__doc__`: its docstring is the string literal after
        # the assignment (what mkdocstrings renders).
        doc = _attribute_docstrings(importlib.import_module(module)).get(name)
    else:
        doc = inspect.getdoc(obj)
    assert doc and len(doc.strip()) >= 10, f"{module}.{name} has no docstring"


def test_every_api_entry_resolves():
    for path, pages in _api_entries().items():
        try:
            _resolve(path)
        except (ImportError, AttributeError) as e:
            pytest.fail(f"docs/api/{pages[0]}: `::: {path}` does not resolve ({e})")


def test_every_api_entry_is_unique():
    duplicated = {p: pages for p, pages in _api_entries().items() if len(pages) > 1}
    assert not duplicated, f"documented on more than one API page: {duplicated}"


def test_every_public_name_is_on_an_api_page():
    documented = set()
    for path in _api_entries():
        try:
            documented.add(id(_resolve(path)))
        except (ImportError, AttributeError):
            pass
    missing = []
    for module, name in PUBLIC:
        obj = getattr(importlib.import_module(module), name)
        # A name re-exported in two places (funcdyn.X and funcdyn.sub.X) needs one entry.
        if f"{module}.{name}" not in _api_entries() and id(obj) not in documented:
            missing.append(f"{module}.{name}")
    assert not missing, (
        "public names missing from docs/api/*.md (add a `::: name` entry): "
        + ", ".join(missing)
    )


def _docstring_sources():
    for module in _public_modules():
        yield module.__name__, inspect.getdoc(module) or ""
        for name in _public_names(module):
            obj = getattr(module, name)
            yield f"{module.__name__}.{name}", inspect.getdoc(obj) or ""
            if inspect.isclass(obj):
                for attr, value in vars(obj).items():
                    if attr.startswith("_") and attr not in ("__init__", "__call__"):
                        continue
                    doc = getattr(value, "__doc__", None)
                    if isinstance(doc, str):
                        yield f"{module.__name__}.{name}.{attr}", inspect.cleandoc(doc)


def _documented_prefix(path: str, entries: set[str]) -> bool:
    """Whether `path` or an object containing it (a class whose methods are rendered on its
    page) is an API entry."""
    parts = path.split(".")
    return any(".".join(parts[:k]) in entries for k in range(len(parts), 0, -1))


def test_docstring_cross_references_resolve():
    entries = set(_api_entries())
    for page in API_DIR.glob("*.md"):
        # A module documented on a page (`::: funcdyn.losses`) anchors its own name.
        entries.update(ENTRY.findall(page.read_text()))
    broken = []
    for where, doc in _docstring_sources():
        for a, b in REFERENCE.findall(doc):
            target = a or b
            if not target.startswith("funcdyn"):
                continue
            try:
                _resolve(target)
            except (ImportError, AttributeError):
                broken.append(f"{where}: [{target}] does not exist")
                continue
            if not _documented_prefix(target, entries):
                broken.append(f"{where}: [{target}] is not on any API page")
    assert not broken, "\n".join(sorted(set(broken)))


def test_nav_lists_every_docs_page():
    mkdocs_yml = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(
        str(p.relative_to(ROOT / "docs")) for p in (ROOT / "docs").rglob("*.md")
    )
    missing = [p for p in pages if p not in mkdocs_yml]
    assert not missing, f"docs pages not in mkdocs.yml's nav: {missing}"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mkdocs") is None and not (
    pathlib.Path(sys.executable).parent / "mkdocs").exists(), reason="mkdocs not installed")
def test_mkdocs_build_strict(tmp_path):
    mkdocs = shutil.which("mkdocs") or str(pathlib.Path(sys.executable).parent / "mkdocs")
    result = subprocess.run(
        [mkdocs, "build", "--strict", "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-5000:]
