"""Hosts and attentions: any registered attention (mmagent's or a user's) in any host
whose geometry allows it, built from the config and trained a few steps on toy data;
the letter maps and the keywords a host offers."""
import ast
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn as nn

from mmagent.models import (AgentAttention, CSWinHost, FocusedLinearAttention, MLLAHost,
                            MLLALinearAttention, PVTHost, SwinHost)
from mmagent.models.hosts.base import attention_plan, build_attention
from mmagent.registry import MODELS
from mmagent.testing.toy_data import make_folder_classification


@MODELS.register_module(force=True)
class ToyGateAttention(nn.Module):
    """A user's attention: every token gated by the map's mean token."""

    def __init__(self, embed_dims, hidden=8):
        super().__init__()
        self.gate = nn.Sequential(
            nn.Linear(embed_dims, hidden), nn.GELU(), nn.Linear(hidden, embed_dims))
        self.value = nn.Linear(embed_dims, embed_dims)

    def forward(self, x, hw_shape):
        assert x.shape[1] == hw_shape[0] * hw_shape[1]
        return self.value(x) * torch.sigmoid(self.gate(x.mean(1, keepdim=True)))


@pytest.fixture(scope='module')
def toy_batch(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('toy_cls'))
    info = make_folder_classification(root, num_train=2, num_val=1, size=(64, 64))
    images, labels = [], []
    for label, name in enumerate(info['classes']):
        for i in range(2):
            img = cv2.imread(f'{root}/train/{name}/{i:04d}.png')
            images.append(torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1))
            labels.append(label)
    x = torch.stack(images).float() / 255.
    return (x - 0.5) / 0.25, torch.tensor(labels)


SMALL_SWIN = dict(embed_dims=16, depths=[1, 1, 2, 1], num_heads=[1, 2, 2, 4],
                  window_size=4, drop_path_rate=0.)
FOCUSED = dict(type='mmagent.FocusedLinearAttention')
COMBINATIONS = {
    'swin_focused_in_stages_1_2':
    (SwinHost,
     dict(SMALL_SWIN, attn=dict(L=FOCUSED, S=dict(type='mmagent.SwinWindowAttention')),
          attn_type='LLSS'), FocusedLinearAttention),
    'pvt_with_mlla_linear':
    (PVTHost,
     dict(embed_dims=[16, 32, 48, 64], depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
          mlp_ratios=[2] * 4, attn=dict(type='mmagent.MLLALinearAttention'),
          drop_path_rate=0.), MLLALinearAttention),
    'cswin_user_attention_then_stripes':
    (CSWinHost,
     dict(
         embed_dims=16, depths=[1, 1, 1, 1], num_heads=[2, 2, 4, 4],
         split_size=(1, 2, 2, 2), attn=dict(
             U=dict(type='ToyGateAttention'),
             S=dict(type='mmagent.CSWinStripeAttention')), attn_type='UUSS',
         drop_path_rate=0.), ToyGateAttention),
    'mlla_host_with_agent_attention':
    (MLLAHost,
     dict(embed_dims=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4],
          attn=[dict(type='mmagent.AgentAttention', agent_num=4)] * 4,
          drop_path_rate=0.), AgentAttention),
}


@pytest.mark.parametrize('name', list(COMBINATIONS))
def test_any_attention_in_any_host_trains_on_toy_data(name, toy_batch):
    host, kwargs, plugged = COMBINATIONS[name]
    torch.manual_seed(0)
    backbone = MODELS.build(
        dict(type=f'mmagent.{host.__name__}', out_indices=(3, ), **kwargs))
    assert any(isinstance(m, plugged) for m in backbone.modules())
    head = nn.Linear(backbone.embed_dims[-1], 3)
    params = list(backbone.parameters()) + list(head.parameters())
    optim = torch.optim.AdamW(params, lr=1e-3)
    x, y = toy_batch
    watched = next(m for m in backbone.modules() if isinstance(m, plugged))
    before = [p.detach().clone() for p in watched.parameters()]
    losses = []
    for _ in range(8):
        logits = head(backbone.train()(x)[0].mean((2, 3)))
        loss = nn.functional.cross_entropy(logits, y)
        optim.zero_grad()
        loss.backward()
        optim.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert any(not torch.equal(a, b) for a, b in zip(before, watched.parameters()))
    with torch.no_grad():  # and it runs at another size in eval
        out = backbone.eval()(torch.randn(1, 3, 75, 93))[0]
    assert out.shape[1] == backbone.embed_dims[-1] and torch.isfinite(out).all()


def test_host_offers_its_keywords_and_the_config_wins():
    swin = SwinHost(**SMALL_SWIN, attn=dict(type='mmagent.SwinWindowAttention'))
    blocks = swin.layers[2].blocks
    assert [b.attn.shift_size for b in blocks] == [0, 2]  # shift on every second block
    assert blocks[0].attn.window_size == 4
    agent = build_attention(
        dict(type='mmagent.AgentAttention', agent_num=4), embed_dims=16, num_heads=2,
        pretrain_hw=(6, 6), window_size=7, qkv_layout='q_kv')
    assert agent.pretrain_hw == (6, 6) and agent.agent_num == 4 and hasattr(agent, 'kv')
    own = build_attention(
        dict(type='ToyGateAttention', hidden=3), embed_dims=16, num_heads=2,
        pretrain_hw=(6, 6))
    assert own.gate[0].out_features == 3


@pytest.mark.parametrize('attn,attn_type,match', [
    (dict(A=FOCUSED, B=FOCUSED), None, 'attn_type must say'),
    (FOCUSED, 'AAAA', 'needs attn to be a letter map'),
    (dict(a=FOCUSED), 'aaaa', 'single capital letters'),
    (dict(A=FOCUSED, B=FOCUSED), 'AAAC', 'attn_type'),
    (dict(A=[FOCUSED] * 3, B=FOCUSED), 'AAAB', 'one per stage'),
    ([FOCUSED] * 2, None, 'one per stage'),
])
def test_bad_attention_configs_are_named(attn, attn_type, match):
    with pytest.raises(ValueError, match=match):
        attention_plan(attn, attn_type, [1, 1, 1, 1])


def test_unregistered_attention_is_named():
    with pytest.raises(KeyError, match='NoSuchAttention'):
        SwinHost(**SMALL_SWIN, attn=dict(type='NoSuchAttention'))


def test_readme_example_swin_with_focused_agent_and_windows():
    m = MODELS.build(
        dict(
            type='mmagent.SwinHost', arch='tiny', depths=[1, 1, 2, 1], attn=dict(
                L=dict(type='mmagent.FocusedLinearAttention', focusing_factor=3),
                A=dict(type='mmagent.AgentAttention', agent_num=16),
                S=dict(type='mmagent.SwinWindowAttention')), attn_type='LLAS'))
    kinds = [type(stage.blocks[0].attn) for stage in m.layers]
    assert kinds == [
        FocusedLinearAttention, FocusedLinearAttention, AgentAttention,
        MODELS.get('mmagent.SwinWindowAttention')
    ]
    assert m.layers[2].blocks[0].attn.pretrain_hw == (14, 14)
    with torch.no_grad():
        outs = m.eval()(torch.randn(1, 3, 96, 80))
    assert [o.shape[1] for o in outs] == [96, 192, 384, 768]


def test_no_function_in_models_is_longer_than_60_lines():
    """The hosts-and-attentions redesign keeps each function short enough to read: a
    constructor that grows past 60 lines should hand a stage or a check to a helper."""
    root = osp.join(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'mmagent', 'models')
    long = []
    for path in sorted(glob.glob(osp.join(root, '**', '*.py'), recursive=True)):
        with open(path) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > 60:
                    long.append(f'{osp.relpath(path, root)}:{node.lineno} {node.name} '
                                f'({lines} lines)')
    assert not long, long
