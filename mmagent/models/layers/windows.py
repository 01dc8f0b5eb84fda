"""Splitting a token map into windows and back, and resizing position tables: the
geometry helpers that the window, stripe and whole-map attentions share."""
import torch
import torch.nn.functional as F
from torch.fx.experimental.symbolic_shapes import statically_known_true

__all__ = [
    'to_windows', 'from_windows', 'resize_pos_embed', 'map_view', 'tokens', 'known_zero',
    'known_equal', 'adaptive_avg_pool', 'pad_to_multiple'
]


def known_zero(*values):
    """Whether every value is 0, as far as it is known without fixing a size: in eager
    mode (plain ints) the plain answer; for a symbolic size (``torch.export`` or
    ``torch.compile`` with dynamic shapes) False unless provable, so the code that
    follows (a zero pad, an identity resize) serves every size."""
    return all(_known_true(v == 0) for v in values)


def known_equal(a, b):
    """Whether the size tuples ``a`` and ``b`` are equal, in the sense of
    :func:`known_zero`."""
    return len(a) == len(b) and all(_known_true(x == y) for x, y in zip(a, b))


def _known_true(cond):
    if isinstance(cond, (bool, torch.SymBool)):
        return statically_known_true(cond)
    return bool(cond)  # a traced size (torch.jit.trace, FLOP counters) is a tensor


def pad_to_multiple(x, multiple, channels_last=False):
    """Zero-pad the bottom/right edge of a (B, C, H, W) map, or (B, H, W, C) with
    ``channels_last``, so that H and W are multiples of ``multiple`` (an int or a
    pair). Returns ``x`` itself when nothing needs padding."""
    mh, mw = (multiple, multiple) if isinstance(multiple, int) else multiple
    height, width = x.shape[1:3] if channels_last else x.shape[2:4]
    # Written as "round up, then subtract" (not ``-height % mh``): for a symbolic size
    # the padded size is then plainly a multiple, so later pads and views are proven
    # trivial instead of being simplified through nested remainders.
    pad_h, pad_w = _round_up(height, mh) - height, _round_up(width, mw) - width
    if known_zero(pad_h, pad_w):
        return x
    return F.pad(x, (0, 0, 0, pad_w, 0, pad_h) if channels_last else (0, pad_w, 0, pad_h))


def _round_up(size, multiple):
    return (size + multiple - 1) // multiple * multiple


def to_windows(x, hw_shape, window):
    """(B, N, C) tokens -> (B * nW, wh * ww, C) windows of ``window = (wh, ww)``,
    the map zero-padded at the bottom/right to a multiple of the window."""
    wh, ww = window
    x = pad_to_multiple(x.unflatten(1, hw_shape), window, channels_last=True)
    b, hp, wp, c = x.shape
    nh, nw = hp // wh, wp // ww
    x = x.view(b, nh, wh, nw, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b * nh * nw, wh * ww, c)


def from_windows(x, hw_shape, window, batch):
    """Inverse of :func:`to_windows`, the padding cropped: (B, N, C). Every size is
    spelled out (no ``-1``): for symbolic sizes an inferred one costs the exporter a
    long simplification."""
    (height, width), (wh, ww) = hw_shape, window
    hp, wp = _round_up(height, wh), _round_up(width, ww)
    c = x.shape[-1]
    x = x.view(batch, hp // wh, wp // ww, wh, ww, c).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(batch, hp, wp, c)
    if not known_equal((hp, wp), (height, width)):
        x = x[:, :height, :width]
    return x.reshape(batch, height * width, c)


def resize_pos_embed(pos, src_hw, dst_hw, mode='bilinear', num_prefix=0):
    """A (1, prefix + R0*R1, C) position table resized over its grid to
    (1, prefix + H*W, C) (``align_corners=False``); the ``num_prefix`` leading rows (a
    class token's) are kept as they are. Returned unchanged when the grids agree."""
    if known_equal(tuple(dst_hw), tuple(src_hw)):
        return pos
    prefix, grid = pos[:, :num_prefix], pos[:, num_prefix:]
    grid = grid.unflatten(1, tuple(src_hw)).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(dst_hw), mode=mode, align_corners=False)
    grid = grid.flatten(2).transpose(1, 2)
    return torch.cat([prefix, grid], dim=1) if num_prefix else grid


def map_view(x, hw_shape):
    """(B, N, C) tokens as a (B, C, H, W) channels-last view, no copy."""
    return x.unflatten(1, hw_shape).permute(0, 3, 1, 2)


def tokens(x):
    """(B, C, H, W) -> (B, N, C)."""
    return x.flatten(2).transpose(1, 2)


def _pool_weights(size, out, like):
    """(out, size) weights of adaptive average pooling along one axis: row i averages
    ``[floor(i * size / out), ceil((i + 1) * size / out))``, as PyTorch's pooling."""
    i = torch.arange(out, device=like.device)
    j = torch.arange(size, device=like.device)
    start, end = (i * size) // out, ((i + 1) * size + out - 1) // out
    member = (j >= start[:, None]) & (j < end[:, None])
    return member.to(like.dtype) / (end - start)[:, None].to(like.dtype)


def adaptive_avg_pool(x, out_hw):
    """``F.adaptive_avg_pool2d(x, out_hw)`` for (B, C, H, W) ``x``. For a symbolic size
    (``torch.export``, dynamic ``torch.compile``) the pooling is written as two small
    matrix products, which serve any size: exporters lower the pooling op to a fixed
    kernel taken from the example size, which is wrong at every other size."""
    if all(isinstance(s, int) for s in x.shape[-2:]):
        return F.adaptive_avg_pool2d(x, out_hw)
    rows = _pool_weights(x.shape[-2], out_hw[0], x)
    cols = _pool_weights(x.shape[-1], out_hw[1], x)
    return rows @ x @ cols.transpose(0, 1)
