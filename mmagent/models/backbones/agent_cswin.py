"""Agent-CSwin (Han et al., "Agent Attention", ECCV 2024) for OpenMMLab 2.0.

CSWin (Dong et al., CVPR 2022) splits each block's heads in two halves that attend
within vertical and horizontal stripes, with a locally-enhanced positional encoding
(LePE: a depthwise 3x3 conv of V inside the stripe) added to the output. Agent-CSwin
replaces the attention of its first stages (``attn_type`` ``'AABB'``) with agent
attention over the whole map, again with LePE.

Module names follow the published checkpoints (``stage1_conv_embed``, ``stage{i}``,
``merge{i}``; a block's ``qkv``, ``attns`` and ``proj``), so they load as they are.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath

from mmagent.models.layers import Mlp
from mmagent.models.layers.agent_attention import AgentAttentionCore
from mmagent.registry import MODELS
from .base import (AgentStages, BaseBackbone, as_stage_list, check_heads,
                   drop_path_rates, parse_attn_type, to_map)

__all__ = ['AgentCSWin']


# -- stripes -----------------------------------------------------------------------
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


def lepe(conv, v, window):
    """LePE: the depthwise conv of V inside each window (zero outside it); (B', L, C)."""
    wh, ww = window
    v_map = v.unflatten(1, (wh, ww)).permute(0, 3, 1, 2)
    return conv(v_map).flatten(2).transpose(1, 2)


class LePEAttention(nn.Module):
    """CSWin's stripe attention for one branch of a block.

    ``idx`` 0: vertical stripes ``split_size`` columns wide spanning the map's height;
    1: horizontal stripes ``split_size`` rows high spanning its width; -1: the whole
    map. On maps that the stripe width does not divide, the map is zero-padded at the
    bottom/right and the padded tokens are masked out as keys, so the result does not
    depend on the padding.
    """

    def __init__(self, embed_dims, num_heads, idx, split_size, attn_drop=0.):
        super().__init__()
        if idx not in (-1, 0, 1):
            raise ValueError(f'LePEAttention idx must be -1, 0 or 1, got {idx!r}')
        self.num_heads = num_heads
        self.idx = idx
        self.split_size = split_size
        self.scale = (embed_dims // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def window(self, hw_shape):
        height, width = hw_shape
        return {-1: (height, width), 0: (height, self.split_size),
                1: (self.split_size, width)}[self.idx]

    def key_mask(self, hw_shape, window, batch, device):
        """(B * nW, 1, 1, L) True for real tokens, or None when nothing is padded."""
        if hw_shape[0] % window[0] == 0 and hw_shape[1] % window[1] == 0:
            return None
        real = torch.ones(1, hw_shape[0] * hw_shape[1], 1, device=device)
        real = to_windows(real, hw_shape, window)[..., 0] > 0  # (nW, L)
        return real[:, None, None, :].repeat(batch, 1, 1, 1)

    def forward(self, q, k, v, hw_shape):
        batch, _, channels = q.shape
        window = self.window(hw_shape)
        q, k, v = (to_windows(t, hw_shape, window) for t in (q, k, v))

        def split_heads(t):  # (B', L, C) -> (B', h, L, d)
            return t.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            split_heads(q), split_heads(k), split_heads(v),
            attn_mask=self.key_mask(hw_shape, window, batch, q.device),
            dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        out = out.transpose(1, 2).flatten(2) + lepe(self.get_v, v, window)
        return from_windows(out, hw_shape, window, batch)


class CSWinAgentAttention(AgentAttentionCore):
    """Agent attention over the whole map with LePE (the conv named ``get_v``), the
    attention of Agent-CSwin's agent stages. The biases are sized for the map at
    pretraining (``pretrain_hw``) and resized to the actual map, the agents pooled to
    ``downstream_agent_shape``, as Agent-Swin does downstream."""

    def __init__(self, embed_dims, num_heads, agent_num, pretrain_hw,
                 downstream_agent_shape=None, attn_drop=0.):
        super().__init__(num_heads, agent_num=agent_num, pretrain_hw=pretrain_hw,
                         downstream_agent_shape=downstream_agent_shape)
        self.scale = (embed_dims // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, q, k, v, hw_shape):
        out = self.attend(q, k, v, hw_shape, self.scale, self.attn_drop)
        return out + lepe(self.get_v, v, hw_shape)


class CSWinBlock(nn.Module):
    """Pre-norm CSWin block: ``x + drop_path(attention(norm1(x)))`` then the MLP.

    ``attention`` is the block's ``qkv`` projection, its branches ``attns`` (two halves
    of the channels and heads on vertical/horizontal stripes, or one over the whole
    map), and ``proj`` - the published layout, so the names load unchanged.
    """

    def __init__(self, embed_dims, branches, mlp_ratio=4., qkv_bias=True, drop=0.,
                 drop_path=0.):
        super().__init__()
        self.norm1 = nn.LayerNorm(embed_dims)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attns = nn.ModuleList(branches)
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(embed_dims)
        self.mlp = Mlp(embed_dims, int(embed_dims * mlp_ratio), drop=drop)

    def attention(self, x, hw_shape):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if len(self.attns) == 1:
            out = self.attns[0](q, k, v, hw_shape)
        else:
            half = q.shape[-1] // 2
            out = torch.cat([
                attn(q[..., part], k[..., part], v[..., part], hw_shape)
                for attn, part in zip(self.attns, (slice(0, half), slice(half, None)))],
                dim=-1)
        return self.proj_drop(self.proj(out))

    def forward(self, x, hw_shape):
        x = x + self.drop_path(self.attention(self.norm1(x), hw_shape))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Stem(nn.Sequential):
    """7x7 stride-4 conv, then LayerNorm on the tokens (published ``stage1_conv_embed.0``
    and ``.2``)."""

    def __init__(self, in_channels, embed_dims):
        super().__init__(nn.Conv2d(in_channels, embed_dims, 7, stride=4, padding=2),
                         nn.Flatten(2), nn.LayerNorm(embed_dims))

    def forward(self, x):
        x = self[0](x)
        hw_shape = (x.shape[2], x.shape[3])
        return self[2](self[1](x).transpose(1, 2)), hw_shape


class MergeBlock(nn.Module):
    """3x3 stride-2 conv doubling the width, then LayerNorm; odd maps round up."""

    def __init__(self, in_dims, out_dims):
        super().__init__()
        self.conv = nn.Conv2d(in_dims, out_dims, 3, stride=2, padding=1)
        self.norm = nn.LayerNorm(out_dims)

    def forward(self, x, hw_shape):
        x = self.conv(x.transpose(1, 2).unflatten(2, hw_shape))
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


@MODELS.register_module()
class AgentCSWin(AgentStages, BaseBackbone):
    """Agent-CSwin backbone (ECCV 2024) for OpenMMLab 2.0.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        pretrain_img_size (int): Image size of the ImageNet weights (224 or 384): sizes
            the agent biases (the stage maps at that size). Defaults to 224.
        in_channels (int): Defaults to 3.
        embed_dims (int, optional): Width of stage 1; doubles every stage.
        depths, num_heads (list, optional): Per-stage overrides (4 entries).
        mlp_ratio (float, optional): Defaults to the preset's 4.
        split_size (Sequence[int]): Stripe width of the CSWin (``'B'``) stages; the
            published models use (1, 2, 7, 7) at 224 px and (1, 2, 12, 12) at 384 px.
            A non-final CSWin stage whose stripe is narrower than its map at
            pretraining has two branches (vertical and horizontal stripes); otherwise,
            and always in the last stage, one branch attends over the whole map.
        agent_num (Sequence[int]): Agents per stage at pretraining, perfect squares.
            Defaults to (9, 16, 49, 49).
        attn_type (str): One letter per stage, ``'A'`` agent attention over the whole
            map (as in every published model), ``'B'`` CSWin stripes. Defaults to
            ``'AABB'``.
        downstream_agent_shapes (Sequence, optional): Agent grid (rows, cols) per
            stage at run time. Defaults to the pretraining grids.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.2.
        out_indices (Sequence[int]): Stages to output, each through a LayerNorm
            ``norm{i}``. Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 none, 0 the stem, k the stem and the first k stages.
        norm_eval (bool): No BatchNorm here; kept for the common interface.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='mmagent://agent_cswin_t_in1k')``.

    Any input size works: the stem and the merges round odd sizes up, the agent biases
    are resized to the actual maps, and stripes that do not divide a map are padded
    (and the padding masked).
    """
    arch_zoo = {
        'tiny': dict(embed_dims=64, depths=[2, 4, 18, 1], num_heads=[2, 4, 8, 16],
                     mlp_ratio=4.),
        'small': dict(embed_dims=64, depths=[3, 6, 29, 2], num_heads=[2, 4, 8, 16],
                      mlp_ratio=4.),
        'base': dict(embed_dims=96, depths=[3, 6, 29, 2], num_heads=[4, 8, 16, 32],
                     mlp_ratio=4.),
    }
    published_prefixes = ('stage', 'merge', 'norm0.', 'norm1.', 'norm2.', 'norm3.')
    downstream_only_keys = ('norm0', 'norm1', 'norm2', 'norm3')

    def __init__(self,
                 arch='tiny',
                 pretrain_img_size=224,
                 in_channels=3,
                 embed_dims=None,
                 depths=None,
                 num_heads=None,
                 mlp_ratio=None,
                 split_size=(1, 2, 7, 7),
                 agent_num=(9, 16, 49, 49),
                 attn_type='AABB',
                 downstream_agent_shapes=None,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.2,
                 **kwargs):
        super().__init__(**kwargs)  # out_indices, frozen_stages, norm_eval, with_cp, init_cfg
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratio=mlp_ratio)
        base_dims = cfg['embed_dims']
        if not isinstance(base_dims, int) or base_dims <= 0:
            raise ValueError(f'embed_dims must be a positive integer (the width of '
                             f'stage 1), got {base_dims!r}')
        if not isinstance(pretrain_img_size, int) or pretrain_img_size < 32:
            raise ValueError(f'pretrain_img_size must be an integer >= 32, got '
                             f'{pretrain_img_size!r}')
        self.embed_dims = [base_dims * 2**i for i in range(4)]
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        check_heads(self.embed_dims, self.num_heads)
        self.split_size = as_stage_list('split_size', split_size)
        plan = parse_attn_type(attn_type, self.depths, self.attn_letters)
        self.setup_efficient_attention(dict(agent_num=agent_num,
                                            downstream_agent_shapes=downstream_agent_shapes))
        mlp_ratio = cfg['mlp_ratio']

        self.stage1_conv_embed = Stem(in_channels, base_dims)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        for i in range(4):
            dims, heads = self.embed_dims[i], self.num_heads[i]
            reso = pretrain_img_size // 4 // 2**i  # this stage's map at pretraining

            def branches(letter):
                if letter == 'A':
                    return [self.efficient_attention(i, dims, heads, reso, attn_drop_rate)]
                if i == 3 or self.split_size[i] >= reso:
                    return [LePEAttention(dims, heads, -1, self.split_size[i],
                                          attn_drop_rate)]
                if heads % 2:
                    raise ValueError(f'num_heads[{i}] ({heads}) must be even: a CSWin '
                                     f'stage splits its heads between two stripe '
                                     f'directions')
                return [LePEAttention(dims // 2, heads // 2, idx, self.split_size[i],
                                      attn_drop_rate) for idx in (0, 1)]

            if i > 0:
                self.add_module(f'merge{i}', MergeBlock(self.embed_dims[i - 1], dims))
            self.add_module(f'stage{i + 1}', nn.ModuleList([
                CSWinBlock(dims, branches(letter), mlp_ratio, qkv_bias=qkv_bias,
                           drop=drop_rate, drop_path=rate)
                for letter, rate in zip(plan[i], dpr[i])]))
        for i in self.out_indices:
            self.add_module(f'norm{i}', nn.LayerNorm(self.embed_dims[i]))
        self.stem = [self.stage1_conv_embed]
        self.stage_modules = [
            ([getattr(self, f'merge{i}')] if i else []) + [getattr(self, f'stage{i + 1}')]
            + ([getattr(self, f'norm{i}')] if i in self.out_indices else [])
            for i in range(4)]
        self._freeze()

    def efficient_attention(self, i, dims, heads, reso, attn_drop):
        """Stage i's efficient ('A') branch: agent attention over the whole map, whose
        biases are sized for the ``reso`` x ``reso`` map of pretraining."""
        return CSWinAgentAttention(dims, heads, self.agent_num[i], (reso, reso),
                                   self.downstream_agent_shapes[i], attn_drop=attn_drop)

    def forward(self, x):
        x, hw_shape = self.stage1_conv_embed(x)
        outs = []
        for i in range(4):
            if i:
                x, hw_shape = getattr(self, f'merge{i}')(x, hw_shape)
            for block in getattr(self, f'stage{i + 1}'):
                x = self.run_block(block, x, hw_shape)
            if i in self.out_indices:
                outs.append(to_map(getattr(self, f'norm{i}')(x), hw_shape))
        return tuple(outs)
