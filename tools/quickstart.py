"""The quick start (`make demo`): no dataset needed.

1. writes a small synthetic COCO-instance set and an ADE20K-style set (seeded);
2. trains and evaluates Mask R-CNN + Agent-PVT-T and Semantic FPN + Agent-PVT-T on
   them with tools/train.py and tools/test.py and the zoo configs (overridden to the
   toy data by configs/toy/*.py), printing mmdet's COCO bbox/segm mAP and mmseg's mIoU;
3. draws the predictions on a validation image with tools/demo.py.

Runs in a few minutes on 2 CPU cores. Everything goes under --root (default
work_dirs/quickstart).
"""
import argparse
import glob
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmagent.engine import read_metrics  # noqa: E402


def sh(*args):
    print('+ ' + ' '.join(args), flush=True)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
    subprocess.run([sys.executable, *args], check=True, cwd=ROOT, env=env)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='work_dirs/quickstart')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    root = osp.abspath(args.root)
    coco, ade = osp.join(root, 'toy_coco'), osp.join(root, 'toy_ade')
    sh('tools/make_toy_data.py', 'coco', coco, '--seed', str(args.seed))
    sh('tools/make_toy_data.py', 'ade', ade, '--seed', str(args.seed))

    results = {}
    for key, cfg, data in (('det', 'configs/toy/maskrcnn_agent_pvt_t_toy.py', coco),
                           ('seg', 'configs/toy/fpn_agent_pvt_t_toy.py', ade)):
        work = osp.join(root, key)
        data_opts = [f'train_dataloader.dataset.data_root={data}/',
                     f'val_dataloader.dataset.data_root={data}/',
                     f'test_dataloader.dataset.data_root={data}/']
        if key == 'det':
            ann = f'{data}/annotations/instances_val.json'
            data_opts += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
        sh('tools/train.py', cfg, '--work-dir', work, '--cfg-options', *data_opts,
           f'randomness.seed={args.seed}')
        ckpt = sorted(glob.glob(osp.join(work, '*.pth')))[-1]
        vis_opts = ['default_hooks.visualization.score_thr=0.05'] if key == 'det' else []
        sh('tools/test.py', cfg, ckpt, '--work-dir', work,
           '--show-dir', osp.join(work, 'test_vis'), '--cfg-options', *data_opts,
           *vis_opts)
        results[key] = (cfg, ckpt, read_metrics(work))

    image = sorted(glob.glob(osp.join(coco, 'val', '*.png')))[0]
    # A few minutes of training from scratch: right boxes, modest scores; draw >= 0.05.
    sh('tools/demo.py', image, results['det'][0], '--weights', results['det'][1],
       '--out-dir', osp.join(root, 'demo'), '--score-thr', '0.05')

    det, seg = results['det'][2], results['seg'][2]
    print('\n=== quick start results (synthetic data, random initialisation) ===')
    print(f"Mask R-CNN + Agent-PVT-T:   bbox mAP {det.get('coco/bbox_mAP', float('nan')):.3f}"
          f"   segm mAP {det.get('coco/segm_mAP', float('nan')):.3f}")
    print(f"Semantic FPN + Agent-PVT-T: mIoU {seg.get('mIoU', float('nan')):.2f}"
          f"   aAcc {seg.get('aAcc', float('nan')):.2f}")
    print(f'pictures (boxes scoring >= 0.05): {osp.join(root, "demo", "vis")} and '
          f'{root}/*/test_vis')
    return 0


if __name__ == '__main__':
    sys.exit(main())
