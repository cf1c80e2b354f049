"""Dagster run-config classes derived from the core's settings dataclasses.

A ``dg.Config`` made by :func:`mirrored` has one field per field of the core dataclass,
with its default and documentation (tuples become lists in run config), plus any
shell-only fields; ``to_core()`` builds the dataclass back (which validates it). So a
setting's name, default and description are defined once, in the core.
"""

import dataclasses
import typing
from typing import Any

import dagster as dg
import pydantic

from fma_pipeline.core.settings import field_doc

_CORE_TYPES: dict[type, type] = {}


class MirroredConfig(dg.Config):
    """Base of the derived config classes."""

    def to_core(self):
        """The core dataclass these settings mirror (shell-only fields left out)."""
        core = _CORE_TYPES[type(self)]
        names = {f.name for f in dataclasses.fields(core)}
        return core(**{k: tuple(v) if isinstance(v, list) else v
                       for k, v in self.model_dump().items() if k in names})


def _config_type(annotation: Any) -> Any:
    """``tuple[str, ...]`` -> ``list[str]`` (run config has lists); the rest unchanged."""
    if typing.get_origin(annotation) is tuple:
        return list[typing.get_args(annotation)[0]]
    return annotation


def mirrored(core: type, name: str, doc: str, *, defaults: dict[str, Any] | None = None,
             extra: dict[str, tuple[Any, Any]] | None = None) -> type[MirroredConfig]:
    """A ``dg.Config`` class named ``name`` with every field of dataclass ``core`` that has a
    plain default (a field made by a ``default_factory`` stays the core's own).

    Parameters
    ----------
    core : type
        A dataclass whose fields carry ``documented`` docs (``core/settings.py``).
    name, doc : str
        The class name and docstring the Dagster UI shows.
    defaults : dict, optional
        Other defaults for this asset (e.g. fewer tracks at the segment level).
    extra : dict, optional
        Shell-only fields: name -> (type, ``pydantic.Field(...)``).
    """
    hints = typing.get_type_hints(core)
    defaults = defaults or {}
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(core):
        if f.name not in defaults and f.default is dataclasses.MISSING:
            continue
        default = defaults.get(f.name, f.default)
        if isinstance(default, tuple):
            field = pydantic.Field(default_factory=lambda d=default: list(d), description=field_doc(core, f.name))
        else:
            field = pydantic.Field(default=default, description=field_doc(core, f.name))
        fields[f.name] = (_config_type(hints[f.name]), field)
    config = pydantic.create_model(name, __base__=MirroredConfig, __doc__=doc,
                                   **fields, **(extra or {}))
    _CORE_TYPES[config] = core
    return config
