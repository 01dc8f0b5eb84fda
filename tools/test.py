"""Evaluate a checkpoint with an mmdet / mmseg / mmpretrain config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE_OR_DIR]
        [--show-dir DIR] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    from mmagent.engine import add_common_args, parse_tool_args
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file, URL or mmagent:// name')
    parser.add_argument(
        '--out', help='detection: a .pkl of raw results; '
        'segmentation: a folder of predicted label maps; '
        'classification: a .pkl of predictions')
    parser.add_argument('--show-dir', help='write pictures of the predictions here')
    return parse_tool_args(add_common_args(parser), argv)


def enable_visualisation(cfg, scope, show_dir):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise RuntimeError(f'{cfg.filename} has no visualization hook for --show-dir')
    hook['draw'] = True
    hook['interval'] = 1  # every test image, not every 50th
    if scope == 'mmdet':
        hook['test_out_dir'] = osp.abspath(show_dir)
    else:  # mmseg and mmpretrain save through the visualizer's save_dir
        cfg.visualizer['save_dir'] = osp.abspath(show_dir)
        if scope == 'mmpretrain':
            hook['enable'] = True
            hook['out_dir'] = osp.abspath(show_dir)


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
    scope = codebase_of(cfg)
    apply_common_options(cfg, args.config, args.work_dir)
    cfg.load_from = args.checkpoint
    check_datasets(cfg, ['test'])
    check_checkpoint(args.checkpoint)  # before the runner is built
    if args.show_dir:
        enable_visualisation(cfg, scope, args.show_dir)
    if args.out and scope == 'mmseg':
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    setup_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    if args.out and scope != 'mmseg':
        if scope == 'mmdet':
            from mmdet.evaluation import DumpDetResults as Dump
        else:
            from mmengine.evaluator import DumpResults as Dump
        runner.test_evaluator.metrics.append(Dump(out_file_path=args.out))
    runner.test()
    return 0


if __name__ == '__main__':
    sys.exit(main())
