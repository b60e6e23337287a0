"""What differs between the Pythons assist-ws runs on (3.11 to 3.13), kept in one place.

Spyne 2.14.0 is Spyne's last release and was written for older Pythons.  Importing this
module before Spyne (``assist_ws.soap`` and ``assist_ws.emulator`` do it first thing) makes it
work on each of them, without changing a file of Spyne:

* Spyne bundles ``six`` 1.14 as ``spyne.util.six``, whose ``spyne.util.six.moves`` modules
  exist only through an import hook of the old kind (``find_module``/``load_module``), which
  Python 3.12 no longer asks.  :class:`SixMovesFinder` answers the import system for those
  names in the current way (``find_spec``), handing out the very modules the bundled ``six``
  knows.  It is installed on every version, so 3.11 goes the same way.
* Spyne reads content types with ``cgi.parse_header``.  ``cgi`` left the standard library in
  3.13; the ``legacy-cgi`` distribution (a dependency there) brings it back.  It is imported
  here once, with its deprecation warning (3.11, 3.12) kept out of the logs.
* Python 3.13 strips the indentation of docstrings when it compiles them, and Spyne writes a
  method's docstring into the WSDL's ``wsdl:documentation``.  :func:`clean_documentation`
  makes every version's WSDL read as 3.13's does (:func:`cleandoc` is 3.13's rule), so the
  committed WSDLs are the same bytes whichever Python serves or regenerates them.

Nothing here imports Spyne or anything else of assist_ws.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

__all__ = ["SIX", "SixMovesFinder", "clean_documentation", "cleandoc", "install"]

#: The name under which Spyne bundles its ``six``.
SIX = "spyne.util.six"
_DOCUMENTATION = ("{http://schemas.xmlsoap.org/wsdl/}documentation",
                  "{http://www.w3.org/2001/XMLSchema}documentation")


class SixMovesFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds and loads ``spyne.util.six.moves`` and its submodules for the import system,
    from the registry of the bundled ``six`` (its ``_importer.known_modules``): a lazy
    module of ``six`` itself, or the standard module one stands for (``moves.urllib.parse``
    is ``urllib.parse``)."""

    def __init__(self) -> None:
        self._specs: dict[str, Any] = {}

    @staticmethod
    def _registry() -> Any:
        six = sys.modules.get(SIX)
        return getattr(six, "_importer", None)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if not fullname.startswith(SIX + ".moves"):
            return None
        registry = self._registry()
        if registry is None or fullname not in registry.known_modules:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec) -> ModuleType:
        module = self._registry().load_module(spec.name)  # resolves it; sets sys.modules
        # The import system now writes this spec onto the module; a standard module keeps
        # its own (``exec_module`` gives it back).
        self._specs[spec.name] = getattr(module, "__spec__", None)
        return module

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        original = self._specs.pop(spec.name, None) if spec is not None else None
        if original is not None:
            module.__spec__ = original


def install() -> None:
    """Put a :class:`SixMovesFinder` first on ``sys.meta_path`` (once) and import ``cgi``."""
    if not any(isinstance(f, SixMovesFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, SixMovesFinder())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*'cgi' is deprecated",
                                category=DeprecationWarning)
        try:
            import cgi
        except ImportError:  # pragma: no cover - the dependency on 3.13+ brings it
            raise ImportError("Spyne needs the cgi module, which Python 3.13 no longer has: "
                              "pip install legacy-cgi") from None
    if not hasattr(cgi, "parse_header"):  # pragma: no cover - a stand-in without it
        raise ImportError(f"{cgi.__file__} has no cgi.parse_header, which Spyne uses")


def cleandoc(text: str) -> str:
    """``text`` as Python 3.13 compiles a docstring: tabs expanded, the first line without
    leading spaces, and the spaces that all later non-blank lines begin with removed from
    each later line (blank lines lose up to as many).  Unlike :func:`inspect.cleandoc`,
    blank lines at the start and end are kept.  What it returns, it returns unchanged."""
    lines = text.expandtabs().split("\n")
    margins = [len(line) - len(line.lstrip(" ")) for line in lines[1:] if line.strip(" ")]
    margin = min(margins, default=0)
    rest = []
    for line in lines[1:]:
        cut = len(line) - len(line.lstrip(" "))
        rest.append(line[min(cut, margin):])
    return "\n".join([lines[0].lstrip(" ")] + rest)


def clean_documentation(root: Any) -> None:
    """Apply :func:`cleandoc` to every ``wsdl:documentation`` and ``xs:documentation`` text
    under the lxml element ``root``."""
    for el in root.iter(*_DOCUMENTATION):
        if el.text:
            el.text = cleandoc(el.text)


install()
