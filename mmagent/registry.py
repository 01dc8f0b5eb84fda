"""mmagent's registries.

``MODELS`` is a child of MMEngine's root ``MODELS`` registry with scope ``mmagent``:

* from any OpenMMLab 2.0 codebase (mmdet, mmseg, mmpretrain) a module is reachable as
  ``type='mmagent.AgentPVT'`` once :mod:`mmagent` is imported;
* every module registered here is also published, under its plain name, in the root
  registry, which is the parent of mmdet's, mmseg's and mmpretrain's registries, so a
  config that lists ``custom_imports = dict(imports=['mmagent'])`` can say
  ``type='AgentPVT'`` whatever its ``default_scope``.

Registering the same class again (a second import, a module reload) is harmless; a
*different* class under a name that is already taken still fails loudly.
"""
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import Registry

__all__ = ['MODELS']


def _same_class(a, b):
    return a is b or (getattr(a, '__module__', None) == getattr(b, '__module__', 0)
                      and getattr(a, '__qualname__', None) == getattr(b, '__qualname__', 0))


class PluginRegistry(Registry):
    """A registry whose modules are also visible by plain name from sibling scopes."""

    def _register_module(self, module, module_name=None, force=False):
        names = [module_name] if isinstance(module_name, str) else (
            list(module_name) if module_name is not None else [module.__name__])
        for name in names:
            mine = self._module_dict.get(name)
            # A re-executed module (reload, second import path) defines an equal class.
            redefine = mine is not None and _same_class(mine, module)
            super()._register_module(module, name, force=force or redefine)
            root = self.parent
            theirs = root._module_dict.get(name)
            if theirs is None or _same_class(theirs, module):
                root._module_dict[name] = module
            # else: the root already has another module of that name (e.g. from another
            # plugin); it stays reachable there and ours stays reachable as mmagent.<name>.


MODELS = PluginRegistry(
    'model', parent=MMENGINE_MODELS, scope='mmagent', locations=['mmagent.models'])
