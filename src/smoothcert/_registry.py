"""A small named registry, the one mechanism behind models, datasets and methods.

Each kind (model, dataset, method) owns one :class:`Registry`; entries are plain
callables registered with a decorator. A duplicate name is an error, an unknown
name is a :class:`~smoothcert.errors.UserError` that lists the known ones.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from smoothcert.errors import UserError

T = TypeVar("T", bound=Callable[..., object])


class Registry(Generic[T]):
    """Maps names to builders of one kind.

    Example:
        >>> models = Registry("model")
        >>> @models.register("tiny")
        ... def tiny(num_classes: int): ...
        >>> models.names()
        ['tiny']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``fn`` under ``name``; raises ``ValueError`` on a duplicate."""

        def decorator(fn: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = fn
            return fn

        return decorator

    def get(self, name: str) -> T:
        """The builder registered as ``name``; a ``UserError`` naming the choices otherwise."""
        try:
            return self._entries[name]
        except KeyError:
            known = ", ".join(self.names())
            raise UserError(f"unknown {self.kind} {name!r}; choose one of: {known}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries
