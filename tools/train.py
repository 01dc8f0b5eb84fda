"""Train a detector, segmentor or classifier from an mmdet / mmseg / mmpretrain config.

    python tools/train.py configs/maskrcnn_agent_pvt_t.py [--work-dir DIR]
        [--cfg-options k=v ...] [--resume [CKPT]] [--amp]
        [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from CKPT, or from the latest checkpoint in the '
                        'work dir when no CKPT is given')
    parser.add_argument('--amp', action='store_true', help='mixed precision (GPU)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmagent.engine import (DatasetNotFoundError, apply_common_options,
                                build_runner, check_datasets, codebase_of, load_config,
                                setup_distributed)
    cfg = load_config(args.config, args.cfg_options)
    codebase_of(cfg)
    apply_common_options(cfg, args.config, args.work_dir, args.amp, args.resume)
    splits = ['train'] + (['val'] if cfg.get('val_cfg') else [])
    try:
        check_datasets(cfg, splits)
    except DatasetNotFoundError as e:
        print(f'mmagent: {e}', file=sys.stderr)
        return 2
    setup_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    runner.train()
    return 0


if __name__ == '__main__':
    sys.exit(main())
