"""Agent-Swin (Han et al., "Agent Attention", ECCV 2024): the Swin host with agent
attention over whole stage maps in its 'A' stages and shifted windows in its 'B'
stages."""
from mmagent.models.hosts import SwinHost
from mmagent.models.hosts.base import AGENT_SETTINGS, agent_letter_map, preset_settings
from mmagent.registry import MODELS

__all__ = ['AgentSwinTransformer']


@MODELS.register_module()
class AgentSwinTransformer(SwinHost):
    """Agent-Swin backbone for OpenMMLab 2.0.

    The Swin host (:class:`~mmagent.models.hosts.SwinHost`) whose letter map is 'A':
    ``mmagent.AgentAttention`` over the stage map, 'B': ``mmagent.SwinWindowAttention``.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'`` or ``'base'`` (or a dict with the keys
            of a preset). Defaults to ``'tiny'``.
        attn_type (str, optional): One letter per stage: 'A' agent attention over the
            stage map, 'B' shifted windows, 'M' mixed with the number of leading agent
            blocks after the letters (``'AAMB2'``). Defaults to None (the preset's:
            T ``'AAAB'``, S ``'AABB'``, B ``'AAMB2'``).
        agent_num (list, optional): Agents per stage at pretraining. Defaults to None
            (the preset's [9, 16, 49, 49]).
        downstream_agent_shapes (list, optional): The agent grid of each stage.
            Defaults to None (the preset's [(9, 9), (12, 12), (14, 14), (7, 7)]).
        **kwargs: Everything else of :class:`~mmagent.models.hosts.SwinHost`
            (``in_channels=3``, ``patch_size=4``, ``pretrain_img_size=224``,
            ``embed_dims``, ``depths``, ``num_heads``, ``mlp_ratio``,
            ``window_size=7``, ``pad_small_map=True``, ``qkv_bias=True``,
            ``drop_rate=0``, ``attn_drop_rate=0``, ``drop_path_rate=0.1``,
            ``out_indices=(0, 1, 2, 3)``, ``frozen_stages=-1``, ``norm_eval=False``,
            ``with_cp=False``, ``cpu_kernels=True``, ``bias_cache_mb=4``,
            ``init_cfg=None``).
    """
    arch_zoo = {
        name:
        dict(SwinHost.arch_zoo[name], attn_type=attn_type, agent_num=[9, 16, 49, 49],
             downstream_agent_shapes=[(9, 9), (12, 12), (14, 14), (7, 7)])
        for name, attn_type in (('tiny', 'AAAB'), ('small', 'AABB'), ('base', 'AAMB2'))
    }

    def __init__(self, arch='tiny', **kwargs):
        cfg = preset_settings(self, arch, kwargs, AGENT_SETTINGS)
        attn = agent_letter_map(self, cfg, dict(type='mmagent.SwinWindowAttention'))
        super().__init__(arch=arch, attn=attn, attn_type=cfg['attn_type'], **kwargs)
