"""Agent-DeiT (Han et al., "Agent Attention", ECCV 2024): the DeiT host whose first
``agent_layer`` blocks use agent attention with a class token; the others DeiT's
softmax attention.

The agents are pooled from the patch queries only; the class token reads the agents
and is read by them like any token, through two extra biases (``ca_bias``: class token
-> agents, ``ac_bias``: agents -> class token). The depthwise conv of V runs on the
patch map; the class token gets none.
"""
import torch
import torch.nn as nn
from mmengine.model.weight_init import trunc_normal_

from mmagent.models.hosts import DeiTHost
from mmagent.models.hosts.base import resolve_arch
from mmagent.models.layers.agent_attention import AgentAttention, agent_side
from mmagent.registry import MODELS

__all__ = ['AgentDeiT', 'ClassTokenAgentAttention']


@MODELS.register_module()
class ClassTokenAgentAttention(AgentAttention):
    """:class:`~mmagent.models.layers.AgentAttention` with a leading class token and
    its two biases.

    ``ac_bias`` (1, h, a, 1) is added to the agents' logits over the class token and
    ``ca_bias`` (1, h, 1, a) to the class token's logits over the agents; with another
    agent grid they are resized over the agents like the other biases.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        **kwargs: Those of :class:`~mmagent.models.layers.AgentAttention`
            (``agent_num=49``, ``pretrain_hw=(7, 7)``, ``downstream_agent_shape=None``,
            ``qkv_bias=True``, ``attn_drop=0``, ``proj_drop=0``, ...).
    """
    num_prefix_tokens = 1
    side_bias_names = ('ac_bias', 'ca_bias')

    def __init__(self, embed_dims, num_heads, **kwargs):
        super().__init__(embed_dims, num_heads, **kwargs)
        self.ac_bias = nn.Parameter(torch.zeros(1, num_heads, self.agent_num, 1))
        self.ca_bias = nn.Parameter(torch.zeros(1, num_heads, 1, self.agent_num))
        trunc_normal_(self.ac_bias, std=.02)
        trunc_normal_(self.ca_bias, std=.02)

    def side_bias(self, side, grid):
        bias = side(grid, self.agent_resize)
        resize = self.agent_resize.to(bias.dtype)
        if side is agent_side:  # (h, n, N) after (h, n, 1)
            return torch.cat([resize @ self.ac_bias[0].to(bias.dtype), bias], dim=2)
        return torch.cat([self.ca_bias[0].to(bias.dtype) @ resize.t(), bias], dim=1)


@MODELS.register_module()
class AgentDeiT(DeiTHost):
    """Agent-DeiT backbone for mmpretrain classifiers: a preset of
    :class:`~mmagent.models.hosts.DeiTHost` whose first ``agent_layer`` blocks are
    ``mmagent.ClassTokenAgentAttention`` and the rest ``mmagent.DeiTSelfAttention``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        agent_layer (int, optional): The first blocks that use agent attention.
            Defaults to None (the preset's: 12 for T/S, 4 for B).
        agent_num (int, optional): Agents per block, a perfect square. Defaults to None
            (the preset's: 49 for T/S, 81 for B).
        downstream_agent_shape (tuple, optional): Agent grid at run time. Defaults to
            None (the pretraining grid).
        **kwargs: Everything else of :class:`~mmagent.models.hosts.DeiTHost`
            (``img_size=224``, which also sizes the agent biases (448 for the
            published Agent-DeiT-S 448), ``patch_size=16``, ``in_channels=3``,
            ``embed_dims``, ``depth``, ``num_heads``, ``mlp_ratio``, ``qkv_bias=True``,
            ``drop_rate=0``, ``attn_drop_rate=0``, ``drop_path_rate=0.1``,
            ``out_indices=-1``, ``frozen_stages=-1``, ``with_cp=False``,
            ``cpu_kernels=True``, ``bias_cache_mb=4``, ``init_cfg=None``).

    The agent biases are resized bilinearly to other patch maps.
    """
    arch_zoo = {
        name: dict(DeiTHost.arch_zoo[name], agent_layer=layers, agent_num=agents)
        for name, layers, agents in (('tiny', 12, 49), ('small', 12, 49), ('base', 4, 81))
    }

    def __init__(self, arch='tiny', agent_layer=None, agent_num=None,
                 downstream_agent_shape=None, **kwargs):
        cfg = resolve_arch(
            type(self).__name__, arch, self.arch_zoo,
            dict(kwargs, agent_layer=agent_layer, agent_num=agent_num))
        for key in ('depth', 'agent_num'):
            value = cfg[key]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f'{key} must be a positive integer, got {value!r}')
        if not isinstance(cfg['agent_layer'], int) or cfg['agent_layer'] < 0:
            raise ValueError(f'agent_layer must be a non-negative integer (the number of '
                             f'leading agent blocks), got {cfg["agent_layer"]!r}')
        agent = dict(type='mmagent.ClassTokenAgentAttention', agent_num=cfg['agent_num'],
                     downstream_agent_shape=downstream_agent_shape)
        softmax = dict(type='mmagent.DeiTSelfAttention')
        attn = [agent if i < cfg['agent_layer'] else softmax for i in range(cfg['depth'])]
        super().__init__(arch=arch, attn=attn, **kwargs)
