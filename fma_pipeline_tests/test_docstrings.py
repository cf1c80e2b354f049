"""Numpydoc docstrings on the public API of the core modules listed in DOCUMENTED.

Every public function and public method (name not starting with ``_``) defined in a listed
module has a docstring with a ``Parameters`` section when it takes parameters (other than
``self``/``cls``) and a ``Returns`` (or, for generators and context managers, ``Yields``)
section when its return annotation is not ``None``. Every public class has a ``Parameters``
or ``Attributes`` section. Add a module to DOCUMENTED once its docstrings follow the style.
"""

from __future__ import annotations

import inspect
import pkgutil
from importlib import import_module

import pytest

import fma_pipeline.core

#: Modules (dotted names) whose public functions, methods and classes must be documented.
DOCUMENTED: list[str] = [
    "fma_pipeline.core.learning.clustering",
    "fma_pipeline.core.learning.evaluation",
    "fma_pipeline.core.learning.families",
    "fma_pipeline.core.learning.models",
    "fma_pipeline.core.learning.novelty",
    "fma_pipeline.core.learning.plots",
    "fma_pipeline.core.learning.segments",
    "fma_pipeline.core.learning.selection",
    "fma_pipeline.core.learning.subgenre_training",
    "fma_pipeline.core.learning.training",
    "fma_pipeline.core.learning.training_config",
    "fma_pipeline.core.learning.trained_model",
    "fma_pipeline.core.learning.problem",
    "fma_pipeline.core.learning.scoring",
    "fma_pipeline.core.learning.search",
    "fma_pipeline.core.learning.ensemble",
    "fma_pipeline.core.learning.calibration",
    "fma_pipeline.core.learning.comparison",
    "fma_pipeline.core.progress",
    "fma_pipeline.core.tracking",
    "fma_pipeline.core.report",
    "fma_pipeline.core.catalogue",
    "fma_pipeline.core.storage",
    "fma_pipeline.core.failures",
    "fma_pipeline.core.settings",
    "fma_pipeline.core.fma.subgenres",
    "fma_pipeline.core.fma.published",
    "fma_pipeline.core.fma.genres",
    "fma_pipeline.core.audio.windows",
    "fma_pipeline.core.locking",
    "fma_pipeline.core.audio.decode",
    "fma_pipeline.core.audio.definition",
    "fma_pipeline.core.audio.extraction",
    "fma_pipeline.core.audio.features",
    "fma_pipeline.core.audio.tagging",
    "fma_pipeline.core.audio.warmup",
    "fma_pipeline.core.audio.workers",
    "fma_pipeline.core.fma.layout",
    "fma_pipeline.core.fma.metadata",
    "fma_pipeline.core.fma.importer",
    "fma_pipeline.core.sample.dataset",
    "fma_pipeline.core.fma.download",
    "fma_pipeline.core.sample.engine",
    "fma_pipeline.core.sample.styles",
    "fma_pipeline.core.audio.file_worker",
    "fma_pipeline.core.audio.served",
    "fma_pipeline.core.procfs",
]


def _core_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(fma_pipeline.core.__path__, "fma_pipeline.core."))


def _problems(name: str, func) -> list[str]:
    func = inspect.unwrap(func)  # contextmanager and friends: the documented function
    doc = func.__doc__ or ""  # not inspect.getdoc: an undocumented override must not borrow its base's
    if not doc:
        return [f"{name}: no docstring"]
    out = []
    signature = inspect.signature(func)
    params = [p for p in signature.parameters if p not in ("self", "cls")]
    if params and "Parameters" not in doc:
        out.append(f"{name}: takes {params} but has no Parameters section")
    returns = signature.return_annotation
    if returns not in (None, "None") and "Returns" not in doc and "Yields" not in doc:
        out.append(f"{name}: returns {returns!r} but has no Returns section")
    return out


def _members(module) -> list[tuple[str, object]]:
    """(qualified name, function) of the module's public functions and its public classes' public methods."""
    out = []
    for name, obj in inspect.getmembers(module):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            out.append((name, obj))
        elif inspect.isclass(obj):
            for attr, raw in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(raw, (classmethod, staticmethod)):
                    raw = raw.__func__
                elif isinstance(raw, property):
                    raw = raw.fget
                if inspect.isfunction(raw):
                    out.append((f"{name}.{attr}", raw))
    return out


def test_documented_modules_exist():
    assert set(DOCUMENTED) <= set(_core_modules())


@pytest.mark.parametrize("module_name", [m for m in _core_modules() if m in DOCUMENTED])
def test_public_api_has_numpydoc_sections(module_name):
    module = import_module(module_name)
    problems = [p for name, func in _members(module) for p in _problems(name, func)]
    for name, cls in inspect.getmembers(module, inspect.isclass):
        if name.startswith("_") or cls.__module__ != module_name:
            continue
        doc = cls.__doc__ or ""
        if "Parameters" not in doc and "Attributes" not in doc:
            problems.append(f"class {name}: no Parameters or Attributes section")
    assert not problems, "\n".join(problems)
