"""FLatten Transformer (Han et al., ICCV 2023) for OpenMMLab 2.0: FLatten-PVT, -PVTv2,
-Swin and -CSwin.

Each is its host backbone with focused linear attention
(:class:`~mmagent.models.layers.FocusedLinearAttention`) in the ``'L'`` stages and the
host's own attention in the ``'S'`` stages: PVT's spatial-reduction attention, Swin's
shifted windows, CSwin's stripes. FLatten-PVT, -Swin and -CSwin are the Agent-PVT,
-Swin and -CSwin backbones with the efficient attention swapped; FLatten-PVTv2 adds the
PVTv2 layout (overlapping patch embeddings, an MLP with a depthwise conv, a LayerNorm
per stage). Module names follow the published checkpoints.

At other input sizes than pretraining, the positional encodings of the linear attention
(one per layer, sized for the pretraining map) are resized bilinearly to the actual map;
'L' stages attend over the whole map (as every published model does at 224 px, where
their window is the map), and the 'S' stages' windows and stripes pad as their hosts do.
"""
import torch.nn as nn

from mmagent.models.layers.focused_linear_attention import (FocusedLinearAttention,
                                                            FocusedLinearCore)
from mmagent.registry import MODELS
from .agent_cswin import AgentCSWin, lepe
from .agent_pvt import AgentPVT, SRAttention
from .agent_swin import AgentSwinTransformer
from .base import (BaseBackbone, TransformerBlock, as_stage_list, check_heads,
                   drop_path_rates, parse_attn_type, to_map)

__all__ = ['FLattenPVT', 'FLattenPVTv2', 'FLattenSwinTransformer', 'FLattenCSWin']

AGENT_ONLY = ('agent_num', 'downstream_agent_shapes')


class FocusedLinearMixin:
    """What the FLatten families share: 'L'/'S' letters, the focusing factor and kernel
    size, and a clear error for the agent-attention settings they do not have."""
    attn_letters = ('L', 'S')

    def _focus_settings(self, focusing_factor, kernel_size, kwargs):
        """Keep the focusing factor and kernel size (checked by the layers) and refuse
        the agent settings a FLatten host inherits but does not have."""
        for key in AGENT_ONLY:
            if key in kwargs:
                raise TypeError(f'{type(self).__name__} has no {key!r} (an agent-attention '
                                f'setting); FLatten stages take focusing_factor and '
                                f'kernel_size')
        self.focusing_factor = focusing_factor
        self.kernel_size = kernel_size

    def setup_efficient_attention(self, cfg):
        """FLatten's 'L' layers take their settings from the constructor arguments."""


def _presets(zoo, attn_type):
    """A host's presets without its agent settings, with FLatten's attention types."""
    return {name: dict({k: v for k, v in p.items() if k not in AGENT_ONLY},
                       attn_type=attn_type) for name, p in zoo.items()}


@MODELS.register_module()
class FLattenPVT(FocusedLinearMixin, AgentPVT):
    """FLatten-PVT (PVT v1 with focused linear attention, ``'LLLL'``).

    Args: those of :class:`AgentPVT` except the agent settings, plus
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
        la_sr_ratios (Sequence[int]): Spatial reduction of keys/values in 'L' stages;
            the published models use 1. Defaults to (1, 1, 1, 1).
    """
    arch_zoo = _presets(AgentPVT.arch_zoo, 'LLLL')

    def __init__(self, arch='tiny', focusing_factor=3, kernel_size=5,
                 la_sr_ratios=(1, 1, 1, 1), **kwargs):
        self._focus_settings(focusing_factor, kernel_size, kwargs)
        self.la_sr_ratios = as_stage_list('la_sr_ratios', la_sr_ratios)
        super().__init__(arch=arch, **kwargs)


    def efficient_attention(self, i, qkv_bias, attn_drop, proj_drop):
        g = self.pos_grids[i]
        return FocusedLinearAttention(
            self.embed_dims[i], self.num_heads[i], (g, g), qkv_layout='q_kv',
            qkv_bias=qkv_bias, sr_ratio=self.la_sr_ratios[i],
            focusing_factor=self.focusing_factor, kernel_size=self.kernel_size,
            proj_drop=proj_drop)


@MODELS.register_module()
class FLattenSwinTransformer(FocusedLinearMixin, AgentSwinTransformer):
    """FLatten-Swin (``'LLSS'``: focused linear attention over the stage map in stages
    1-2, shifted windows in 3-4).

    Args: those of :class:`AgentSwinTransformer` except the agent settings, plus
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
    """
    arch_zoo = _presets(AgentSwinTransformer.arch_zoo, 'LLSS')

    def __init__(self, arch='tiny', focusing_factor=3, kernel_size=5, **kwargs):
        self._focus_settings(focusing_factor, kernel_size, kwargs)
        super().__init__(arch=arch, **kwargs)


    def efficient_attention(self, i, qkv_bias, attn_drop, proj_drop):
        g = self.pretrain_grid // 2**i
        return FocusedLinearAttention(
            self.embed_dims[i], self.num_heads[i], (g, g), qkv_layout='qkv',
            qkv_bias=qkv_bias, focusing_factor=self.focusing_factor,
            kernel_size=self.kernel_size, proj_drop=proj_drop)


class CSWinFocusedAttention(FocusedLinearCore):
    """FLatten-CSwin's 'L' branch: focused linear attention over the whole map, with
    CSwin's LePE (``get_v``, 3x3) besides FLatten's shared depthwise conv (``dwc``)."""

    def __init__(self, embed_dims, num_heads, pretrain_hw, focusing_factor=3,
                 kernel_size=5):
        super().__init__(embed_dims, num_heads, pretrain_hw, focusing_factor, kernel_size)
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, q, k, v, hw_shape):
        return (self.attend(q, k, v, hw_shape) + self.conv_v(v, hw_shape)
                + lepe(self.get_v, v, hw_shape))


@MODELS.register_module()
class FLattenCSWin(FocusedLinearMixin, AgentCSWin):
    """FLatten-CSwin (``'LLSS'``: focused linear attention over the whole map in stages
    1-2, CSwin stripes in 3-4).

    Args: those of :class:`AgentCSWin` except the agent settings, plus
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
    """

    def __init__(self, arch='tiny', focusing_factor=3, kernel_size=5, attn_type='LLSS',
                 **kwargs):
        self._focus_settings(focusing_factor, kernel_size, kwargs)
        super().__init__(arch=arch, attn_type=attn_type, **kwargs)


    def efficient_attention(self, i, dims, heads, reso, attn_drop):
        return CSWinFocusedAttention(dims, heads, (reso, reso), self.focusing_factor,
                                     self.kernel_size)


# -- PVTv2 -----------------------------------------------------------------------------
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
class FLattenPVTv2(FocusedLinearMixin, BaseBackbone):
    """FLatten-PVTv2 (b0..b5, ``'LLLL'``) for OpenMMLab 2.0.

    Args:
        arch (str | dict): ``'b0'`` .. ``'b5'`` or a dict with the keys of a preset.
        in_channels (int): Defaults to 3.
        pretrain_img_size (int): Sizes the positional encodings. Defaults to 224.
        embed_dims, depths, num_heads, mlp_ratios, sr_ratios (list, optional):
            Per-stage overrides; ``sr_ratios`` reduce the keys of 'S' stages.
        attn_type (str, optional): 'L' focused linear, 'S' PVTv2 softmax attention,
            'M' + number mixed. Defaults to the preset's ``'LLLL'``.
        la_sr_ratios (Sequence[int]): Key reduction of 'L' stages (published: 1).
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
        qkv_bias (bool): Defaults to True.
        drop_rate, attn_drop_rate (float): Defaults to 0.
        drop_path_rate (float): Defaults to 0.1.
        out_indices (Sequence[int]): Stages to output, each after its LayerNorm
            ``norm{i+1}`` (published). Defaults to (0, 1, 2, 3).
        frozen_stages (int): -1 none, 0 the first patch embedding, k the first k stages.
        with_cp (bool): Gradient checkpointing per block.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='mmagent://flatten_pvt_v2_b0_in1k')``.
    """
    arch_zoo = {
        name: dict(embed_dims=dims, depths=depths, num_heads=[1, 2, 5, 8], mlp_ratios=mlp,
                   sr_ratios=[8, 4, 2, 1], attn_type='LLLL')
        for name, dims, depths, mlp in (
            ('b0', [32, 64, 160, 256], [2, 2, 2, 2], [8, 8, 4, 4]),
            ('b1', [64, 128, 320, 512], [2, 2, 2, 2], [8, 8, 4, 4]),
            ('b2', [64, 128, 320, 512], [3, 4, 6, 3], [8, 8, 4, 4]),
            ('b3', [64, 128, 320, 512], [3, 4, 18, 3], [8, 8, 4, 4]),
            ('b4', [64, 128, 320, 512], [3, 8, 27, 3], [8, 8, 4, 4]),
            ('b5', [64, 128, 320, 512], [3, 6, 40, 3], [4, 4, 4, 4]))
    }
    published_prefixes = ('patch_embed', 'block', 'norm1.', 'norm2.', 'norm3.', 'norm4.')

    def __init__(self,
                 arch='b0',
                 in_channels=3,
                 pretrain_img_size=224,
                 embed_dims=None,
                 depths=None,
                 num_heads=None,
                 mlp_ratios=None,
                 sr_ratios=None,
                 attn_type=None,
                 la_sr_ratios=(1, 1, 1, 1),
                 focusing_factor=3,
                 kernel_size=5,
                 qkv_bias=True,
                 drop_rate=0.,
                 attn_drop_rate=0.,
                 drop_path_rate=0.1,
                 **kwargs):
        self._focus_settings(focusing_factor, kernel_size, kwargs)
        super().__init__(**kwargs)  # out_indices, frozen_stages, norm_eval, with_cp, init_cfg
        cfg = self.resolve_arch(arch, embed_dims=embed_dims, depths=depths,
                                num_heads=num_heads, mlp_ratios=mlp_ratios,
                                sr_ratios=sr_ratios, attn_type=attn_type)
        self.embed_dims = as_stage_list('embed_dims', cfg['embed_dims'])
        self.depths = as_stage_list('depths', cfg['depths'])
        self.num_heads = as_stage_list('num_heads', cfg['num_heads'])
        mlp_ratios = as_stage_list('mlp_ratios', cfg['mlp_ratios'], kind=float)
        sr_ratios = as_stage_list('sr_ratios', cfg['sr_ratios'])
        la_sr_ratios = as_stage_list('la_sr_ratios', la_sr_ratios)
        check_heads(self.embed_dims, self.num_heads)
        plan = parse_attn_type(cfg['attn_type'], self.depths, self.attn_letters)
        dpr = drop_path_rates(drop_path_rate, self.depths)
        self.stage_modules = []
        for i in range(4):
            dims, heads = self.embed_dims[i], self.num_heads[i]
            grid = pretrain_img_size // 4 // 2**i

            def attention(letter):
                if letter == 'A':
                    return FocusedLinearAttention(
                        dims, heads, (grid, grid), qkv_layout='q_kv', qkv_bias=qkv_bias,
                        sr_ratio=la_sr_ratios[i], focusing_factor=focusing_factor,
                        kernel_size=kernel_size, proj_drop=drop_rate)
                return SRAttention(dims, heads, qkv_bias=qkv_bias, attn_drop=attn_drop_rate,
                                   proj_drop=drop_rate, sr_ratio=sr_ratios[i])

            patch_embed = OverlapPatchEmbed(in_channels if i == 0 else self.embed_dims[i - 1],
                                            dims, 7 if i == 0 else 3, 4 if i == 0 else 2)
            blocks = nn.ModuleList([
                TransformerBlock(dims, attention(letter), drop_path=rate, norm_eps=1e-6,
                                 mlp=DWConvMlp(dims, int(dims * mlp_ratios[i]), drop_rate))
                for letter, rate in zip(plan[i], dpr[i])])
            norm = nn.LayerNorm(dims, eps=1e-6)
            setattr(self, f'patch_embed{i + 1}', patch_embed)
            setattr(self, f'block{i + 1}', blocks)
            setattr(self, f'norm{i + 1}', norm)
            self.stage_modules.append([patch_embed, blocks, norm])
        self.stem = [self.patch_embed1]
        self._freeze()

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
