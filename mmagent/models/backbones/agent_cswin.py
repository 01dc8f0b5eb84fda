"""Agent-CSwin (Han et al., "Agent Attention", ECCV 2024): the CSwin host with agent
attention over the whole map, with CSwin's LePE, in its first stages (``'AABB'``) and
CSwin's stripes in the others."""
import torch
import torch.nn as nn

from mmagent.models.hosts import CSWinHost
from mmagent.models.hosts.base import AGENT_SETTINGS, agent_letter_map, preset_settings
from mmagent.models.layers.agent_attention import AgentAttentionCore
from mmagent.models.layers.stripe_attention import lepe
from mmagent.models.layers.windows import map_view, tokens
from mmagent.registry import MODELS

__all__ = ['AgentCSWin', 'CSWinAgentAttention']


@MODELS.register_module()
class CSWinAgentAttention(AgentAttentionCore):
    """Agent attention over the whole map with LePE (the conv named ``get_v``): a
    branch of the CSwin host's block (``takes_qkv``), which owns the projections. The
    biases are sized for the map at pretraining (``pretrain_hw``) and resized to the
    actual map, the agents pooled to ``downstream_agent_shape``.

    Args:
        embed_dims (int): Channels C.
        num_heads (int): Heads.
        agent_num (int): Agents at pretraining, a perfect square. Defaults to 49.
        pretrain_hw (tuple[int]): The map at pretraining. Defaults to (7, 7).
        downstream_agent_shape (tuple[int], optional): The agent grid at run time.
            Defaults to None (the pretraining grid).
        attn_drop (float): Dropout on the attention weights. Defaults to 0.
    """
    takes_qkv = True

    def __init__(self, embed_dims, num_heads, agent_num=49, pretrain_hw=(7, 7),
                 downstream_agent_shape=None, attn_drop=0.):
        super().__init__(num_heads, agent_num=agent_num, pretrain_hw=pretrain_hw,
                         downstream_agent_shape=downstream_agent_shape)
        self.scale = (embed_dims // num_heads)**-0.5
        self.attn_drop = attn_drop
        self.get_v = nn.Conv2d(embed_dims, embed_dims, 3, padding=1, groups=embed_dims)

    def forward(self, q, k, v, hw_shape):
        if torch.is_grad_enabled():
            out = self.attend(q, k, v, hw_shape, self.scale, self.attn_drop)
            return out + lepe(self.get_v, v, hw_shape)
        # inference: LePE first, the attention added into it (see attend's add_to);
        # channels-last, so the tokens of the conv's output are dense rows
        self.check_tokens(q.shape[1], hw_shape)
        pe = self.get_v(
            map_view(v, hw_shape).contiguous(memory_format=torch.channels_last))
        return self.attend(q, k, v, hw_shape, self.scale, self.attn_drop,
                           add_to=tokens(pe))


@MODELS.register_module()
class AgentCSWin(CSWinHost):
    """Agent-CSwin backbone for OpenMMLab 2.0: a preset of
    :class:`~mmagent.models.hosts.CSWinHost` with
    ``attn=dict(A=mmagent.CSWinAgentAttention, B=mmagent.CSWinStripeAttention)``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        agent_num (Sequence[int]): Agents per stage at pretraining, perfect squares.
            Defaults to (9, 16, 49, 49).
        attn_type (str): One letter per stage, ``'A'`` agent attention over the whole
            map (as in every published model), ``'B'`` CSWin stripes. Defaults to
            ``'AABB'``.
        downstream_agent_shapes (Sequence, optional): Agent grid (rows, cols) per
            stage at run time. Defaults to None (the pretraining grids).
        **kwargs: Everything else of :class:`~mmagent.models.hosts.CSWinHost`
            (``pretrain_img_size=224``, which sizes the agent biases, ``in_channels=3``,
            ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratio``,
            ``split_size=(1, 2, 7, 7)``, ``qkv_bias=True``, ``drop_rate=0``,
            ``attn_drop_rate=0``, ``drop_path_rate=0.2``, ``out_indices=(0, 1, 2, 3)``,
            ``frozen_stages=-1``, ``norm_eval=False``, ``with_cp=False``,
            ``cpu_kernels=True``, ``bias_cache_mb=4``, ``init_cfg=None``).

    Any input size works: the agent biases are resized to the actual maps.
    """

    def __init__(self, arch='tiny', **kwargs):
        cfg = preset_settings(self, arch, kwargs, dict(AGENT_SETTINGS, attn_type='AABB'))
        attn = agent_letter_map(self, cfg, dict(type='mmagent.CSWinStripeAttention'),
                                agent_type='mmagent.CSWinAgentAttention')
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)
