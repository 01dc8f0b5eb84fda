"""Train a detector, segmentor or classifier from an mmdet / mmseg / mmpretrain config.

    python tools/train.py configs/maskrcnn_agent_pvt_t.py [--work-dir DIR]
        [--cfg-options k=v ...] [--resume [CKPT]] [--amp]
        [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmagent.engine import add_common_args, parse_tool_args
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from CKPT, or from the latest checkpoint in the '
        'work dir when no CKPT is given')
    parser.add_argument('--amp', action='store_true', help='mixed precision (GPU)')
    return parse_tool_args(add_common_args(parser), argv)


def main(argv=None):
    """Exit status 0, or 2 with one ``mmagent:`` line for what the user can fix (a
    missing config, dataset or checkpoint, a damaged or unsafe checkpoint)."""
    from mmagent.engine import run_reporting_errors
    return run_reporting_errors(_main, argv)


def _main(argv=None):
    args = parse_args(argv)
    from mmagent.engine import (apply_common_options, build_runner, check_checkpoint,
                                check_datasets, codebase_of, load_config,
                                setup_distributed)
    cfg = load_config(args.config, args.cfg_options)
    codebase_of(cfg)
    apply_common_options(cfg, args.config, args.work_dir, args.amp, args.resume)
    splits = ['train'] + (['val'] if cfg.get('val_cfg') else [])
    check_datasets(cfg, splits)
    if cfg.get('load_from'):  # --resume CKPT or the config's load_from
        check_checkpoint(cfg.load_from)
    setup_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    runner.train()
    return 0


if __name__ == '__main__':
    sys.exit(main())
