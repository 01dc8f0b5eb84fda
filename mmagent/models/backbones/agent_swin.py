"""Agent-Swin: the Swin Transformer with agent attention over whole stage maps.

Read top to bottom: shifted-window attention (the ordinary 'B' attention, with the same
``forward(x, hw_shape)`` as agent attention), patch merging, presets, backbone,
published-weight filter. Block, patch embedding and the rest are the shared core's
(:mod:`.base`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_

from mmagent.models.layers import AgentAttention
from mmagent.registry import MODELS
from .base import (AgentStages, PatchEmbed, Stage, SwinLayoutBackbone, TransformerBlock,
                   as_stage_list, check_heads, drop_path_rates,
                   parse_attn_type)


def window_partition(x, ws):
    """(B, H, W, C) -> (B * nW, ws*ws, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // ws, ws, w // ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows, ws, h, w):
    """(B * nW, ws*ws, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(-1, h // ws, w // ws, ws, ws, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, h, w, c)


def shift_mask(h_pad, w_pad, ws, shift, device):
    """The usual -100 mask for shifted windows on the padded map, (nW, ws*ws, ws*ws)."""
    img = torch.zeros((1, h_pad, w_pad, 1), device=device)
    cnt = 0
    for hs in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
        for wsl in (slice(0, -ws), slice(-ws, -shift), slice(-shift, None)):
            img[:, hs, wsl, :] = cnt
            cnt += 1
    win = window_partition(img, ws).squeeze(-1)
    mask = win.unsqueeze(1) - win.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class ShiftWindowMSA(nn.Module):
    """Multi-head self-attention in (shifted) square windows with relative position
    bias, over a whole token map: ``forward(x, hw_shape)`` on (B, N, C) tokens, like
    agent attention. Partition, cyclic shift, padding and the shift mask live here.

    Args:
        embed_dims (int), num_heads (int), window_size (int): Defaults window 7.
        shift (bool): Shift the windows by ``window_size // 2``.
        pad_small_map (bool): A map smaller than one window: ``True`` (downstream Swin)
            pads it to the window and keeps the shift; ``False`` (the ImageNet
            classifiers) shrinks the window to the map and does not shift.
            Defaults to True.
        qkv_bias (bool), attn_drop (float), proj_drop (float).

    Parameter names are the published ones (``qkv``, ``proj``,
    ``relative_position_bias_table``).
    """

    def __init__(self, embed_dims, num_heads, window_size=7, shift=False,
                 pad_small_map=True, qkv_bias=True, attn_drop=0., proj_drop=0.):
        super().__init__()
        self.num_heads = num_heads
        self.window_size = window_size
        self.shift_size = window_size // 2 if shift else 0
        self.pad_small_map = pad_small_map
        self.scale = (embed_dims // num_heads) ** -0.5
        ws = window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * ws - 1) * (2 * ws - 1), num_heads))
        # Derived from the window size: not stored in mmagent's checkpoints.
        self.register_buffer('relative_position_index', self.relative_index(ws),
                             persistent=False)
        self.qkv = nn.Linear(embed_dims, embed_dims * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(embed_dims, embed_dims)
        self.proj_drop = nn.Dropout(proj_drop)
        trunc_normal_(self.relative_position_bias_table, std=.02)

    @staticmethod
    def relative_index(ws):
        """(ws*ws, ws*ws) rows of the bias table for each query/key pair of a window."""
        coords = torch.stack(torch.meshgrid(torch.arange(ws), torch.arange(ws),
                                            indexing='ij')).flatten(1)  # 2, ws*ws
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (ws - 1)
        return rel[..., 0] * (2 * ws - 1) + rel[..., 1]

    def position_bias(self, ws):
        """(h, ws*ws, ws*ws) relative position bias of a ``ws`` window (``ws`` may be
        smaller than the table's window when a small map shrinks it)."""
        index = self.relative_position_index
        if ws != self.window_size:  # rows of the full table for the smaller window
            full = 2 * self.window_size - 1
            small = self.relative_index(ws).to(index.device)
            dr, dc = small // (2 * ws - 1) - (ws - 1), small % (2 * ws - 1) - (ws - 1)
            index = (dr + self.window_size - 1) * full + (dc + self.window_size - 1)
        n = ws * ws
        return self.relative_position_bias_table[index.reshape(-1)].view(
            n, n, -1).permute(2, 0, 1)

    def attend(self, windows, ws, mask=None):
        """Softmax attention inside each window; windows (B * nW, ws*ws, C), mask
        (nW, ws*ws, ws*ws) of 0 / -100 or None."""
        bw, n, c = windows.shape
        heads = self.num_heads
        q, k, v = self.qkv(windows).unflatten(-1, (3, heads, c // heads)).permute(
            2, 0, 3, 1, 4)
        bias = self.position_bias(ws)  # (h, n, n)
        if mask is not None:
            nw = mask.shape[0]
            bias = (bias.unsqueeze(0) + mask.unsqueeze(1))  # (nW, h, n, n)
            bias = bias.unsqueeze(0).expand(bw // nw, -1, -1, -1, -1).reshape(
                bw, heads, n, n)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias.to(q.dtype),
            dropout_p=self.attn_drop if self.training else 0., scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(bw, n, c)))

    def forward(self, x, hw_shape):
        b, _, c = x.shape
        h, w = hw_shape
        ws, shift = self.window_size, self.shift_size
        if not self.pad_small_map and min(h, w) <= ws:
            ws, shift = min(h, w), 0
        x = x.view(b, h, w, c)
        pad_r, pad_b = (ws - w % ws) % ws, (ws - h % ws) % ws
        if pad_r or pad_b:
            x = F.pad(x, (0, 0, 0, pad_r, 0, pad_b))
        hp, wp = h + pad_b, w + pad_r
        mask = None
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = shift_mask(hp, wp, ws, shift, x.device)
        x = window_reverse(self.attend(window_partition(x, ws), ws, mask), ws, hp, wp)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        if pad_r or pad_b:
            x = x[:, :h, :w, :]
        return x.reshape(b, h * w, c)


class PatchMerging(nn.Module):
    """Zero-pad to even size; concat (0,0), (1,0), (0,1), (1,1) neighbours (row, col);
    LayerNorm(4C); Linear(4C -> 2C, no bias). (mmcv's unfold-based PatchMerging orders
    the channels differently, so the published weights would need permuting.)"""

    def __init__(self, embed_dims):
        super().__init__()
        self.norm = nn.LayerNorm(4 * embed_dims)
        self.reduction = nn.Linear(4 * embed_dims, 2 * embed_dims, bias=False)

    def forward(self, x, hw_shape):
        b, _, c = x.shape
        h, w = hw_shape
        x = x.view(b, h, w, c)
        if h % 2 or w % 2:
            x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2],
                       x[:, 1::2, 1::2]], dim=-1)
        hw_shape = (x.shape[1], x.shape[2])
        return self.reduction(self.norm(x.flatten(1, 2))), hw_shape


@MODELS.register_module()
class AgentSwinTransformer(AgentStages, SwinLayoutBackbone):
    """Agent-Swin backbone (Han et al., ECCV 2024) for OpenMMLab 2.0.

    Args:
        arch (str | dict): Preset name (``'tiny'``, ``'small'``, ``'base'``) or a dict
            with the keys of a preset. Defaults to ``'tiny'``.
        in_channels (int): Input channels. Defaults to 3.
        patch_size (int): Defaults to 4.
        pretrain_img_size (int): Pretraining resolution; sizes the agent biases.
            Defaults to 224.
        embed_dims (int, optional): Width of stage 1; doubles every stage.
        depths, num_heads, agent_num (list, optional): Per-stage overrides (4 entries).
        mlp_ratio (float, optional): Defaults to None (preset, 4).
        attn_type (str, optional): One letter per stage: 'A' agent attention over the
            stage map, 'B' shifted windows, 'M' mixed with the number of leading agent
            blocks after the letters (``'AAMB2'``).
        downstream_agent_shapes (list, optional): The agent grid of each stage.
        window_size (int): Window of 'B' blocks. Defaults to 7.
        pad_small_map (bool): Window blocks on a map smaller than the window: pad it
            and shift (True, downstream Swin) or shrink the window, no shift (False,
            as the published ImageNet classifiers do). Defaults to True.
        out_indices (Sequence[int]): Stages to output, each through a LayerNorm
            ``norm{i}``. Defaults to (0, 1, 2, 3).
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        frozen_stages (int): -1 none, 0 the patch embedding, k the first k stages.
        norm_eval (bool): BatchNorms in eval mode while training (Agent-Swin has none;
            accepted for uniformity). Defaults to False.
        with_cp (bool): Gradient checkpointing per block. Defaults to False.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained', checkpoint=...)``.
    """
    arch_zoo = {
        'tiny': dict(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24],
                     mlp_ratio=4., attn_type='AAAB', agent_num=[9, 16, 49, 49],
                     downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)]),
        'small': dict(embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24],
                      mlp_ratio=4., attn_type='AABB', agent_num=[9, 16, 49, 49],
                      downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)]),
        'base': dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
                     mlp_ratio=4., attn_type='AAMB2', agent_num=[9, 16, 49, 49],
                     downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)]),
    }
    published_prefixes = ('patch_embed.', 'layers.', 'norm0.', 'norm1.', 'norm2.',
                          'norm3.', 'absolute_pos_embed')

    def __init__(self,
                 arch='tiny',
                 in_channels=3,
                 patch_size=4,
                 pretrain_img_size=224,
                 embed_dims=None,
                 depths=None,
                 num_heads=None,
                 mlp_ratio=None,
                 attn_type=None,
                 agent_num=None,
                 downstream_agent_shapes=None,
                 window_size=7,
                 pad_small_map=True,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 **kwargs):
        super().__init__(**kwargs)  # out_indices, frozen_stages, norm_eval, with_cp, init_cfg
        cfg = self.resolve_arch(
            arch, embed_dims=embed_dims, depths=depths, num_heads=num_heads,
            mlp_ratio=mlp_ratio, attn_type=attn_type, agent_num=agent_num,
            downstream_agent_shapes=downstream_agent_shapes)
        base_dims = cfg['embed_dims']
        if not isinstance(base_dims, int) or base_dims <= 0:
            raise ValueError(f'embed_dims must be a positive integer (the width of stage '
                             f'1), got {base_dims!r}')
        self.embed_dims = [base_dims * 2**i for i in range(4)]
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        check_heads(self.embed_dims, self.num_heads)
        self.attn_type = cfg['attn_type']
        plan = parse_attn_type(self.attn_type, self.depths, self.attn_letters)
        self.pretrain_grid = pretrain_img_size // patch_size
        self.setup_efficient_attention(cfg)
        common = dict(qkv_bias=qkv_bias, attn_drop=attn_drop_rate, proj_drop=drop_rate)

        def attention(i, j, letter):
            if letter == 'A':
                return self.efficient_attention(i, **common)
            return ShiftWindowMSA(self.embed_dims[i], self.num_heads[i], window_size,
                                  shift=j % 2 == 1, pad_small_map=pad_small_map, **common)

        self.patch_embed = PatchEmbed(in_channels, base_dims, patch_size, pad=True)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.layers = nn.ModuleList()
        for i in range(4):
            blocks = [
                TransformerBlock(self.embed_dims[i], attention(i, j, letter),
                                 cfg['mlp_ratio'], drop=drop_rate, drop_path=dpr[i][j])
                for j, letter in enumerate(plan[i])]
            self.layers.append(Stage(
                blocks, PatchMerging(self.embed_dims[i]) if i < 3 else None))
        self.add_output_norms()

    def efficient_attention(self, i, qkv_bias, attn_drop, proj_drop):
        """Stage i's efficient ('A') attention: agent attention over the stage map."""
        g = self.pretrain_grid // 2**i
        return AgentAttention(
            self.embed_dims[i], self.num_heads[i], agent_num=self.agent_num[i],
            pretrain_hw=(g, g), downstream_agent_shape=self.downstream_agent_shapes[i],
            qkv_layout='qkv', qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
