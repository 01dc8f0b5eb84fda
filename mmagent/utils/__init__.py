from . import safe_globals  # noqa: F401

__all__ = ['safe_globals']
