"""Parameters and FLOPs of a config (or a bare backbone) at a given input size.

    python tools/get_flops.py configs/maskrcnn_agent_pvt_t.py --shape 800 1280
    python tools/get_flops.py configs/upernet_agent_swin_t.py --shape 512 2048

Uses MMEngine's FlopAnalyzer (one multiply-add = one FLOP, as OpenMMLab reports) plus a
counter for the fused attention kernel agent attention runs on, which the stock
counters skip. Detectors are counted in tensor mode (backbone, neck, RPN and RoI heads
on the proposals, mask heads on the first 100 RoIs as the published figures); segmentors
through the decode head, as mmdet/mmseg's own get_flops.
"""
import argparse
import os.path as osp
import sys
from functools import partial

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def _mask_rois_as_published(model, num=100):
    import torch
    """Count mask heads on the first 100 RoIs, as mmdet 2's ``forward_dummy`` (which
    the published figures used) and mmdet 3's ``StandardRoIHead`` do; mmdet 3's
    ``CascadeRoIHead`` tensor-mode forward runs every stage's mask head on all 1000
    proposals. Applied to this model instance only, for counting."""
    roi_head = getattr(model, 'roi_head', None)
    if roi_head is None or type(roi_head).__name__ != 'CascadeRoIHead':
        return
    mask_forward = roi_head._mask_forward

    def first_rois(stage, x, rois):
        results = mask_forward(stage, x, rois[:num])
        preds = results['mask_preds']  # pad back: only the count matters here
        results['mask_preds'] = torch.cat(
            [preds, preds.new_zeros((len(rois) - len(preds), ) + preds.shape[1:])])
        return results

    roi_head._mask_forward = first_rois


def analyse(config, height, width, backbone_only=False):
    """Returns dict(params, flops, attention_flops, by_module)."""
    import torch
    from mmengine.registry import DefaultScope

    from mmagent.analysis import dummy_inputs, flop_analyzer
    from mmagent.engine import codebase_of, load_config
    cfg = load_config(config)
    scope = codebase_of(cfg)
    cfg.model.backbone.init_cfg = None
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = registry.build(cfg.model).eval()
        inputs, samples = dummy_inputs(scope, height, width)
        _mask_rois_as_published(model)
        target = model.backbone if backbone_only else model
        if not backbone_only:  # tracing takes tensors only: bind the rest
            model.forward = partial(model.forward, data_samples=samples, mode='tensor')
        with torch.no_grad():
            analyzer = flop_analyzer(target, (inputs, ))
            total = analyzer.total()
            by_op = analyzer.by_operator()
            by_module = analyzer.by_module()
    params = sum(p.numel() for p in model.parameters())
    return dict(params=params, flops=total, by_operator=dict(by_op),
                attention_flops=by_op.get('scaled_dot_product_attention', 0), by_module={
                    k: v
                    for k, v in by_module.items() if k.count('.') <= 0
                })


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1280],
                        metavar=('H', 'W'), help='input height and width')
    parser.add_argument('--backbone-only', action='store_true')
    args = parser.parse_args(argv)
    r = analyse(args.config, *args.shape, backbone_only=args.backbone_only)
    h, w = args.shape
    print(f'config:  {args.config}\ninput:   {h}x{w}')
    print(f'params:  {r["params"] / 1e6:.2f}M')
    print(f'FLOPs:   {r["flops"] / 1e9:.1f}G (multiply-adds)')
    print(
        f'  of which fused attention (agent + window): {r["attention_flops"] / 1e9:.1f}G')
    for name, flops in sorted(r['by_module'].items()):
        if name and flops:
            print(f'  {name:20s} {flops / 1e9:8.1f}G')
    return 0


if __name__ == '__main__':
    sys.exit(main())
