"""Let ``torch.load(weights_only=True)`` read what MMEngine itself writes.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``: only tensors, plain
containers and allow-listed globals are unpickled, so a checkpoint cannot run code.
An MMEngine training checkpoint also stores the message hub, whose ``HistoryBuffer``
objects hold NumPy arrays and - through ``HistoryBuffer.__getstate__`` - the class's
table of statistics functions, which pickle as ``getattr(HistoryBuffer, 'min')``.
Allow-listing ``getattr`` would let a file call any attribute of any allowed object,
so instead mmagent, on import:

* registers (with :mod:`copyreg`, the standard hook for classes one does not own) a
  reducer that pickles a ``HistoryBuffer`` as :func:`restore_history_buffer` applied to
  its two arrays and its maximum length - plain data only;
* allow-lists exactly that function, ``HistoryBuffer`` and the NumPy array/dtype
  reconstructors.

``weights_only`` is never turned off. Checkpoints written by a run that imported
mmagent (every mmagent config does, through ``custom_imports``) resume safely.
"""
import copyreg
import importlib

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer


def restore_history_buffer(log_history, count_history, max_length):
    """Rebuild a ``HistoryBuffer`` from plain data (the inverse of the reducer)."""
    if not (isinstance(log_history, np.ndarray) and isinstance(count_history, np.ndarray)
            and isinstance(max_length, int)):
        raise TypeError('restore_history_buffer takes two arrays and an int')
    return HistoryBuffer(log_history, count_history, max_length)


def _reduce_history_buffer(buf):
    return restore_history_buffer, (np.asarray(buf._log_history),
                                    np.asarray(buf._count_history), int(buf.max_length))


def _numpy_globals():
    out = [np.ndarray, np.dtype]
    try:  # numpy >= 1.25 has one class per dtype
        from numpy import dtypes
        out += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    except ImportError:  # pragma: no cover
        pass
    multiarray = importlib.import_module('numpy._core.multiarray' if np.__version__ >=
                                         '2' else 'numpy.core.multiarray')
    out += [multiarray._reconstruct, multiarray.scalar]
    return out


def mmengine_safe_globals():
    """The functions and classes MMEngine checkpoints need beyond plain data."""
    return [restore_history_buffer, HistoryBuffer] + _numpy_globals()


def register():
    copyreg.pickle(HistoryBuffer, _reduce_history_buffer)
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch >= 2.4
        add(mmengine_safe_globals())


register()
