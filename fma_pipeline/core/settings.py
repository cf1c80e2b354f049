"""Documented settings: a dataclass field that carries its own documentation.

The core's settings (``TrainingConfig``, ``SubgenreConfig``, ``ClusterConfig``) are plain
frozen dataclasses; the Dagster shell derives its run-config classes from them (same
names, defaults and descriptions), so a setting is defined once, here in the core.
"""

from __future__ import annotations

import dataclasses


def documented(default, doc: str):
    """A dataclass field with a default and the documentation the Dagster config shows.

    Parameters
    ----------
    default : int, float, str, bool or tuple
        The field's default (immutable: lists become tuples in the core).
    doc : str
        What the setting does and why its default.

    Returns
    -------
    dataclasses.Field
        The field, with ``doc`` in its metadata.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class Demo:
    ...     k: int = documented(2, "Smallest k.")
    >>> field_doc(Demo, "k")
    'Smallest k.'
    """
    return dataclasses.field(default=default, metadata={"doc": doc})


def field_doc(settings: type, name: str) -> str:
    """The documentation of field ``name`` of dataclass ``settings`` ('' when it has none).

    Parameters
    ----------
    settings : type
        A dataclass.
    name : str
        One of its fields.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        If ``settings`` has no field ``name``.
    """
    return settings.__dataclass_fields__[name].metadata.get("doc", "")
