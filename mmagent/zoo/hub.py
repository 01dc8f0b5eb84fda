"""mmagent's ImageNet classifiers in MMPretrain's model hub.

After ``import mmagent``, ``mmpretrain.get_model('agent_pvt_t_in1k', pretrained=True)``
and ``ImageClassificationInferencer('agent_pvt_t_in1k')`` build the classifier from
mmagent's config and load the published weights through ``mmagent://NAME`` (fetched,
verified and converted to an ``ImageClassifier``'s keys).

mmpretrain is heavy to import (torchvision, every model), so importing mmagent does not
import it: the entries are registered as soon as ``mmpretrain.apis`` is imported (at
once if it already is), through MMPretrain's public ``ModelHub.register_model_index``.
"""
import importlib.abc
import importlib.util
import os
import os.path as osp
import sys
import tempfile

import yaml

from .index import configs_root, load_index

__all__ = ['register_mmpretrain_models', 'register_when_mmpretrain_loads']

_WATCHED = 'mmpretrain.apis.model'


def mmpretrain_entries(index=None):
    """Model-index records for the classification entries that have a config, from
    the package's own index (``MMAGENT_METAFILE`` redirects downloads, not names)."""
    out = []
    index = index or load_index(osp.join(configs_root(), 'metafile.yml'))
    for e in index.values():
        if e.task != 'Image Classification' or not e.config:
            continue
        out.append({
            'Name':
            e.name,
            'In Collection':
            e.collection,
            'Config':
            e.config_path,
            'Metadata': {
                'Training Data': e.dataset,
                'Parameters': e.params,
                'FLOPs': e.flops
            },
            'Results': [{
                'Task': e.task,
                'Dataset': e.dataset,
                'Metrics': dict(e.metrics)
            }],
            'Weights':
            f'mmagent://{e.name}?target=mmpretrain'
        })
    return out


def register_mmpretrain_models():
    """Register mmagent's classifiers with MMPretrain's ``ModelHub`` (idempotent).

    Returns:
        list[str]: the names registered by this call.
    """
    from mmpretrain.apis.model import ModelHub
    models = [m for m in mmpretrain_entries() if not ModelHub.has(m['Name'].lower())]
    if not models:
        return []
    fd, path = tempfile.mkstemp(prefix='mmagent-model-index-', suffix='.yml')
    try:
        with os.fdopen(fd, 'w') as f:
            yaml.safe_dump({'Models': models}, f, sort_keys=False)
        ModelHub.register_model_index(path)
    finally:
        os.remove(path)
    return [m['Name'] for m in models]


class _AfterImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Runs :func:`register_mmpretrain_models` right after ``mmpretrain.apis.model``
    has been executed, whoever imports it."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != _WATCHED:
            return None
        sys.meta_path.remove(self)  # find the real module, once
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        self.real_loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self.real_loader.create_module(spec)

    def exec_module(self, module):
        self.real_loader.exec_module(module)
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        register_mmpretrain_models()


def register_when_mmpretrain_loads():
    if _WATCHED in sys.modules:
        register_mmpretrain_models()
    elif not any(isinstance(f, _AfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport())
