"""The version of the installed package, read from its metadata."""

import importlib.metadata
import pathlib
import re


def _source_tree_version() -> str | None:
    # A source checkout (an editable install, or the repository on `sys.path`) reads its
    # own pyproject.toml: installed metadata may belong to another copy of funcdyn, or be
    # older than the tree when the version was bumped without reinstalling.
    pyproject = pathlib.Path(__file__).resolve().parent.parent / "pyproject.toml"
    if not pyproject.is_file():
        return None
    text = pyproject.read_text(encoding="utf-8")
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    if project is None or not re.search(r'^name\s*=\s*"funcdyn"', project.group(1), re.M):
        return None
    version = re.search(r'^version\s*=\s*"([^"]+)"', project.group(1), re.M)
    return None if version is None else version.group(1)


def get_version() -> str:
    """The version in `pyproject.toml` for a source tree, else the installed
    distribution's metadata, else `"0+unknown"` (a copy of the package that was never
    installed, e.g. vendored)."""
    version = _source_tree_version()
    if version is not None:
        return version
    try:
        return importlib.metadata.version("funcdyn")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"
