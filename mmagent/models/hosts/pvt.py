"""The PVT v1 host (Wang et al., ICCV 2021): four stages of patch embedding, learned
position embedding and pre-norm blocks, each stage's attention from the config."""
import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_

from mmagent.models.layers.windows import resize_pos_embed
from mmagent.registry import MODELS
from .base import (BaseBackbone, PatchEmbed, TransformerBlock, as_stage_list,
                   attention_plan, build_attention, check_heads, drop_path_rates, to_map)

__all__ = ['PVTHost']


@MODELS.register_module()
class PVTHost(BaseBackbone):
    """The PVT v1 layout with any attention: ``patch_embed{i}`` -> ``+ pos_embed{i}``
    -> ``block{i}`` for i = 1..4 (the published names), each map output after its
    stage.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``, ``'large'`` or a dict
            with the keys of a preset. Defaults to ``'tiny'``.
        attn (dict | list | None): The attention of the blocks (see
            :func:`~mmagent.models.hosts.base.attention_plan`): a config, one per
            stage, or a letter map chosen by ``attn_type``. Each is built with the
            keywords it accepts among ``embed_dims``, ``num_heads``, ``pretrain_hw``
            (the stage map at ``pretrain_img_size``), ``qkv_bias``, ``attn_drop``,
            ``proj_drop``, ``qkv_layout='q_kv'`` and ``sr_ratio`` (the stage's).
            Defaults to None: PVT's own ``mmagent.PVTSRAttention`` everywhere.
        attn_type (str, optional): With a letter map, one letter per stage ('M' +
            number mixed). Defaults to None.
        in_channels (int): Defaults to 3.
        patch_size (int): Patch size of the first stage. Defaults to 4.
        pretrain_img_size (int): Sizes the position embeddings (and ``pretrain_hw``).
            Defaults to 224.
        embed_dims, depths, num_heads, mlp_ratios, sr_ratios (list, optional):
            Per-stage overrides of the preset (4 entries each). Defaults to None.
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout after position embedding, in MLPs and projections.
            Defaults to 0.
        attn_drop_rate (float): Dropout on attention weights. Defaults to 0.
        drop_path_rate (float): Stochastic depth, growing linearly over all blocks.
            Defaults to 0.1.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval``, ``with_cp``,
            ``cpu_kernels``, ``bias_cache_mb``, ``init_cfg`` of
            :class:`~mmagent.models.hosts.base.BaseBackbone`.
    """
    arch_zoo = {
        name:
        dict(embed_dims=[64, 128, 320, 512], depths=depths, num_heads=[1, 2, 5, 8],
             mlp_ratios=[8, 8, 4, 4], sr_ratios=[8, 4, 2, 1])
        for name, depths in (('tiny', [2, 2, 2, 2]), ('small', [3, 4, 6, 3]),
                             ('medium', [3, 4, 18, 3]), ('large', [3, 8, 27, 3]))
    }
    published_prefixes = ('patch_embed', 'pos_embed', 'block')
    #: PVT v1 classifiers build a final norm but mean-pool without it
    classifier_norm = None
    default_attn = dict(type='mmagent.PVTSRAttention')

    def __init__(self, arch='tiny', attn=None, attn_type=None, in_channels=3,
                 patch_size=4, pretrain_img_size=224, embed_dims=None, depths=None,
                 num_heads=None, mlp_ratios=None, sr_ratios=None, qkv_bias=True,
                 drop_rate=0., attn_drop_rate=0., drop_path_rate=0.1, **kwargs):
        super().__init__(**kwargs)
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratios=mlp_ratios,
                                sr_ratios=sr_ratios)
        self.embed_dims = as_stage_list('embed_dims', cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        self.mlp_ratios = as_stage_list('mlp_ratios', cfg['mlp_ratios'], kind=float)
        self.sr_ratios = as_stage_list('sr_ratios', cfg['sr_ratios'])
        check_heads(self.embed_dims, self.num_heads)
        self.attn_type = attn_type
        plan = attention_plan(self.default_attn if attn is None else attn, attn_type,
                              self.depths)
        self.patch_size = patch_size
        self.pos_grids = [(pretrain_img_size // patch_size) // 2**i for i in range(4)]
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.stage_modules = []
        for i in range(4):
            dims, grid = self.embed_dims[i], self.pos_grids[i]
            context = dict(embed_dims=dims, num_heads=self.num_heads[i],
                           pretrain_hw=(grid, grid), qkv_bias=qkv_bias,
                           attn_drop=attn_drop_rate, proj_drop=drop_rate,
                           qkv_layout='q_kv', sr_ratio=self.sr_ratios[i])
            patch_embed = PatchEmbed(in_channels if i == 0 else self.embed_dims[i - 1],
                                     dims, patch_size if i == 0 else 2)
            pos_embed = nn.Parameter(torch.zeros(1, grid**2, dims))
            blocks = nn.ModuleList([
                TransformerBlock(dims, build_attention(c, **context), self.mlp_ratios[i],
                                 drop=drop_rate, drop_path=rate, norm_eps=1e-6)
                for c, rate in zip(plan[i], dpr[i])
            ])
            setattr(self, f'patch_embed{i + 1}', patch_embed)
            setattr(self, f'pos_embed{i + 1}', pos_embed)
            setattr(self, f'block{i + 1}', blocks)
            self.stage_modules.append([patch_embed, pos_embed, blocks])
        self.stem = self.stage_modules[0][:2]
        self.pos_drop = nn.Dropout(drop_rate)
        self.finish_build()

    def _init_default(self):
        super()._init_default()
        for i in range(4):
            trunc_normal_(getattr(self, f'pos_embed{i + 1}'), std=.02)

    def pos_embed_for(self, i, hw_shape):
        """Stage i's position embedding resized (bilinear) to the map, (1, N, C)."""
        grid = self.pos_grids[i]
        return resize_pos_embed(
            getattr(self, f'pos_embed{i + 1}'), (grid, grid), hw_shape)

    def forward(self, x):
        min_size = self.patch_size * 8  # the patch conv, then three stride-2 convs
        if x.shape[-2] < min_size or x.shape[-1] < min_size:
            raise ValueError(f'{type(self).__name__} needs inputs of at least '
                             f'{min_size}x{min_size} pixels, got '
                             f'{x.shape[-2]}x{x.shape[-1]}')
        outs = []
        for i in range(4):
            x, hw_shape = getattr(self, f'patch_embed{i + 1}')(x)
            x = self.pos_drop(x + self.pos_embed_for(i, hw_shape))
            for block in getattr(self, f'block{i + 1}'):
                x = self.run_block(block, x, hw_shape)
            x = to_map(x, hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
