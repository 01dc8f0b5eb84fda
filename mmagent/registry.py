"""mmagent's registries.

``MODELS`` is a child of MMEngine's root ``MODELS`` registry with scope ``mmagent``:

* from any OpenMMLab 2.0 codebase (mmdet, mmseg, mmpretrain) a module is reachable as
  ``type='mmagent.AgentPVT'`` once :mod:`mmagent` is imported;
* every module registered here is also published, under its plain name, in the root
  registry, which is the parent of mmdet's, mmseg's and mmpretrain's registries, so a
  config that lists ``custom_imports = dict(imports=['mmagent'])`` can say
  ``type='AgentPVT'`` whatever its ``default_scope``.

Registering the same class again (a second import, a module reload) is harmless; a
*different* class under a name that is already taken still fails loudly. Only the
registries' public API is used (``register_module``, ``module_dict``, ``parent``).
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

__all__ = ['MODELS']


def _same_class(a, b):
    return a is b or (getattr(a, '__module__', None) == getattr(b, '__module__', 0) and
                      getattr(a, '__qualname__', None) == getattr(b, '__qualname__', 0))


class PluginRegistry(Registry):
    """A registry whose modules are also visible by plain name from sibling scopes."""

    def register_module(self, name=None, force=False, module=None):

        def register(cls):
            names = [name] if isinstance(
                name, str) else (list(name) if name is not None else [cls.__name__])
            for n in names:
                mine = self.module_dict.get(n)
                # A re-executed module (reload, second import path) defines an
                # equal class.
                redefine = mine is not None and _same_class(mine, cls)
                Registry.register_module(self, name=n, force=force or redefine,
                                         module=cls)
                theirs = self.parent.module_dict.get(n)
                if theirs is None or _same_class(theirs, cls):
                    self.parent.register_module(name=n, force=True, module=cls)
                # else: the root already has another module of that name (e.g. from
                # another plugin); it stays reachable there and ours as mmagent.<name>.
            return cls

        if module is not None:
            return register(module)
        return register


MODELS = PluginRegistry('model', parent=MMENGINE_MODELS, scope='mmagent',
                        locations=['mmagent.models'])
