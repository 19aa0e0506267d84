"""The optional `nir` dependency, imported only when a conversion needs it."""

import importlib
from types import ModuleType


def require_nir() -> ModuleType:
    """The `nir` package, or an `ImportError` that says how to install it."""
    try:
        return importlib.import_module("nir")
    except ImportError as err:
        raise ImportError(
            "funcdyn.nir needs the `nir` package (the Neuromorphic Intermediate "
            "Representation, version 1.0 or later): install it with "
            "`pip install funcdyn[nir]` or `pip install nir`."
        ) from err
