"""The MLLA host (Han et al., NeurIPS 2024): the Swin layout with a convolutional stem
and patch merging (BatchNorm) and MLLA's block (two CPE convs, SiLU-gated input and
activation projections around the attention), the attention from the config."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from torch.utils.checkpoint import checkpoint

from mmagent.models.layers import Mlp
from mmagent.models.layers.cpu_kernels import is_capturing
from mmagent.models.layers.linear_attention import recompute_in_backward
from mmagent.models.layers.windows import map_view, pad_to_multiple, tokens
from mmagent.registry import MODELS
from .base import (Stage, SwinLayoutBackbone, as_stage_list, attention_plan,
                   build_attention, check_heads, drop_path_rates)
from .swin import check_base_dims

__all__ = ['MLLAHost', 'MLLABlock']


class MLLABlock(nn.Module):
    """The MLLA block (``attn`` any attention with ``forward(x, hw_shape)``)::

        x = x + cpe1(x)
        y = norm1(x)
        x = x + drop_path(out_proj(attn(silu(dwc(in_proj(y)))) * silu(act_proj(y))))
        x = x + cpe2(x)
        x = x + drop_path(mlp(norm2(x)))
    """

    def __init__(self, embed_dims, attn, mlp_ratio=4., drop=0., drop_path=0.):
        super().__init__()
        c = embed_dims
        self.cpe1 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.norm1 = nn.LayerNorm(c)
        self.in_proj = nn.Linear(c, c)
        self.act_proj = nn.Linear(c, c)
        self.dwc = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.act = nn.SiLU()
        self.attn = attn
        self.out_proj = nn.Linear(c, c)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.cpe2 = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.norm2 = nn.LayerNorm(c)
        self.mlp = Mlp(c, int(c * mlp_ratio), drop=drop)

    def cpe(self, conv, x, hw_shape):
        return tokens(conv(map_view(x, hw_shape)))

    def _conv_act(self, x, hw_shape):
        return self.act(self.cpe(self.dwc, x, hw_shape))

    def _gate(self, x, gate):
        return x * self.act(gate)

    def forward(self, x, hw_shape):
        x = x + self.cpe(self.cpe1, x, hw_shape)
        y = self.norm1(x)
        # the SiLUs are recomputed in backward (recompute_in_backward): each kept
        # output was one more token-sized tensor per block in training
        a = recompute_in_backward(self._conv_act, self.in_proj(y), hw_shape)
        gated = recompute_in_backward(self._gate, self.attn(a, hw_shape),
                                      self.act_proj(y))
        x = x + self.drop_path(self.out_proj(gated))
        x = x + self.cpe(self.cpe2, x, hw_shape)
        return x + self.drop_path(self.mlp(self.norm2(x)))


class ConvLayer(nn.Module):
    """Conv, optional BatchNorm (``norm``), optional ReLU (published names)."""

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, padding=0,
                 groups=1, bias=True, norm=True, act=True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                              padding=padding, groups=groups, bias=bias)
        self.norm = nn.BatchNorm2d(out_channels) if norm else None
        # in place: neither the conv nor BatchNorm keeps its output for backward, and
        # a merge's 8C-wide map (131 MiB at 800x1344) was held twice at the eval peak
        self.act = nn.ReLU(inplace=True) if act else None

    def forward(self, x, update_stats=True):
        """``update_stats=False`` (a recompute in backward): a training BatchNorm
        normalises with the batch statistics as usual but leaves its running
        statistics and batch count as they are (they were updated by the first run)."""
        x = self.conv(x)
        norm = self.norm
        if norm is not None:
            if update_stats or not norm.training:
                x = norm(x)
            else:
                # momentum 0: the running buffers are passed (the recompute must save
                # what the first run saved) and come out unchanged
                x = F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight,
                                 norm.bias, True, 0., norm.eps)
        return self.act(x) if self.act is not None else x


def run_conv_layers(layers, x, update_stats=True):
    for layer in layers:
        x = layer(x, update_stats)
    return x


def recompute_conv_layers(fn, module, x):
    """``fn(x, update_stats)`` for a chain of :class:`ConvLayer` in ``module``; when it
    needs gradients its maps are recomputed in backward instead of kept, and only ``x``
    is kept (non-reentrant ``torch.utils.checkpoint``). The recompute passes
    ``update_stats=False``, so the BatchNorms' running statistics are updated once.

    The stem and the patch merging keep their convolution and BatchNorm maps, many
    channels wide at high resolution: at 512x512, batch 2, MLLA-T's stem kept 182 MiB
    and its merges 148 MiB, which took its training above Swin-T's memory. They are
    recomputed for about 13 GFLOPs (5% of a training step). Only plain
    ``nn.BatchNorm2d`` qualifies (a synchronised BatchNorm would gather statistics
    again); under graph capture the compiler chooses what to recompute.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._NormBase)]
    if (not torch.is_grad_enabled() or is_capturing()
            or any(type(m) is not nn.BatchNorm2d for m in norms)  # noqa: E721
            or not (x.requires_grad or any(p.requires_grad
                                           for p in module.parameters()))):
        return fn(x, True)
    first = [True]

    def run(t):
        update, first[0] = first[0], False
        return fn(t, update)

    return checkpoint(run, x, use_reentrant=False)


class Stem(nn.Module):
    """Stride-4 convolutional stem: zero-pad right/bottom to a multiple of 4; 3x3 s2
    conv; a residual pair of 3x3 convs; 3x3 s2 conv to 4C and a 1x1 conv to C."""

    def __init__(self, in_channels, embed_dims):
        super().__init__()
        half = embed_dims // 2
        self.conv1 = ConvLayer(in_channels, half, 3, stride=2, padding=1, bias=False)
        self.conv2 = nn.Sequential(
            ConvLayer(half, half, 3, padding=1, bias=False),
            ConvLayer(half, half, 3, padding=1, bias=False, act=False))
        self.conv3 = nn.Sequential(
            ConvLayer(half, embed_dims * 4, 3, stride=2, padding=1, bias=False),
            ConvLayer(embed_dims * 4, embed_dims, 1, bias=False, act=False))

    def _forward(self, x, update_stats=True):
        x = self.conv1(x, update_stats)
        x = run_conv_layers(self.conv2, x, update_stats) + x
        return run_conv_layers(self.conv3, x, update_stats)

    def forward(self, x):
        # channels-last here and in the merges: oneDNN took 1.2 ms instead of 19.8 ms
        # for a 3x3 depthwise conv at 96x200x336 (CPU); the values are the same
        x = recompute_conv_layers(
            self._forward, self,
            pad_to_multiple(x, 4).contiguous(memory_format=torch.channels_last))
        return tokens(x), (x.shape[2], x.shape[3])


class PatchMerging(nn.Module):
    """Zero-pad to even size; 1x1 conv to 8C, 3x3 stride-2 depthwise conv, 1x1 conv
    with BatchNorm to 2C."""

    def __init__(self, embed_dims, ratio=4):
        super().__init__()
        out, mid = 2 * embed_dims, 2 * embed_dims * ratio
        self.conv = nn.Sequential(
            ConvLayer(embed_dims, mid, 1, norm=False),
            ConvLayer(mid, mid, 3, stride=2, padding=1, groups=mid, norm=False),
            ConvLayer(mid, out, 1, act=False))

    def forward(self, x, hw_shape):
        x = pad_to_multiple(x.unflatten(1, hw_shape), 2, channels_last=True)
        x = recompute_conv_layers(
            lambda t, update: run_conv_layers(self.conv, t, update), self,
            x.permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last))
        return tokens(x), (x.shape[2], x.shape[3])


@MODELS.register_module()
class MLLAHost(SwinLayoutBackbone):
    """The MLLA layout with any attention: ``patch_embed`` (conv stem) ->
    ``layers[i].blocks`` (:class:`MLLABlock`) -> ``layers[i].downsample``, each output
    through ``norm{i}``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        attn (dict | list | None): The attention of the blocks (see
            :func:`~mmagent.models.hosts.base.attention_plan`). Each is built with the
            keywords it accepts among ``embed_dims``, ``num_heads``, ``pretrain_hw``
            (the stage map at ``pretrain_img_size``), ``qkv_bias``, ``attn_drop``,
            ``proj_drop``. Defaults to None: ``mmagent.MLLALinearAttention``.
        attn_type (str, optional): With a letter map, one letter per stage.
        in_channels (int): Defaults to 3.
        pretrain_img_size (int): Sizes ``pretrain_hw``. Defaults to 224.
        embed_dims (int, optional): Width of stage 1; doubles every stage. Must be
            divisible by 8 (the stem halves it; RoPE needs multiples of 4).
        depths, num_heads (list, optional): Per-stage overrides (4 entries).
        mlp_ratio (float, optional): Defaults to the preset's 4.
        qkv_bias (bool): Defaults to True.
        drop_rate (float): Dropout in the MLPs. Defaults to 0.
        attn_drop_rate (float): Offered to the attentions. Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        **kwargs: ``out_indices``, ``frozen_stages``, ``norm_eval`` (the BatchNorms of
            the stem and the patch merging), ``with_cp``, ``cpu_kernels``,
            ``bias_cache_mb``, ``init_cfg`` of
            :class:`~mmagent.models.hosts.base.BaseBackbone`.
    """
    arch_zoo = {
        'tiny':
        dict(embed_dims=64, depths=[2, 4, 8, 4], num_heads=[2, 4, 8, 16], mlp_ratio=4.),
        'small':
        dict(embed_dims=64, depths=[3, 6, 21, 6], num_heads=[2, 4, 8, 16], mlp_ratio=4.),
        'base':
        dict(embed_dims=96, depths=[3, 6, 21, 6], num_heads=[3, 6, 12, 24], mlp_ratio=4.),
    }
    published_prefixes = ('patch_embed.', 'layers.', 'norm0.', 'norm1.', 'norm2.',
                          'norm3.')
    #: the authors' RoPE module saved its table for the 224 px maps
    derived_buffers = ('rope.rotations', )
    classifier_norm = 'norm3'
    default_attn = dict(type='mmagent.MLLALinearAttention')

    def __init__(self, arch='tiny', attn=None, attn_type=None, in_channels=3,
                 pretrain_img_size=224, embed_dims=None, depths=None, num_heads=None,
                 mlp_ratio=None, qkv_bias=True, drop_rate=0., attn_drop_rate=0.,
                 drop_path_rate=0.1, **kwargs):
        super().__init__(**kwargs)
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratio=mlp_ratio)
        self.embed_dims = check_base_dims(cfg['embed_dims'], multiple=8)
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        check_heads(self.embed_dims, self.num_heads)
        mlp_ratio = cfg['mlp_ratio']
        if not isinstance(mlp_ratio, (int, float)) or mlp_ratio <= 0:
            raise ValueError(f'mlp_ratio must be a positive number, got {mlp_ratio!r}')
        plan = attention_plan(self.default_attn if attn is None else attn, attn_type,
                              self.depths)
        self.patch_embed = Stem(in_channels, self.embed_dims[0])
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.layers = nn.ModuleList()
        for i in range(4):
            grid = pretrain_img_size // 4 // 2**i
            context = dict(embed_dims=self.embed_dims[i], num_heads=self.num_heads[i],
                           pretrain_hw=(grid, grid), qkv_bias=qkv_bias,
                           attn_drop=attn_drop_rate, proj_drop=drop_rate)
            blocks = [
                MLLABlock(self.embed_dims[i], build_attention(c, **context), mlp_ratio,
                          drop=drop_rate, drop_path=rate)
                for c, rate in zip(plan[i], dpr[i])
            ]
            self.layers.append(
                Stage(blocks,
                      PatchMerging(self.embed_dims[i]) if i < 3 else None))
        self.add_output_norms()
