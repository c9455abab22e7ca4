"""The one registry mechanism: names -> objects, for learners, populations and principals.

A ``Registry`` maps a name to an object (a class, a factory) or to a ``"module:attribute"``
entry point, imported on first use (so that registering a principal does not import torch).
A prefix family, e.g. ``"sb3:"``, makes every name that starts with the prefix known at once;
the caller decides what the rest of the name means. With ``import_paths=True`` any other
``"package.module:attribute"`` name is imported as it stands (third-party entry points).

Every lookup of a name that is not there raises ``UnknownNameError``, whose message names the
kind of registry, the name asked for and the known names::

    unknown learner 'ucbb'; known learners: best_response, ..., ucb, sb3:<name>
"""

from __future__ import annotations

import importlib
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")

class UnknownNameError(KeyError, ValueError):
    """A name that a registry does not know.

    Both a ``KeyError`` (a failed lookup) and a ``ValueError`` (a bad argument), so callers
    that catch either keep working; the message reads plainly (not quoted as a ``KeyError``'s
    would be)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def load_entry_point(entry_point: str) -> Any:
    """The attribute named by ``"module:attribute"``, imported now; ``ValueError`` naming what
    is missing otherwise."""
    module_name, _, attribute = entry_point.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"entry point must read 'module:attribute', got {entry_point!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r}: {error}") from error
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name!r} has no attribute {attribute!r}") from None


class Registry(Generic[T]):
    """Names -> ``T`` (or ``"module:attribute"`` strings resolving to one), plus prefix families.

    kind: what is registered, in the singular ("learner"); it names the registry in messages.
    import_paths: whether ``lookup`` imports any other ``"module:attribute"`` name.
    hint: appended to the unknown-name message (e.g. "; or pass 'package.module:Class'").
    placeholder: how a family's free part shows in ``names()`` and messages ("sb3:<name>").

    Rules: a name is a non-empty string without ``':'`` (the colon belongs to prefix families
    and import paths); a prefix is a non-empty string; registering a name or a prefix twice is
    a ``ValueError``. An exact name wins over a family; of several families, the longest prefix.
    """

    def __init__(self, kind: str, *, import_paths: bool = False, hint: str = "",
                 placeholder: str = "<name>") -> None:
        self.kind = kind
        self.import_paths = import_paths
        self.hint = hint
        self.placeholder = placeholder
        self._entries: dict[str, T | str] = {}
        self._families: dict[str, T | str] = {}

    def register(self, name: str, entry: T | str) -> None:
        """Register ``entry`` (an object, or a ``"module:attribute"`` string) under ``name``."""
        if not isinstance(name, str) or not name or ":" in name:
            raise ValueError(f"{self.kind} name must be a non-empty string without ':', got "
                             f"{name!r}")
        if name in self._entries:
            raise ValueError(f"{self.kind} name {name!r} is already registered")
        self._entries[name] = self._checked(entry, name)

    def register_prefix(self, prefix: str, entry: T | str) -> None:
        """Register a family: every name starting with ``prefix`` (e.g. ``"sb3:"``)."""
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"{self.kind} prefix must be a non-empty string, got {prefix!r}")
        if prefix in self._families:
            raise ValueError(f"{self.kind} prefix {prefix!r} is already registered")
        self._families[prefix] = self._checked(entry, prefix)

    def _checked(self, entry: T | str, name: str) -> T | str:
        if isinstance(entry, str):
            module_name, _, attribute = entry.partition(":")
            if not module_name or not attribute:
                raise ValueError(f"the entry point of {self.kind} {name!r} must read "
                                 f"'module:attribute', got {entry!r}")
        return entry

    def names(self, families: bool = True) -> list[str]:
        """The registered names, sorted, then (with ``families``) each family as
        ``prefix + placeholder``."""
        names = sorted(self._entries)
        if families:
            names += [prefix + self.placeholder for prefix in sorted(self._families)]
        return names

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is registered or in a family (import paths are not tried)."""
        return isinstance(name, str) and (name in self._entries
                                          or self._family_of(name) is not None)

    def _family_of(self, name: str) -> str | None:
        matches = [prefix for prefix in self._families if name.startswith(prefix)]
        return max(matches, key=len) if matches else None

    def unknown(self, name: object, detail: str = "") -> UnknownNameError:
        """The error for a name this registry does not know (``detail`` says why, if known)."""
        return UnknownNameError(f"unknown {self.kind} {name!r}{detail}; known {self.kind}s: "
                                f"{', '.join(self.names())}{self.hint}")

    def get(self, name: str) -> T:
        """The object registered under exactly ``name`` (imported on first use)."""
        if not isinstance(name, str) or name not in self._entries:
            raise self.unknown(name)
        return self._resolve(self._entries, name)

    def lookup(self, name: str) -> tuple[T, str | None]:
        """``(object, None)`` for a registered name or an import path, ``(family object,
        rest of the name)`` for a name in a family; ``UnknownNameError`` otherwise."""
        if isinstance(name, str):
            if name in self._entries:
                return self._resolve(self._entries, name), None
            prefix = self._family_of(name)
            if prefix is not None:
                return self._resolve(self._families, prefix), name[len(prefix):]
            if self.import_paths and ":" in name:
                try:
                    return cast(T, load_entry_point(name)), None
                except ValueError as error:
                    raise self.unknown(name, f" ({error})") from error
        raise self.unknown(name)

    def _resolve(self, table: dict[str, T | str], key: str) -> T:
        entry = table[key]
        if isinstance(entry, str):
            try:
                entry = cast(T, load_entry_point(entry))
            except ValueError as error:
                raise ValueError(f"{self.kind} {key!r} cannot be loaded: {error}") from error
            table[key] = entry
        return cast(T, entry)
