"""MLLA: Mamba-Like Linear Attention (Han et al., "Demystify Mamba in Vision: A Linear
Attention Perspective", NeurIPS 2024): the MLLA host with MLLA's linear attention
(ELU+1 kernel, 2-D RoPE, LePE) in every block."""
from mmagent.models.hosts import MLLAHost
from mmagent.models.layers.mlla_attention import MLLALinearAttention
from mmagent.registry import MODELS

__all__ = ['MLLA', 'LinearAttention']

#: the name this attention had before it was registered (kept for imports)
LinearAttention = MLLALinearAttention


@MODELS.register_module()
class MLLA(MLLAHost):
    """MLLA backbone for OpenMMLab 2.0: a preset of
    :class:`~mmagent.models.hosts.MLLAHost` with ``mmagent.MLLALinearAttention`` in
    every block.

    Args:
        arch (str | dict): ``'tiny'``, ``'small'``, ``'base'`` or a dict with the keys
            of a preset. Defaults to ``'tiny'``.
        **kwargs: Everything else of :class:`~mmagent.models.hosts.MLLAHost`
            (``in_channels=3``, ``embed_dims``, ``depths``, ``num_heads``,
            ``mlp_ratio``, ``qkv_bias=True``, ``drop_rate=0``, ``drop_path_rate=0.1``,
            ``out_indices=(0, 1, 2, 3)`` each through a LayerNorm ``norm{i}`` as the
            authors' downstream backbone, ``frozen_stages=-1``, ``norm_eval=False``,
            ``with_cp=False``, ``init_cfg=None``).

    Any input size works: the stem and the patch merging pad, and RoPE is computed for
    the actual map.
    """

    def __init__(self, arch='tiny', **kwargs):
        super().__init__(arch=arch, attn=dict(type='mmagent.MLLALinearAttention'),
                         **kwargs)
