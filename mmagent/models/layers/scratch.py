"""Reusable CPU scratch memory for temporaries that live inside one forward or backward.

PyTorch's CPU allocator hands large tensors straight to the operating system (glibc
``mmap`` above a threshold of at most 32 MB) and gives them back on free, so every large
temporary is zero-filled page by page again on its first write. On the 2-core VMs we
measure on that costs about 3 us per 4 KiB page: writing GELU into a fresh 64 MB tensor
took 51 ms, into a reused one 6 ms. The fused training functions of mmagent therefore
take their large temporaries - buffers that are dead before the function returns and are
never saved for backward or handed to the caller - from a few reused slots.

Slots are per thread, device and dtype; a slot grows to the largest size asked for and
is kept. CUDA has its own caching allocator, so GPU tensors never come from here.
"""
import threading

import torch

__all__ = ['scratch', 'release_scratch']

_local = threading.local()


def scratch(slot, shape, like):
    """An uninitialised tensor of ``shape`` with the dtype and device of ``like``.

    Args:
        slot (int): Which buffer. Two temporaries alive at the same time must use
            different slots; the caller must be done with a slot's tensor before it
            asks for the same slot again.
        shape (tuple[int]): The shape wanted (contiguous).
        like (Tensor): Gives dtype and device.

    On anything but the CPU this is ``torch.empty``.
    """
    if like.device.type != 'cpu':
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    numel = 1
    for s in shape:
        numel *= s
    pools = getattr(_local, 'pools', None)
    if pools is None:
        pools = _local.pools = {}
    key = (slot, like.dtype)
    buf = pools.get(key)
    if buf is None or buf.numel() < numel:
        buf = pools[key] = torch.empty(numel, dtype=like.dtype)
    return buf[:numel].view(shape)


def release_scratch():
    """Free this thread's scratch buffers (they are rebuilt on the next use)."""
    _local.pools = {}
