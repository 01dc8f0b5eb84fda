"""mmagent: Agent Attention backbones for OpenMMLab 2.0.

Importing :mod:`mmagent` registers its models in the MMEngine registry (scope
``mmagent``, and by plain name for ``custom_imports``), and allow-lists the classes that
MMEngine stores in its own checkpoints so that ``torch.load(weights_only=True)`` can read
them back.
"""
from . import models  # noqa: F401,E402  (registers the models)
from . import zoo  # noqa: F401,E402  (registers the mmagent:// checkpoint scheme)
from .registry import MODELS  # noqa: F401
from .utils import safe_globals  # noqa: F401  (registers the allow-list on import)
from .version import __version__  # noqa: F401

__all__ = ['__version__', 'MODELS']
