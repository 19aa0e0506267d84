"""Package metadata: licence, typing marker, version, pytest configuration."""

import importlib.metadata
import pathlib
import re

import pytest

import funcdyn
from funcdyn import _version

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_license_and_py_typed_ship():
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert (ROOT / "funcdyn" / "py.typed").exists()
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'license = "Apache-2.0"' in pyproject and 'license-files = ["LICENSE"]' in pyproject


def test_version_comes_from_pyproject_in_a_source_tree():
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert funcdyn.__version__ == declared.group(1)


def test_version_falls_back_to_metadata_then_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr(_version, "__file__", str(tmp_path / "funcdyn" / "_version.py"))
    assert _version._source_tree_version() is None  # no pyproject.toml beside it

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9.9")
    assert _version.get_version() == "9.9.9"
    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert _version.get_version() == "0+unknown"
    # Another project's pyproject.toml beside the package is not ours.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "1.0"\n')
    assert _version._source_tree_version() is None


def test_minimum_versions_match_pyproject():
    pins = dict(
        line.split("#")[0].strip().split("==")
        for line in (ROOT / ".ci" / "minversions.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    )
    pyproject = (ROOT / "pyproject.toml").read_text()
    for name in ("jax", "equinox", "optax", "diffrax", "jaxtyping", "tqdm", "numpy"):
        assert f'"{name}>={pins[name]}"' in pyproject, name


def test_addopts_work_without_xdist():
    # `-n` in addopts breaks a pytest without pytest-xdist.
    addopts = re.search(r"^addopts = (.*)$", (ROOT / "pyproject.toml").read_text(), re.M)
    assert "-n" not in addopts.group(1).split()
