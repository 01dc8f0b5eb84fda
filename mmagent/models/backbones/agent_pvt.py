"""Agent-PVT (Han et al., "Agent Attention", ECCV 2024): the PVT v1 host with agent
attention in its 'A' stages and PVT's spatial-reduction attention in its 'B' stages."""
from mmagent.models.hosts import PVTHost
from mmagent.models.hosts.base import AGENT_SETTINGS, agent_letter_map, preset_settings
from mmagent.registry import MODELS

__all__ = ['AgentPVT']


@MODELS.register_module()
class AgentPVT(PVTHost):
    """Agent-PVT backbone for OpenMMLab 2.0: a preset of
    :class:`~mmagent.models.hosts.PVTHost` with
    ``attn=dict(A=mmagent.AgentAttention, B=mmagent.PVTSRAttention)``.

    Args:
        arch (str | dict): Preset name (``'tiny'``, ``'small'``, ``'medium'``,
            ``'large'``) or a dict with the keys of a preset. Defaults to ``'tiny'``.
        attn_type (str, optional): One letter per stage, 'A' agent attention, 'B' PVT
            spatial-reduction attention, 'M' + number mixed. Defaults to None (the
            preset's ``'AAAA'``).
        agent_num (list, optional): Agents per stage at pretraining, perfect squares.
            Defaults to None (the preset's [9, 16, 49, 49]).
        downstream_agent_shapes (list, optional): The agent grid (ph, pw) of each stage
            at run time. Defaults to None (the preset's, [(12, 12), (16, 16), (28, 28),
            (28, 28)]).
        **kwargs: Everything else of :class:`~mmagent.models.hosts.PVTHost`
            (``in_channels=3``, ``patch_size=4``, ``pretrain_img_size=224``, the
            per-stage overrides, ``qkv_bias=True``, ``drop_rate=0``,
            ``attn_drop_rate=0``, ``drop_path_rate=0.1``, ``out_indices=(0, 1, 2, 3)``,
            ``frozen_stages=-1``, ``norm_eval=False``, ``with_cp=False``,
            ``cpu_kernels=True``, ``bias_cache_mb=4``, ``init_cfg=None``).
    """
    arch_zoo = {
        name:
        dict(preset, attn_type='AAAA', agent_num=[9, 16, 49, 49],
             downstream_agent_shapes=[(12, 12), (16, 16), (28, 28), (28, 28)])
        for name, preset in PVTHost.arch_zoo.items()
    }

    def __init__(self, arch='tiny', **kwargs):
        cfg = preset_settings(self, arch, kwargs, AGENT_SETTINGS)
        attn = agent_letter_map(self, cfg, dict(type='mmagent.PVTSRAttention'))
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)
