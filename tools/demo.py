"""Run a detector / segmentor / classifier on an image and save the picture.

    python tools/demo.py IMAGE CONFIG --weights NAME_OR_FILE [--out-dir outputs]

NAME_OR_FILE is a checkpoint file, a URL, or a zoo name (fetched and converted).
A classifier also prints its top classes with their scores (``--topk``).
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def resolve_weights(weights):
    if osp.isfile(weights) or '://' in weights:
        return weights
    from mmagent import zoo
    try:
        zoo.get_entry(weights)
    except KeyError:
        raise FileNotFoundError(f'--weights {weights!r} is neither a file nor a zoo '
                                f'name (python tools/download.py --list)') from None
    return zoo.fetch(weights)


def top_classes(scores, classes, k=5):
    """[(rank, class name, score)] of the ``k`` highest scores."""
    import numpy as np
    scores = np.asarray(scores)
    order = np.argsort(-scores, kind='stable')[:k]
    names = list(classes) if classes else [str(i) for i in range(len(scores))]
    return [(r + 1, names[i], float(scores[i])) for r, i in enumerate(order)]


def run(image, config, weights, out_dir='outputs', device='cpu', score_thr=0.3, topk=5):
    """Run the codebase's inferencer; return (written picture paths, top classes or
    None)."""
    from mmagent.engine import codebase_of, load_config
    if not osp.isfile(image):
        raise FileNotFoundError(f'IMAGE not found: {image}')
    cfg = load_config(config)
    scope = codebase_of(cfg)
    weights = resolve_weights(weights)
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer as Inferencer
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer as Inferencer
    else:
        from mmpretrain.apis import ImageClassificationInferencer as Inferencer
    top = None
    if scope == 'mmpretrain':
        inferencer = Inferencer(model=cfg, pretrained=weights, device=device)
        os.makedirs(osp.join(out_dir, 'vis'), exist_ok=True)  # it writes, not creates
        (result, ) = inferencer(image, show_dir=osp.join(out_dir, 'vis'))
        top = top_classes(result['pred_scores'], inferencer.classes, topk)
    else:
        inferencer = Inferencer(model=cfg, weights=weights, device=device)
        extra = dict(pred_score_thr=score_thr) if scope == 'mmdet' else {}
        inferencer(image, out_dir=out_dir, **extra)
    vis = osp.join(out_dir, 'vis')
    name = osp.basename(image)
    written = [
        osp.join(vis, f) for f in sorted(os.listdir(vis))
        if osp.splitext(f)[0] == osp.splitext(name)[0]
    ] if osp.isdir(vis) else []
    return written, top


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('image')
    parser.add_argument('config')
    parser.add_argument('--weights', required=True, help='file, URL or zoo name')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detection: draw boxes scoring at least this')
    parser.add_argument('--topk', type=int, default=5,
                        help='classification: print this many top classes')
    args = parser.parse_args(argv)
    try:
        written, top = run(args.image, args.config, args.weights, args.out_dir,
                           args.device, args.score_thr, args.topk)
    except FileNotFoundError as e:
        print(f'mmagent: {e}', file=sys.stderr)
        return 1
    if top is not None:
        print(f'top-{len(top)} classes for {args.image}:')
        for rank, name, score in top:
            print(f'  {rank}. {name:<24s} {score:.4f}')
    for path in written:
        print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
