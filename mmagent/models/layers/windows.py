"""Splitting a token map into windows and back, and resizing position tables: the
geometry helpers that the window, stripe and whole-map attentions share."""
import torch
import torch.nn.functional as F

__all__ = ['to_windows', 'from_windows', 'resize_pos_embed', 'map_view', 'tokens']


def to_windows(x, hw_shape, window):
    """(B, N, C) tokens -> (B * nW, wh * ww, C) windows of ``window = (wh, ww)``,
    the map zero-padded at the bottom/right to a multiple of the window."""
    (height, width), (wh, ww) = hw_shape, window
    x = x.unflatten(1, hw_shape)
    pad_h, pad_w = -height % wh, -width % ww
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    b, hp, wp, c = x.shape
    x = x.view(b, hp // wh, wh, wp // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, wh * ww, c)


def from_windows(x, hw_shape, window, batch):
    """Inverse of :func:`to_windows`, the padding cropped: (B, N, C)."""
    (height, width), (wh, ww) = hw_shape, window
    hp, wp = height + -height % wh, width + -width % ww
    x = x.view(batch, hp // wh, wp // ww, wh, ww, -1).permute(0, 1, 3, 2, 4, 5)
    x = x.reshape(batch, hp, wp, -1)[:, :height, :width]
    return x.reshape(batch, height * width, -1)


def resize_pos_embed(pos, src_hw, dst_hw, mode='bilinear', num_prefix=0):
    """A (1, prefix + R0*R1, C) position table resized over its grid to
    (1, prefix + H*W, C) (``align_corners=False``); the ``num_prefix`` leading rows (a
    class token's) are kept as they are. Returned unchanged when the grids agree."""
    if tuple(dst_hw) == tuple(src_hw):
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
