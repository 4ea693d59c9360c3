"""Frozen records, written as classes of annotated fields, without importing typing.

``@record`` turns ``class State: phase: Phase = Phase.RUNNING ...`` into a namedtuple with those
fields, defaults and methods: what ``typing.NamedTuple`` makes, minus the import of typing (and of
``re``, which typing imports), measured at several milliseconds of sm-init's start-up
(bench/FINDINGS.md).
"""

from collections import namedtuple

_NOT_COPIED = ("__dict__", "__weakref__", "__annotations__", "__module__", "__qualname__")


def record(cls):
    fields = list(cls.__dict__.get("__annotations__", {}))
    defaults = [cls.__dict__[name] for name in fields if name in cls.__dict__]
    base = namedtuple(cls.__name__, fields, defaults=defaults, module=cls.__module__)
    namespace = {key: value for key, value in cls.__dict__.items() if key not in fields and key not in _NOT_COPIED}
    namespace["__slots__"] = ()
    namespace["__qualname__"] = cls.__qualname__
    return type(cls.__name__, (base,), namespace)
