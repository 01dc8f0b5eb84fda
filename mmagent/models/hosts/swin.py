"""The Swin host (Liu et al., ICCV 2021): patch embedding, four stages of pre-norm
blocks with patch merging between them, a LayerNorm per output; each block's attention
from the config."""
import torch
import torch.nn as nn

from mmagent.models.layers.windows import pad_to_multiple
from mmagent.registry import MODELS
# yapf: disable  (isort wraps this import)
from .base import (PatchEmbed, Stage, SwinLayoutBackbone, TransformerBlock,
                   as_stage_list, attention_plan, build_attention, check_heads,
                   drop_path_rates)

# yapf: enable

__all__ = ['SwinHost', 'PatchMerging', 'check_base_dims']


def check_base_dims(base_dims, multiple=1):
    """The width of stage 1 of a doubling layout, or a clear error."""
    if not isinstance(base_dims, int) or isinstance(base_dims, bool) or base_dims <= 0 \
            or base_dims % multiple:
        what = 'a positive integer' if multiple == 1 else \
            f'a positive multiple of {multiple}'
        raise ValueError(f'embed_dims must be {what} (the width of stage 1), got '
                         f'{base_dims!r}')
    return [base_dims * 2**i for i in range(4)]


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
        x = pad_to_multiple(x.view(b, h, w, c), 2, channels_last=True)
        x = torch.cat(
            [x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]],
            dim=-1)
        hw_shape = (x.shape[1], x.shape[2])
        return self.reduction(self.norm(x.flatten(1, 2))), hw_shape


@MODELS.register_module()
class SwinHost(SwinLayoutBackbone):
    """The Swin layout with any attention: ``patch_embed`` -> ``layers[i].blocks`` ->
    ``layers[i].downsample`` (patch merging), each output through ``norm{i}``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        attn (dict | list | None): The attention of the blocks (see
            :func:`~mmagent.models.hosts.base.attention_plan`). Each is built with the
            keywords it accepts among ``embed_dims``, ``num_heads``, ``pretrain_hw``
            (the stage map at ``pretrain_img_size``), ``qkv_bias``, ``attn_drop``,
            ``proj_drop``, ``qkv_layout='qkv'``, ``window_size``, ``shift`` (True on
            every second block of a stage) and ``pad_small_map``. Defaults to None:
            Swin's own ``mmagent.SwinWindowAttention`` everywhere.
        attn_type (str, optional): With a letter map, one letter per stage ('M' +
            number mixed). Defaults to None.
        in_channels (int): Defaults to 3.
        patch_size (int): Defaults to 4.
        pretrain_img_size (int): Sizes ``pretrain_hw``. Defaults to 224.
        embed_dims (int, optional): Width of stage 1; doubles every stage.
        depths, num_heads (list, optional): Per-stage overrides (4 entries).
        mlp_ratio (float, optional): Defaults to None (preset, 4).
        window_size (int): Offered to the attentions. Defaults to 7.
        pad_small_map (bool): Offered to the attentions: window blocks on a map
            smaller than the window pad it and shift (True, downstream Swin) or shrink
            the window, no shift (False, as the published ImageNet classifiers do).
            Defaults to True.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``cpu_kernels``, ``bias_cache_mb``, ``init_cfg`` of
            :class:`~mmagent.models.hosts.base.BaseBackbone`.
    """
    arch_zoo = {
        'tiny':
        dict(embed_dims=96, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24], mlp_ratio=4.),
        'small':
        dict(embed_dims=96, depths=[2, 2, 18, 2], num_heads=[3, 6, 12, 24], mlp_ratio=4.),
        'base':
        dict(embed_dims=128, depths=[2, 2, 18, 2], num_heads=[4, 8, 16, 32],
             mlp_ratio=4.),
    }
    published_prefixes = ('patch_embed.', 'layers.', 'norm0.', 'norm1.', 'norm2.',
                          'norm3.', 'absolute_pos_embed')
    derived_buffers = ('relative_position_index', 'attn_mask')
    classifier_norm = 'norm3'
    default_attn = dict(type='mmagent.SwinWindowAttention')

    def __init__(self, arch='tiny', attn=None, attn_type=None, in_channels=3,
                 patch_size=4, pretrain_img_size=224, embed_dims=None, depths=None,
                 num_heads=None, mlp_ratio=None, window_size=7, pad_small_map=True,
                 qkv_bias=True, drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1,
                 **kwargs):
        super().__init__(**kwargs)
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratio=mlp_ratio)
        self.embed_dims = check_base_dims(cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        check_heads(self.embed_dims, self.num_heads)
        self.attn_type = attn_type
        plan = attention_plan(self.default_attn if attn is None else attn, attn_type,
                              self.depths)
        self.pretrain_grid = pretrain_img_size // patch_size
        self.patch_embed = PatchEmbed(in_channels, self.embed_dims[0], patch_size,
                                      pad=True)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.layers = nn.ModuleList()
        for i in range(4):
            grid = self.pretrain_grid // 2**i
            context = dict(embed_dims=self.embed_dims[i], num_heads=self.num_heads[i],
                           pretrain_hw=(grid, grid), qkv_bias=qkv_bias,
                           attn_drop=attn_drop_rate, proj_drop=drop_rate,
                           qkv_layout='qkv', window_size=window_size,
                           pad_small_map=pad_small_map)
            blocks = [
                TransformerBlock(self.embed_dims[i],
                                 build_attention(c, shift=j % 2 == 1, **context),
                                 cfg['mlp_ratio'], drop=drop_rate, drop_path=dpr[i][j])
                for j, c in enumerate(plan[i])
            ]
            self.layers.append(
                Stage(blocks,
                      PatchMerging(self.embed_dims[i]) if i < 3 else None))
        self.add_output_norms()
