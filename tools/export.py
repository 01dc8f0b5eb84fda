"""Export a config's model to ONNX and check it in ONNX Runtime beside PyTorch.

    python tools/export.py CONFIG [CHECKPOINT | mmagent://NAME] --out FILE.onnx \
        [--shape H W] [--check-shape H W ...] [--atol 1e-4] [--repeat 3] \
        [--cfg-options k=v ...]

What is exported is what the model's ``tensor`` mode computes from the preprocessed
image (the data preprocessor stays outside the graph; its mean and std are printed):
classifier logits, the segmentor's per-pixel logits, the detector's backbone + neck
features. Height and width are dynamic. The file is then run in ONNX Runtime beside
PyTorch on random images at the export size and at ``--check-shape`` (default: one other,
non-square size); the tool prints the max difference and the time of each, and exits
with status 1 if any difference passes ``--atol``. Without a checkpoint the weights are
random (enough to check the graph). Needs the deploy extra: ``pip install
'mmagent[deploy]'``.
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file (classifier, segmentor or detector)')
    parser.add_argument(
        'checkpoint', nargs='?',
        help='checkpoint file, URL or mmagent:// name (default: random '
        'weights)')
    parser.add_argument('--out', required=True, help='the .onnx file to write')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='export size (default: the size the config tests at)')
    parser.add_argument(
        '--check-shape', type=int, nargs=2, metavar=('H', 'W'), action='append',
        help='another size to check (repeatable; '
        'default: one non-square size)')
    parser.add_argument('--atol', type=float, default=1e-4,
                        help='largest allowed max abs difference (default 1e-4)')
    parser.add_argument('--repeat', type=int, default=1,
                        help='timed calls per size and runtime (default 1)')
    parser.add_argument('--opset', type=int, default=18, help='ONNX opset (default 18)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config entries, e.g. model.backbone.depths=[1,1,1,1]')
    args = parser.parse_args(argv)
    if not args.out.endswith('.onnx'):
        parser.error(f'--out must name a .onnx file, got {args.out!r}')
    for name, shape in [('--shape', args.shape)] + [('--check-shape', s)
                                                    for s in args.check_shape or []]:
        if shape is not None and min(shape) < 32:
            parser.error(
                f'{name} must be at least 32x32 pixels, got {shape[0]}x{shape[1]}')
    if args.atol <= 0:
        parser.error(f'--atol must be > 0, got {args.atol}')
    return args


def default_shape(cfg, scope):
    """The size the config's models are usually run at: 224 for classifiers (the crop
    of mmpretrain's test pipeline when it has one), 512 for segmentors, 800x1344 for
    detectors."""
    if scope == 'mmpretrain':
        for step in cfg.get('test_pipeline', None) or []:
            crop = step.get('crop_size')
            if crop:
                return (crop, crop) if isinstance(crop, int) else tuple(crop)[::-1]
        return 224, 224
    if scope == 'mmseg':
        crop = cfg.get('crop_size')
        return tuple(crop) if crop else (512, 512)
    return 800, 1344


def other_shape(shape):
    """A non-square size larger than ``shape``, not a multiple of 32 (the padding
    paths); larger, since the Swin classifiers' files serve sizes from one window at
    stage 4 up (193 px at window 7)."""
    h, w = shape
    return int(h * 1.25) + 13, int(w * 1.5) + 7


def build_model(cfg, checkpoint):
    from mmengine.registry import DefaultScope
    from mmengine.runner import load_checkpoint

    from mmagent.registry import MODELS
    scope = cfg.get('default_scope')
    model_cfg = cfg.model
    if cfg.get('data_preprocessor') is not None:  # as MMEngine's Runner does
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
        if checkpoint:
            load_checkpoint(model, checkpoint, map_location='cpu')
        elif hasattr(model, 'init_weights'):
            cfg_init = getattr(model, 'init_cfg', None)
            if not (isinstance(cfg_init, dict) and cfg_init.get('type') == 'Pretrained'):
                model.init_weights()
    return model.eval()


def window_rule_limit(model):
    """The smallest input size (pixels) whose last-stage map is at least one window,
    for a model with window attention that shrinks its window on smaller maps (the
    Swin classifiers); else None. One exported file serves sizes from there up."""
    from mmagent.models.layers.window_attention import SwinWindowAttention
    sizes = [
        m.window_size for m in model.modules()
        if isinstance(m, SwinWindowAttention) and not m.pad_small_map
    ]
    return 32 * (max(sizes) - 1) + 1 if sizes else None


def _strip_pretrained(node):
    """Random weights: drop ``init_cfg=Pretrained`` anywhere in the model config."""
    if isinstance(node, dict):
        init = node.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            node['init_cfg'] = None
        for v in node.values():
            _strip_pretrained(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _strip_pretrained(v)


def main(argv=None):
    """Exit status 0 when ONNX Runtime matches PyTorch, 1 when it differs, 2 with one
    ``mmagent:`` line for what the user can fix."""
    from mmagent.engine import run_reporting_errors
    return run_reporting_errors(_main, argv)


def _main(argv=None):
    args = parse_args(argv)
    import torch

    from mmagent import deploy
    from mmagent.deploy import OnnxMismatchError, check_onnx
    from mmagent.engine import check_checkpoint, codebase_of, load_config
    cfg = load_config(args.config, args.cfg_options)
    scope = codebase_of(cfg)
    if args.checkpoint:
        check_checkpoint(args.checkpoint)
    else:
        _strip_pretrained(cfg.model)
    torch.manual_seed(0)
    model = build_model(cfg, args.checkpoint)
    module = deploy.deploy_module(model)
    shape = tuple(args.shape) if args.shape else default_shape(cfg, scope)
    checks = [tuple(s)
              for s in args.check_shape] if args.check_shape else [other_shape(shape)]
    pre = deploy.preprocess_settings(model)
    print(f'model: {type(model).__name__} ({module.kind}), exporting at '
          f'{shape[0]}x{shape[1]} with dynamic height and width')
    if pre:
        print(f'preprocess outside the graph: mean={pre["mean"]} std={pre["std"]} '
              f'bgr_to_rgb={pre["bgr_to_rgb"]}')
    out_dir = osp.dirname(osp.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)
    program = deploy.export_onnx(module, args.out, shape=shape, opset=args.opset)
    sizes = deploy.valid_sizes(program)
    print(f'wrote {args.out}; valid input sizes: ' +
          ', '.join(f'{k} {lo}..{hi or "any"}' for k, (lo, hi) in sizes.items()))
    small = window_rule_limit(model)
    if small:
        print(f'note: this model shrinks its window on maps smaller than one window '
              f'(pad_small_map=False), which one graph cannot do: the file serves '
              f'inputs of at least {small}x{small} pixels')
    reports = []
    for check in [shape] + checks:
        try:
            r = check_onnx(args.out, module, [check], atol=args.atol, repeat=args.repeat,
                           strict=False)[0]
        except OnnxMismatchError as e:
            print(f'{check[0]}x{check[1]}: FAIL, {e}')
            reports.append(dict(shape=check, ok=False))
            continue
        reports.append(r)
        print(f'{check[0]}x{check[1]}: max abs diff {r["max_diff"]:.3g} '
              f'({"ok" if r["ok"] else "FAIL"}, tolerance {args.atol:g}); '
              f'pytorch {r["torch_s"]:.3f} s, onnxruntime {r["onnx_s"]:.3f} s')
    bad = [r for r in reports if not r['ok']]
    if bad:
        print(
            f'mmagent: ONNX Runtime differs from PyTorch by more than {args.atol:g} at ' +
            ', '.join(f'{r["shape"][0]}x{r["shape"][1]}' for r in bad), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
