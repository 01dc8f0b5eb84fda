"""Let ``torch.load(weights_only=True)`` read what MMEngine itself writes.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``: only tensors, plain
containers and allow-listed classes are unpickled, so a checkpoint cannot run code. An
MMEngine training checkpoint also stores the message hub (``HistoryBuffer`` objects
holding NumPy arrays) and NumPy scalars in ``meta``, so resuming fails with
"Unsupported global". mmagent allow-lists exactly those data classes - never turning
``weights_only`` off - when it is imported.
"""
import numpy as np
import torch


def _numpy_globals():
    out = [np.ndarray, np.dtype]
    try:  # numpy >= 1.25 has one class per dtype
        from numpy import dtypes
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    except ImportError:  # pragma: no cover
        pass
    import importlib
    multiarray = importlib.import_module(
        'numpy._core.multiarray' if np.__version__ >= '2' else 'numpy.core.multiarray')
    out += [multiarray._reconstruct, multiarray.scalar]
    return out


def mmengine_safe_globals():
    """The classes and functions MMEngine checkpoints need beyond plain data."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer] + _numpy_globals()


def register():
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch >= 2.4
        add(mmengine_safe_globals())


register()
