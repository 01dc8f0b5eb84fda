"""The quick start (`make demo`): no dataset needed.

1. writes small synthetic datasets (seeded): COCO instances, an ADE20K-style set and
   class folders for mmpretrain's CustomDataset;
2. trains and evaluates Mask R-CNN + Agent-PVT-T, Semantic FPN + Agent-PVT-T and an
   Agent-PVT-T ImageNet-style classifier on them from random initialisation, with
   tools/train.py, tools/test.py and the zoo configs (overridden to the toy data by
   configs/toy/*.py), and prints mmdet's COCO bbox/segm mAP, mmseg's mIoU and
   mmpretrain's top-1;
3. runs tools/demo.py on validation images: boxes and masks, a segmentation, and the
   classifier's top classes with scores.

The console shows one progress line per step; every tool's full output goes to a log
file under --root (the summary lists them). Runs in a few minutes on 2 CPU cores.
"""
import argparse
import glob
import os
import os.path as osp
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmagent.engine import read_metrics  # noqa: E402

PROGRESS = re.compile(r'(Iter|Epoch)\((train|val|test)\)\s*(?:\[\s*(\d+)\])?\s*'
                      r'\[\s*(\d+)/(\d+)\]')


class Steps:
    """Runs tools quietly: output to a log file, a progress line on the console."""

    def __init__(self, log_dir, tty=None):
        self.log_dir = log_dir
        self.tty = sys.stdout.isatty() if tty is None else tty
        self.logs = []
        os.makedirs(log_dir, exist_ok=True)

    def run(self, label, *args, epochs=None):
        log = osp.join(self.log_dir,
                       f'{len(self.logs) + 1:02d}_{label.replace(" ", "_")}.log')
        self.logs.append(log)
        env = dict(os.environ,
                   PYTHONPATH=ROOT + os.pathsep + os.environ.get('PYTHONPATH', ''))
        start = time.time()
        with open(log, 'w') as f:
            f.write('+ ' + ' '.join(args) + '\n')
            f.flush()
            proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=f,
                                    stderr=subprocess.STDOUT)
            while proc.poll() is None:
                time.sleep(0.5)
                if self.tty:
                    self._show(label, log, start, epochs)
        status = 'done' if proc.returncode == 0 else f'FAILED (exit {proc.returncode})'
        line = f'  {label:<34s} {status:>6s} in {time.time() - start:5.1f}s'
        print(('\r' + line + ' ' * 20) if self.tty else line, flush=True)
        if proc.returncode != 0:
            with open(log) as f:
                tail = f.read()[-3000:]
            raise RuntimeError(f'{label} failed; the end of {log}:\n{tail}')
        return log

    @staticmethod
    def progress(text, epochs=None):
        """(done, total, phase) from the last MMEngine progress line in ``text``."""
        found = PROGRESS.findall(text)
        if not found:
            return None
        _, phase, epoch, i, n = found[-1]
        i, n = int(i), int(n)
        if epoch and epochs and phase == 'train':
            return (int(epoch) - 1) * n + i, epochs * n, phase
        return i, n, phase

    def _show(self, label, log, start, epochs):
        with open(log, errors='replace') as f:
            state = self.progress(f.read()[-20000:], epochs)
        bar = ''
        if state:
            done, total, phase = state
            filled = int(24 * min(done, total) / max(total, 1))
            bar = f'{phase:5s} [{"#" * filled}{"." * (24 - filled)}] {done}/{total}'
        sys.stdout.write(f'\r  {label:<34s} {bar}  {time.time() - start:5.0f}s')
        sys.stdout.flush()


def enlarge(folder, min_side=480):
    """Scale the pictures in ``folder`` up (nearest neighbour, whole factors) so that
    their short side is at least ``min_side``: the toy images are small."""
    import cv2
    for path in glob.glob(osp.join(folder, '**', '*.png'), recursive=True):
        img = cv2.imread(path)
        factor = -(-min_side // min(img.shape[:2]))
        if factor > 1:
            cv2.imwrite(
                path,
                cv2.resize(img, None, fx=factor, fy=factor,
                           interpolation=cv2.INTER_NEAREST))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--root', default='work_dirs/quickstart')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    root = osp.abspath(args.root)
    steps = Steps(osp.join(root, 'logs'))
    data = {k: osp.join(root, f'toy_{k}') for k in ('coco', 'ade', 'cls')}
    print(f'mmagent quick start: synthetic data, random initialisation, under {root}')
    for kind, path in data.items():
        steps.run(f'make {kind} toy data', 'tools/make_toy_data.py', kind, path, '--seed',
                  str(args.seed))

    runs = (('det', 'Mask R-CNN + Agent-PVT-T', 'configs/toy/maskrcnn_agent_pvt_t_toy.py',
             data['coco'], None),
            ('seg', 'Semantic FPN + Agent-PVT-T', 'configs/toy/fpn_agent_pvt_t_toy.py',
             data['ade'], None), ('cls', 'Agent-PVT-T classifier',
                                  'configs/toy/agent_pvt_t_cls_toy.py', data['cls'], 20))
    results = {}
    for key, title, cfg, root_dir, epochs in runs:
        work = osp.join(root, key)
        opts = [
            f'{split}_dataloader.dataset.data_root={root_dir}/'
            for split in ('train', 'val', 'test')
        ]
        if key == 'det':
            ann = f'{root_dir}/annotations/instances_val.json'
            opts += [f'val_evaluator.ann_file={ann}', f'test_evaluator.ann_file={ann}']
        steps.run(f'train {title}', 'tools/train.py', cfg, '--work-dir', work,
                  '--cfg-options', *opts, f'randomness.seed={args.seed}', epochs=epochs)
        ckpt = sorted(glob.glob(osp.join(work, '*.pth')))[-1]
        test_opts = list(opts)
        show = []
        if key != 'cls':
            show = ['--show-dir', osp.join(work, 'test_vis')]
        if key == 'det':
            test_opts.append('default_hooks.visualization.score_thr=0.3')
        steps.run(f'test {title}', 'tools/test.py', cfg, ckpt, '--work-dir', work, *show,
                  '--cfg-options', *test_opts)
        results[key] = (cfg, ckpt, read_metrics(work))

    demo_dir = osp.join(root, 'demo')
    image = sorted(glob.glob(osp.join(data['coco'], 'val', '*.png')))[1]
    steps.run('demo: detect', 'tools/demo.py', image, results['det'][0], '--weights',
              results['det'][1], '--out-dir', demo_dir, '--score-thr', '0.3')
    cls_image = sorted(glob.glob(osp.join(data['cls'], 'val', 'square', '*.png')))[0]
    log = steps.run('demo: classify', 'tools/demo.py', cls_image, results['cls'][0],
                    '--weights', results['cls'][1], '--out-dir', demo_dir)
    with open(log) as f:
        top = [line.rstrip() for line in f if re.match(r'\s+\d\. ', line)]
    for folder in (osp.join(demo_dir, 'vis'), osp.join(root, 'det', 'test_vis'),
                   osp.join(root, 'seg', 'test_vis')):
        enlarge(folder)

    det, seg, cls = (results[k][2] for k in ('det', 'seg', 'cls'))
    nan = float('nan')
    print('\n=== quick start results (synthetic data, random initialisation) ===')
    print(f"Mask R-CNN + Agent-PVT-T:   bbox mAP {det.get('coco/bbox_mAP', nan):.3f}"
          f"   segm mAP {det.get('coco/segm_mAP', nan):.3f}")
    print(f"Semantic FPN + Agent-PVT-T: mIoU {seg.get('mIoU', nan):.2f}"
          f"   aAcc {seg.get('aAcc', nan):.2f}")
    print(f"Agent-PVT-T classifier:     top-1 {cls.get('accuracy/top1', nan):.2f} "
          f"(3 classes, chance 33.33)")
    print(f'classifier on {osp.relpath(cls_image, root)} (a square):')
    print('\n'.join(top))
    print(f'pictures: {demo_dir}/vis (detection, scores >= 0.3), '
          f'{root}/det/test_vis and {root}/seg/test_vis (ground truth | prediction)')
    print(f'full logs: {steps.log_dir}/')
    return 0


if __name__ == '__main__':
    sys.exit(main())
