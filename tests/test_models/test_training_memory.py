"""What the linear-attention families keep for backward (issue 22: training within
the memory of the softmax backbones). Counted exactly with saved-tensor hooks, in
token-sized tensors (B x N x C): the attention cores recompute their elementwise steps
in backward instead of keeping them (``recompute_in_backward``). Before that, focused
linear attention kept 18.8 such tensors, MLLA's attention 9.4 and MLLA's block 25.9;
gradients are checked equal to the reference renderings in test_flatten / test_mlla."""
import pytest
import torch

from mmagent.models.hosts.mlla import MLLABlock
from mmagent.models.layers import FocusedLinearAttention
from mmagent.models.layers.mlla_attention import MLLALinearAttention

B, H, W, C = 2, 16, 16, 64


def saved_token_tensors(fn, x):
    """Bytes of the non-parameter storages autograd keeps for backward of ``fn(x)``,
    in units of ``x``'s size."""
    storages = {}

    def pack(t):
        if not isinstance(t, torch.nn.Parameter):
            storage = t.untyped_storage()
            storages[storage.data_ptr()] = storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn(x).sum().backward()
    return sum(storages.values()) / (x.numel() * x.element_size())


@pytest.mark.parametrize('name,build,limit', [
    ('focused linear attention', lambda: FocusedLinearAttention(C, 2, (H, W)), 6),
    ('MLLA linear attention', lambda: MLLALinearAttention(C, 2), 3.5),
    ('MLLA block', lambda: MLLABlock(C, MLLALinearAttention(C, 2)), 18),
])
def test_linear_attention_cores_keep_few_tensors_for_backward(name, build, limit):
    module = build()
    x = torch.randn(B, H * W, C, requires_grad=True)
    kept = saved_token_tensors(lambda t: module(t, (H, W)), x)
    assert kept <= limit, f'{name} keeps {kept:.1f} token-sized tensors'
    assert x.grad is not None and torch.isfinite(x.grad).all()
