"""FLOPs of mmagent models with MMEngine's analyzer, counting agent attention.

MMEngine's (fvcore-style) ``FlopAnalyzer`` counts one multiply-add as one FLOP and
knows matmul, linear and conv ops, but not ``aten::scaled_dot_product_attention``,
the fused kernel both attention steps of agent attention (and the window attention of
Agent-Swin's ordinary blocks) run as; without a handle those FLOPs silently vanish.
:func:`sdpa_flop_jit` counts them as the two products they are: softmax(Q K^T) V is
L*S*E + L*S*Ev multiply-adds per (batch, head).
"""
from functools import reduce

import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.analysis.jit_handles import get_shape


def sdpa_flop_jit(inputs, outputs):
    q, k, v = (get_shape(t) for t in inputs[:3])
    batch = reduce(lambda a, b: a * b, q[:-2], 1)
    length, dims = q[-2], q[-1]
    source, v_dims = k[-2], v[-1]
    return batch * length * source * (dims + v_dims)


EXTRA_HANDLES = {'aten::scaled_dot_product_attention': sdpa_flop_jit}


def flop_analyzer(model, inputs):
    """A ``FlopAnalyzer`` that also counts fused attention.

    The eval bias caches of every layer that has one (``clear_bias_cache``: agent
    attention in every host, Agent-CSwin's and Agent-DeiT's included) are cleared
    first, so the count always includes the per-call bias resizing, whether or not
    the model already ran at this size.
    """
    for m in model.modules():
        if hasattr(m, 'clear_bias_cache'):
            m.clear_bias_cache()
    analyzer = FlopAnalyzer(model, inputs).set_op_handle(**EXTRA_HANDLES)
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    return analyzer


def dummy_inputs(scope, height, width, device='cpu'):
    """(inputs, data_samples) for a tensor-mode forward of a detector/segmentor."""
    img = torch.zeros(1, 3, height, width, device=device)
    meta = dict(
        img_shape=(height, width), ori_shape=(height, width), pad_shape=(height, width),
        batch_input_shape=(height, width), scale_factor=(1.0, 1.0))
    if scope == 'mmdet':
        from mmdet.structures import DetDataSample
        return img, [DetDataSample(metainfo=meta)]
    if scope == 'mmseg':
        from mmseg.structures import SegDataSample
        return img, [SegDataSample(metainfo=meta)]
    return img, None
