"""What a CUDA run takes, checked on the CPU (issue 22, item 5): the plain path
(``cpu_kernels=False``, the only path CUDA takes) gives every SDPA call 4-D
contiguous inputs and masks, which CUDA's fused kernels need (anything else falls back
to the unfused math path); and on a device other than the CPU no CPU kernel runs even
with the switch on. DAT++'s neighborhood tiles are batched as 6-D and are left out."""
import pytest
import torch
import torch.nn.functional as F

from mmagent.models.layers import cpu_kernels
from tests.shallow_families import FAMILIES

SDPA_FAMILIES = sorted(f for f in FAMILIES if f != 'dat')


def _run(model, train):
    model.train(train)
    x = torch.randn(2, 3, 64, 96, device=next(model.parameters()).device)
    with torch.set_grad_enabled(train):
        out = model(x)
        if train:
            sum(o.sum() for o in out).backward()


@pytest.mark.parametrize('family', SDPA_FAMILIES)
def test_plain_path_gives_sdpa_4d_contiguous_masks(family, monkeypatch):
    calls = []
    sdpa = F.scaled_dot_product_attention

    def checked(q, k, v, attn_mask=None, **kwargs):
        for name, t in (('query', q), ('key', k), ('value', v), ('mask', attn_mask)):
            if t is not None:
                assert t.dim() == 4, f'{name} is {t.dim()}-D'
        if attn_mask is not None:
            assert attn_mask.is_contiguous(), 'mask not contiguous'
        calls.append(attn_mask is not None)
        return sdpa(q, k, v, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(F, 'scaled_dot_product_attention', checked)
    model = FAMILIES[family](drop_path_rate=0., cpu_kernels=False)
    for train in (False, True):
        _run(model, train)
    if family.startswith('agent') or family == 'flatten_swin':
        assert any(calls), 'no masked SDPA call: the check saw nothing'


@pytest.mark.parametrize('family', ['agent_pvt', 'agent_swin', 'agent_cswin'])
def test_no_cpu_kernel_off_the_cpu(family, monkeypatch):
    """The 'meta' device stands in for CUDA: same dispatch, no data."""

    def refuse(*args, **kwargs):
        raise AssertionError('a CPU kernel ran off the CPU')

    for name in ('mask_into_scratch', 'chunked_mlp_forward', 'scratch'):
        monkeypatch.setattr(cpu_kernels, name, refuse)
    monkeypatch.setattr(cpu_kernels.AgentAttentionFunction, 'apply', refuse)
    monkeypatch.setattr(cpu_kernels.ChunkedMlpFunction, 'apply', refuse)
    model = FAMILIES[family](drop_path_rate=0.).to('meta')  # cpu_kernels on
    for train in (False, True):
        _run(model, train)
