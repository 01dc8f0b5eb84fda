"""Checkpoints in the layouts the authors published, built from a live model.

The published ImageNet weights were written by a timm-style trainer: the state dict
under ``model``, the backbone keys at top level, plus the classifier (``head.*``), the
final ``norm.*`` and, for Swin, derived buffers (``relative_position_index``,
``attn_mask``). Building such a file from a random model lets tests check that loading
maps every key without having the real (unreachable) files.
"""
import torch


def published_classification_state(backbone, num_classes=1000):
    """The state dict an authors' ImageNet checkpoint of ``backbone`` would hold."""
    state = {k: v.clone() for k, v in backbone.state_dict().items()}
    dims = backbone.embed_dims
    c = dims if isinstance(dims, int) else dims[-1]
    state.update(_window_buffers(backbone))
    outputs_norms = backbone.downstream_only_keys
    if outputs_norms:
        # Backbones with per-output norms (Swin layout, CSwin) were published as
        # classifiers with one final LayerNorm instead; Agent-PVT mean-pools straight
        # away, and Agent-DeiT's and PVTv2's norms are their own published keys.
        for k in [k for k in state if k.split('.')[0] in outputs_norms]:
            del state[k]
        state['norm.weight'] = torch.ones(c)
        state['norm.bias'] = torch.zeros(c)
    state['head.weight'] = torch.randn(num_classes, c) * 0.02
    state['head.bias'] = torch.zeros(num_classes)
    return state


def _window_buffers(model, prefix=''):
    """The derived buffers the authors' modules saved in state dicts: Swin's
    relative-position index, and MLLA's RoPE table at the 224 px pretraining maps
    (56, 28, 14, 7), shaped (H, W, C/2, 2)."""
    from mmagent.models.backbones.mlla import LinearAttention
    out = {}
    for name, module in model.named_modules():
        index = getattr(module, 'relative_position_index', None)
        if index is not None:
            out[f'{prefix}{name}.relative_position_index'] = index.clone()
        if isinstance(module, LinearAttention):
            stage = int(name.split('layers.')[1].split('.')[0])
            side, c = 56 >> stage, module.qk.weight.shape[1]
            out[f'{prefix}{name}.rope.rotations'] = torch.randn(side, side, c // 2, 2)
    return out


def published_downstream_checkpoint(model, layout, num_classes=80, half=False):
    """A checkpoint as mmdetection 2.x (``'mmdet2'``) or mmsegmentation 0.x
    (``'mmseg0'``) saved it for ``model`` (a detector / segmentor built from a zoo
    config): ``meta`` with ``CLASSES`` (and ``PALETTE``), ``state_dict`` including the
    Swin index buffers, and the optimizer state.

    ``half=True`` stores floating tensors in fp16 to keep test files small.
    """
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state.update(_window_buffers(model))
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    classes = tuple(f'class_{i}' for i in range(num_classes))
    meta = dict(env_info='sys.platform: linux\nPyTorch: 1.12.1', seed=0,
                exp_name='published.py', config='model = dict(...)', epoch=12,
                iter=88000, mmcv_version='1.6.0', time='Mon Oct 30 12:00:00 2023',
                CLASSES=classes, hook_msgs=dict(last_ckpt='work_dirs/latest.pth'))
    if layout == 'mmdet2':
        meta['mmdet_version'] = '2.25.0'
    elif layout == 'mmseg0':
        meta['mmseg_version'] = '0.30.0'
        meta['PALETTE'] = [[i % 256, (3 * i) % 256, (7 * i) % 256]
                           for i in range(num_classes)]
    else:
        raise ValueError(f'layout must be mmdet2 or mmseg0, got {layout!r}')
    first = next(iter(state))
    optimizer = dict(state={0: dict(step=torch.tensor(88000.),
                                    exp_avg=torch.zeros_like(state[first]))},
                     param_groups=[dict(lr=1e-6, weight_decay=0.05, params=[0])])
    return dict(meta=meta, state_dict=state, optimizer=optimizer)
