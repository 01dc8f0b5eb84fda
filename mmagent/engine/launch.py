"""What ``tools/train.py`` and ``tools/test.py`` do, for mmdet, mmseg and mmpretrain
configs alike: pick the codebase from the config's ``default_scope``, apply the
familiar command-line options, check the dataset is there, set up distributed runs
(also on CPU), build the Runner."""
import importlib
import os
import os.path as osp

import torch
import torch.distributed as dist
from mmengine.config import Config, ConfigDict

#: the configs' default_scope -> the package that runs them
CODEBASES = {'mmdet': 'mmdet', 'mmseg': 'mmseg', 'mmpretrain': 'mmpretrain'}

DATA_HINTS = {
    'CocoDataset':
    'COCO 2017 from https://cocodataset.org/#download, unpacked so that '
    'data_root holds annotations/, train2017/ and val2017/',
    'ADE20KDataset':
    'ADE20K (ADEChallengeData2016.zip) from '
    'http://sceneparsing.csail.mit.edu/, unpacked so that data_root '
    'holds images/ and annotations/',
    'ImageNet':
    'ImageNet-1k from https://image-net.org/, laid out as mmpretrain '
    'expects (train/, val/, meta/)',
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset the run needs is not where the config says."""


class ConfigNotFoundError(FileNotFoundError):
    """The config file given to a tool does not exist."""


def user_errors():
    """The errors a tool reports in one line (no traceback): what the user can fix -
    a missing config, dataset or checkpoint, a checkpoint that is damaged, unsafe or of
    another model, an unusable cache, a failed download, a bad ``mmagent://`` name."""
    from mmagent import zoo
    from mmagent.models.checkpoint import WrongWeightsError
    return (ConfigNotFoundError, DatasetNotFoundError, zoo.DownloadError,
            zoo.CheckpointFileError, zoo.UnsafeCheckpointError, zoo.ZooURLError,
            WrongWeightsError)


def run_reporting_errors(main, argv=None):
    """``main(argv)`` with :func:`user_errors` printed as one ``mmagent:`` line on
    stderr and exit status 2."""
    import sys
    errors = user_errors()
    try:
        return main(argv)
    except errors as e:
        print(f'mmagent: {e}', file=sys.stderr)
        return 2


def check_checkpoint(checkpoint):
    """Check a checkpoint before any work starts (raises one of :func:`user_errors`).

    ``mmagent://NAME``: the name and options; a local file: that it exists, is whole,
    loads with ``weights_only=True`` and holds finite weights. Other URLs are checked
    when they are loaded.
    """
    from mmagent import zoo
    from mmagent.models.checkpoint import check_finite, unwrap_state_dict
    if checkpoint.startswith(zoo.SCHEME):
        zoo.parse_zoo_url(checkpoint)
        return
    if '://' in checkpoint:
        return
    ckpt = zoo.read_checkpoint(checkpoint)
    check_finite(unwrap_state_dict(ckpt, checkpoint), checkpoint)


def add_common_args(parser):
    """The options tools/train.py and tools/test.py share."""
    from mmengine.config import DictAction
    parser.add_argument('--work-dir', help='where logs, metrics and checkpoints go')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config entries, e.g. train_cfg.max_epochs=1')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser


def parse_tool_args(parser, argv=None):
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_config(path, cfg_options=None):
    if not osp.isfile(path):
        raise ConfigNotFoundError(f'config file not found: {path}; give the path of an '
                                  f'mmagent config (configs/*.py)')
    cfg = Config.fromfile(path)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def codebase_of(cfg):
    """Import the codebase the config belongs to and return its scope name."""
    scope = cfg.get('default_scope')
    if scope not in CODEBASES:
        raise ValueError(
            f'{cfg.filename}: default_scope is {scope!r}; mmagent\'s tools run configs '
            f'of {", ".join(sorted(CODEBASES))} (inherit from one of their base configs)')
    package = CODEBASES[scope]
    try:
        importlib.import_module(f'{package}.utils').register_all_modules(
            init_default_scope=False)
    except ImportError as e:
        raise ImportError(
            f'{cfg.filename} is a {package} config, but {package} cannot be imported: '
            f'{e}. (mmpretrain 1.2 imports torchvision at import time: install the '
            f'torchvision build that matches your torch.)') from e
    importlib.import_module('mmagent')
    return scope


def _datasets(cfg_dataset):
    """Leaf dataset configs of a (possibly wrapped) dataset config."""
    if not isinstance(cfg_dataset, dict):
        return []
    if 'dataset' in cfg_dataset:
        return _datasets(cfg_dataset['dataset'])
    if 'datasets' in cfg_dataset:
        return [d for sub in cfg_dataset['datasets'] for d in _datasets(sub)]
    return [cfg_dataset]


def check_datasets(cfg, splits):
    """Raise :class:`DatasetNotFoundError` naming the first missing path, the
    ``data_root`` it was read from and how to get the data."""
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not loader:
            continue
        for ds in _datasets(loader.get('dataset')):
            root = ds.get('data_root') or ''
            wanted = []
            if root:
                wanted.append(root)
            if ds.get('ann_file'):
                wanted.append(osp.join(root, ds['ann_file']))
            prefix = ds.get('data_prefix') or {}
            if isinstance(prefix, dict):
                wanted += [osp.join(root, v) for v in prefix.values() if v]
            for path in wanted:
                if not osp.exists(path):
                    hint = DATA_HINTS.get(ds.get('type'), 'the dataset the config names')
                    raise DatasetNotFoundError(
                        f'the {split} data of {osp.basename(cfg.filename)} is missing.\n'
                        f'  looked for: {path}\n'
                        f'  data_root:  {root!r} (dataset type {ds.get("type")})\n'
                        f'  get it:     {hint}\n'
                        f'  or point the config at your copy: --cfg-options '
                        f'{split}_dataloader.dataset.data_root=/path/to/data/\n'
                        f'  no data at hand? `make demo` trains on a synthetic dataset.')


def _replace_syncbn(node):
    """SyncBN needs CUDA: on CPU use BN (what MMEngine does itself when not
    distributed)."""
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
        for v in node.values():
            _replace_syncbn(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _replace_syncbn(v)


def setup_distributed(cfg, launcher):
    """Distributed setup beyond MMEngine's: on machines without CUDA, MMEngine's
    ``pytorch`` launcher calls ``torch.cuda.set_device``; here the process group is
    started with gloo from torchrun's environment instead, and the model is wrapped by
    the stock ``MMDistributedDataParallel`` without device ids. With CUDA, MMEngine's
    own path (NCCL) runs untouched."""
    cfg.launcher = launcher
    if launcher == 'none' or torch.cuda.is_available():
        return
    if launcher != 'pytorch':
        raise RuntimeError(f'--launcher {launcher} needs CUDA; on CPU use --launcher '
                           f'pytorch under torchrun (gloo backend)')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    _replace_syncbn(cfg._cfg_dict)
    wrapper = cfg.get('model_wrapper_cfg') or ConfigDict(
        type='MMDistributedDataParallel', broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None  # CPU modules: DDP takes no device ids
    cfg.model_wrapper_cfg = wrapper
    cfg.env_cfg = cfg.get('env_cfg', ConfigDict())
    cfg.env_cfg.setdefault('dist_cfg', ConfigDict())['backend'] = 'gloo'


def apply_common_options(cfg, config_path, work_dir=None, amp=False, resume=None):
    if work_dir:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(config_path))[0])
    if amp:
        if not torch.cuda.is_available():
            raise RuntimeError('--amp needs a GPU: MMEngine\'s AmpOptimWrapper does not '
                               'run on CPU')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume:
        cfg.resume = True
        cfg.load_from = resume


def build_runner(cfg):
    """The config's runner. MMEngine's ``compile`` option (True, or a dict of
    ``torch.compile`` arguments with an optional ``target``, as MMEngine's
    ``FlexibleRunner`` takes it) compiles the model's ``forward`` here, for training
    and testing alike: MMEngine's ``Runner`` would compile the whole ``train_step``,
    whose optimizer step dynamo fails to trace on torch 2.14."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner
    options = cfg.pop('compile', None)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    if options:
        compile_model(runner.model, options)
        runner.logger.info(f'mmagent: the model\'s forward is compiled with '
                           f'torch.compile ({options}); the first steps are slow')
    return runner


def compile_model(model, options=True):
    """Compile ``options['target']`` (default ``'forward'``) of ``model`` (unwrapped
    from a distributed wrapper) with ``torch.compile(**options)``; ``options`` True
    takes the defaults. Returns the module that was changed."""
    from mmengine.model import is_model_wrapper
    options = {} if options is True else dict(options)
    target = options.pop('target', 'forward')
    module = model.module if is_model_wrapper(model) else model
    setattr(module, target, torch.compile(getattr(module, target), **options))
    return module


def read_metrics(work_dir):
    """Every scalar MMEngine logged under ``work_dir`` (training's
    ``vis_data/scalars.json`` and test runs' ``<timestamp>.json``), merged oldest
    first, so a key holds its latest value."""
    import glob
    import json
    logs = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')) + \
        glob.glob(osp.join(work_dir, '*', '*.json'))
    metrics = {}
    for log in sorted(logs, key=osp.getmtime):
        with open(log) as f:
            for line in f:
                if line.strip():
                    metrics.update(json.loads(line))
    return metrics
