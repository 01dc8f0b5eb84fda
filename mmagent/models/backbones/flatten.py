"""FLatten Transformer (Han et al., ICCV 2023) for OpenMMLab 2.0: FLatten-PVT, -PVTv2,
-Swin and -CSwin.

Each is a preset of its host with focused linear attention
(:class:`~mmagent.models.layers.FocusedLinearAttention`) in the ``'L'`` stages and the
host's own attention in the ``'S'`` stages: PVT's spatial-reduction attention, Swin's
shifted windows, CSwin's stripes. Module names follow the published checkpoints.

At other input sizes than pretraining, the positional encodings of the linear attention
(one per layer, sized for the pretraining map) are resized bilinearly to the actual map;
'L' stages attend over the whole map (as every published model does at 224 px, where
their window is the map), and the 'S' stages' windows and stripes pad as their hosts do.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmagent.models.hosts import CSWinHost, PVTHost, PVTv2Host, SwinHost
from mmagent.models.hosts.base import as_stage_list, preset_settings
from mmagent.models.layers.focused_linear_attention import FocusedLinearCore
from mmagent.models.layers.stripe_attention import lepe
from mmagent.models.layers.windows import map_view, tokens
from mmagent.registry import MODELS

__all__ = [
    'FLattenPVT', 'FLattenPVTv2', 'FLattenSwinTransformer', 'FLattenCSWin',
    'CSWinFocusedAttention'
]

#: FLatten's own settings and their defaults (``attn_type``: the host's preset letters)
FOCUS_SETTINGS = dict(focusing_factor=3, kernel_size=5)


def focused_letter_map(preset, cfg, plain, la_sr_ratios=None,
                       focused='mmagent.FocusedLinearAttention'):
    """FLatten's letter map: 'L' focused linear attention with ``cfg``'s focusing
    factor and kernel size (and, per stage, ``sr_ratio`` from ``la_sr_ratios``), 'S'
    the host's ``plain`` attention config."""
    preset.focusing_factor = cfg['focusing_factor']
    preset.kernel_size = cfg['kernel_size']
    focus = dict(type=focused, focusing_factor=cfg['focusing_factor'],
                 kernel_size=cfg['kernel_size'])
    if la_sr_ratios is not None:
        preset.la_sr_ratios = as_stage_list('la_sr_ratios', la_sr_ratios)
        focus = [dict(focus, sr_ratio=r) for r in preset.la_sr_ratios]
    return dict(L=focus, S=plain)


def _with_attn_type(zoo, attn_type):
    return {name: dict(p, attn_type=attn_type) for name, p in zoo.items()}


@MODELS.register_module()
class FLattenPVT(PVTHost):
    """FLatten-PVT: :class:`~mmagent.models.hosts.PVTHost` with focused linear
    attention ('L') and PVT's spatial-reduction attention ('S'), preset ``'LLLL'``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'medium'``, ``'large'`` or a dict.
            Defaults to ``'tiny'``.
        attn_type (str, optional): 'L' / 'S' per stage, 'M' + number mixed. Defaults
            to None (the preset's ``'LLLL'``).
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
        la_sr_ratios (Sequence[int]): Spatial reduction of keys/values in 'L' stages;
            the published models use 1. Defaults to (1, 1, 1, 1).
        **kwargs: Everything else of :class:`~mmagent.models.hosts.PVTHost`.
    """
    arch_zoo = _with_attn_type(PVTHost.arch_zoo, 'LLLL')

    def __init__(self, arch='tiny', la_sr_ratios=(1, 1, 1, 1), **kwargs):
        cfg = preset_settings(self, arch, kwargs, dict(FOCUS_SETTINGS, attn_type=None))
        attn = focused_letter_map(self, cfg, dict(type='mmagent.PVTSRAttention'),
                                  la_sr_ratios)
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)


@MODELS.register_module()
class FLattenSwinTransformer(SwinHost):
    """FLatten-Swin: :class:`~mmagent.models.hosts.SwinHost` with focused linear
    attention over the stage map ('L') and shifted windows ('S'), preset ``'LLSS'``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict. Defaults to
            ``'tiny'``.
        attn_type (str, optional): Defaults to None (the preset's ``'LLSS'``).
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
        **kwargs: Everything else of :class:`~mmagent.models.hosts.SwinHost`.
    """
    arch_zoo = _with_attn_type(SwinHost.arch_zoo, 'LLSS')

    def __init__(self, arch='tiny', **kwargs):
        cfg = preset_settings(self, arch, kwargs, dict(FOCUS_SETTINGS, attn_type=None))
        attn = focused_letter_map(self, cfg, dict(type='mmagent.SwinWindowAttention'))
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)


@MODELS.register_module()
class CSWinFocusedAttention(FocusedLinearCore):
    """FLatten-CSwin's 'L' branch: focused linear attention over the whole map, with
    CSwin's LePE (``get_v``, 3x3) besides FLatten's shared depthwise conv (``dwc``); a
    branch of the CSwin host's block (``takes_qkv``).

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        pretrain_hw (tuple[int]): The map at pretraining (sizes the positional
            encoding).
        focusing_factor (float): Defaults to 3.
        kernel_size (int): Defaults to 5.
    """
    takes_qkv = True

    def __init__(self, embed_dims, num_heads, pretrain_hw, focusing_factor=3,
                 kernel_size=5):
        super().__init__(embed_dims, num_heads, pretrain_hw, focusing_factor, kernel_size)
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, q, k, v, hw_shape):
        if not torch.is_grad_enabled():
            # inference: both convs of V first (one conv), the attention added into it
            return self.attend(q, k, v, hw_shape, add_to=self.convs_of_v(v, hw_shape))
        out = self.attend(q, k, v, hw_shape)
        return out + self.conv_v(v, hw_shape) + lepe(self.get_v, v, hw_shape)

    def convs_of_v(self, v, hw_shape):
        """``conv_v(v) + lepe(get_v, v)`` as one depthwise conv, (B, N, C) dense: both
        are depthwise, centred and zero-padded, so their sum is the conv with the sum
        of the kernels (FLatten's, shared by the heads, and LePE's), run on V copied
        once to a channels-last map. At 800x1344 the two convs held V's per-head copy
        and two outputs at once (three token-sized tensors); this holds two."""
        channels = v.shape[-1]
        shared, pe = self.dwc, self.get_v
        heads = channels // shared.weight.shape[0]
        size = max(shared.kernel_size[0], pe.kernel_size[0])

        def padded(w):  # centred in size x size
            p = (size - w.shape[-1]) // 2
            return F.pad(w, (p, p, p, p))

        weight = padded(shared.weight.repeat(heads, 1, 1, 1)) + padded(pe.weight)
        bias = shared.bias.repeat(heads) + pe.bias  # both built with biases
        out = F.conv2d(
            map_view(v, hw_shape).contiguous(memory_format=torch.channels_last), weight,
            bias, padding=size // 2, groups=channels)
        return tokens(out)


@MODELS.register_module()
class FLattenCSWin(CSWinHost):
    """FLatten-CSwin: :class:`~mmagent.models.hosts.CSWinHost` with focused linear
    attention over the whole map ('L', ``mmagent.CSWinFocusedAttention``) and CSwin
    stripes ('S').

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict. Defaults to
            ``'tiny'``.
        attn_type (str): Defaults to ``'LLSS'``.
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
        **kwargs: Everything else of :class:`~mmagent.models.hosts.CSWinHost`.
    """

    def __init__(self, arch='tiny', **kwargs):
        cfg = preset_settings(self, arch, kwargs, dict(FOCUS_SETTINGS, attn_type='LLSS'))
        attn = focused_letter_map(self, cfg, dict(type='mmagent.CSWinStripeAttention'),
                                  focused='mmagent.CSWinFocusedAttention')
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)


@MODELS.register_module()
class FLattenPVTv2(PVTv2Host):
    """FLatten-PVTv2 (b0..b5): :class:`~mmagent.models.hosts.PVTv2Host` with focused
    linear attention ('L') and PVTv2's spatial-reduction attention ('S'), preset
    ``'LLLL'``.

    Args:
        arch (str | dict): ``'b0'`` .. ``'b5'`` or a dict. Defaults to ``'b0'``.
        attn_type (str, optional): Defaults to None (the preset's ``'LLLL'``).
        la_sr_ratios (Sequence[int]): Key reduction of 'L' stages (published: 1).
            Defaults to (1, 1, 1, 1).
        focusing_factor (float): Defaults to 3.
        kernel_size (int): The depthwise conv of V. Defaults to 5.
        **kwargs: Everything else of :class:`~mmagent.models.hosts.PVTv2Host`.
    """
    arch_zoo = _with_attn_type(PVTv2Host.arch_zoo, 'LLLL')

    def __init__(self, arch='b0', la_sr_ratios=(1, 1, 1, 1), **kwargs):
        cfg = preset_settings(self, arch, kwargs, dict(FOCUS_SETTINGS, attn_type=None))
        attn = focused_letter_map(self, cfg, dict(type='mmagent.PVTSRAttention'),
                                  la_sr_ratios)
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)
