"""The PVTv2 host (Wang et al., CVMJ 2022): overlapping patch embeddings, pre-norm
blocks whose MLP has a depthwise conv, a LayerNorm per stage; each block's attention
from the config."""
import torch.nn as nn

from mmagent.registry import MODELS
from .base import (BaseBackbone, TransformerBlock, as_stage_list, attention_plan,
                   build_attention, check_heads, drop_path_rates, to_map)

__all__ = ['PVTv2Host']


class OverlapPatchEmbed(nn.Module):
    """PVTv2's overlapping patch embedding: a k x k conv with stride s and padding k//2,
    then LayerNorm (published ``proj``, ``norm``)."""

    def __init__(self, in_channels, embed_dims, kernel_size, stride):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size, stride=stride,
                              padding=kernel_size // 2)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x):
        x = self.proj(x)
        hw_shape = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw_shape


class DWConvMlp(nn.Module):
    """PVTv2's MLP: fc1 -> 3x3 depthwise conv on the map -> GELU -> fc2."""

    def __init__(self, embed_dims, hidden_dims, drop=0.):
        super().__init__()
        self.fc1 = nn.Linear(embed_dims, hidden_dims)
        self.dwconv = nn.Module()
        self.dwconv.dwconv = nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1,
                                       groups=hidden_dims)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dims, embed_dims)
        self.drop = nn.Dropout(drop)

    def forward(self, x, hw_shape):
        x = self.fc1(x)
        x = self.dwconv.dwconv(x.transpose(1, 2).unflatten(2, hw_shape))
        x = self.drop(self.act(x.flatten(2).transpose(1, 2)))
        return self.drop(self.fc2(x))


@MODELS.register_module()
class PVTv2Host(BaseBackbone):
    """The PVTv2 layout with any attention: ``patch_embed{i}`` -> ``block{i}`` ->
    ``norm{i}`` for i = 1..4 (the published names).

    Args:
        arch (str | dict): ``'b0'`` .. ``'b5'`` or a dict with the keys of a preset.
            Defaults to ``'b0'``.
        attn (dict | list | None): The attention of the blocks (see
            :func:`~mmagent.models.hosts.base.attention_plan`). Each is built with the
            keywords it accepts among ``embed_dims``, ``num_heads``, ``pretrain_hw``
            (the stage map at ``pretrain_img_size``), ``qkv_bias``, ``attn_drop``,
            ``proj_drop``, ``qkv_layout='q_kv'`` and ``sr_ratio`` (the stage's).
            Defaults to None: ``mmagent.PVTSRAttention`` everywhere.
        attn_type (str, optional): With a letter map, one letter per stage.
        in_channels (int): Defaults to 3.
        pretrain_img_size (int): Sizes ``pretrain_hw``. Defaults to 224.
        embed_dims, depths, num_heads, mlp_ratios, sr_ratios (list, optional):
            Per-stage overrides of the preset.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        **kwargs: ``out_indices`` (each output after its ``norm{i+1}``),
            ``frozen_stages``, ``norm_eval``, ``with_cp``, ``cpu_kernels``,
            ``bias_cache_mb``, ``init_cfg`` of
            :class:`~mmagent.models.hosts.base.BaseBackbone`.
    """
    arch_zoo = {
        name:
        dict(embed_dims=dims, depths=depths, num_heads=[1, 2, 5, 8], mlp_ratios=mlp,
             sr_ratios=[8, 4, 2, 1])
        for name, dims, depths, mlp in (('b0', [32, 64, 160, 256], [2, 2, 2, 2],
                                         [8, 8, 4, 4]), ('b1', [64, 128, 320, 512],
                                                         [2, 2, 2, 2], [8, 8, 4, 4]),
                                        ('b2', [64, 128, 320, 512], [3, 4, 6, 3],
                                         [8, 8, 4, 4]), ('b3', [64, 128, 320, 512],
                                                         [3, 4, 18, 3], [8, 8, 4, 4]),
                                        ('b4', [64, 128, 320, 512], [3, 8, 27, 3],
                                         [8, 8, 4, 4]), ('b5', [64, 128, 320, 512],
                                                         [3, 6, 40, 3], [4, 4, 4, 4]))
    }
    published_prefixes = ('patch_embed', 'block', 'norm1.', 'norm2.', 'norm3.', 'norm4.')
    default_attn = dict(type='mmagent.PVTSRAttention')

    def __init__(self, arch='b0', attn=None, attn_type=None, in_channels=3,
                 pretrain_img_size=224, embed_dims=None, depths=None, num_heads=None,
                 mlp_ratios=None, sr_ratios=None, qkv_bias=True, drop_rate=0.,
                 attn_drop_rate=0., drop_path_rate=0.1, **kwargs):
        super().__init__(**kwargs)
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratios=mlp_ratios,
                                sr_ratios=sr_ratios)
        self.embed_dims = as_stage_list('embed_dims', cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        mlp_ratios = as_stage_list('mlp_ratios', cfg['mlp_ratios'], kind=float)
        sr_ratios = as_stage_list('sr_ratios', cfg['sr_ratios'])
        check_heads(self.embed_dims, self.num_heads)
        plan = attention_plan(self.default_attn if attn is None else attn, attn_type,
                              self.depths)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.stage_modules = []
        for i in range(4):
            dims, grid = self.embed_dims[i], pretrain_img_size // 4 // 2**i
            context = dict(embed_dims=dims, num_heads=self.num_heads[i],
                           pretrain_hw=(grid, grid), qkv_bias=qkv_bias,
                           attn_drop=attn_drop_rate, proj_drop=drop_rate,
                           qkv_layout='q_kv', sr_ratio=sr_ratios[i])
            patch_embed = OverlapPatchEmbed(
                in_channels if i == 0 else self.embed_dims[i - 1], dims,
                7 if i == 0 else 3, 4 if i == 0 else 2)
            hidden = int(dims * mlp_ratios[i])
            blocks = nn.ModuleList([
                TransformerBlock(dims, build_attention(c, **context), drop_path=rate,
                                 norm_eps=1e-6, mlp=DWConvMlp(dims, hidden, drop_rate))
                for c, rate in zip(plan[i], dpr[i])
            ])
            norm = nn.LayerNorm(dims, eps=1e-6)
            setattr(self, f'patch_embed{i + 1}', patch_embed)
            setattr(self, f'block{i + 1}', blocks)
            setattr(self, f'norm{i + 1}', norm)
            self.stage_modules.append([patch_embed, blocks, norm])
        self.stem = [self.patch_embed1]
        self.finish_build()

    def forward(self, x):
        outs = []
        for i in range(4):
            x, hw_shape = getattr(self, f'patch_embed{i + 1}')(x)
            for block in getattr(self, f'block{i + 1}'):
                x = self.run_block(block, x, hw_shape)
            x = to_map(getattr(self, f'norm{i + 1}')(x), hw_shape)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
