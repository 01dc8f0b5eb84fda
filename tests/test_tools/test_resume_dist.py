"""Resume on today's torch, 2-process gloo training, stock mmdet entry point."""
import os
import os.path as osp
import socket
import subprocess
import sys
import textwrap

import torch

from mmagent.testing.toy_configs import TOY_OPTIONS, write_toy_config
from tests.conftest import ROOT
from tests.test_tools.conftest import config_path, run_tool


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_resume_continues_from_saved_iteration_and_optimizer(tmp_path, toy_coco):
    cfg = write_toy_config(
        config_path('maskrcnn_agent_pvt_t.py'), 'det', toy_coco, str(tmp_path / 'cfg.py'),
        epochs=1)
    work = str(tmp_path / 'work')
    opts = ['--cfg-options', 'train_cfg.val_begin=100', *TOY_OPTIONS['maskrcnn']]
    run_tool('tools/train.py', cfg, '--work-dir', work, *opts)
    first = torch.load(osp.join(work, 'epoch_1.pth'), weights_only=True)
    iters_per_epoch = first['meta']['iter']
    assert first['meta']['epoch'] == 1 and iters_per_epoch == 2  # 4 images, batch 2
    # "Interrupted" after epoch 1: resume to 3 epochs from the latest checkpoint.
    out = run_tool('tools/train.py', cfg, '--work-dir', work, '--resume', *opts,
                   'train_cfg.max_epochs=3')
    assert 'resumed epoch: 1, iter: 2' in out.stdout + out.stderr
    last = torch.load(osp.join(work, 'epoch_3.pth'), weights_only=True)
    assert last['meta']['epoch'] == 3 and last['meta']['iter'] == 3 * iters_per_epoch
    # AdamW's per-parameter step count went on from the saved optimizer state (a fresh
    # optimizer would have counted only the 2 resumed epochs).
    steps = {float(s['step']) for s in last['optimizer']['state'].values()}
    assert steps == {3.0 * iters_per_epoch}
    # The message hub (HistoryBuffer) came back too: iteration-level logs continue.
    assert 'message_hub' in last
    # Resuming from an explicit checkpoint path works the same way.
    out = run_tool('tools/train.py', cfg,
                   '--work-dir', str(tmp_path / 'work2'), '--resume',
                   osp.join(work, 'epoch_1.pth'), *opts, 'train_cfg.max_epochs=2')
    assert 'resumed epoch: 1, iter: 2' in out.stdout + out.stderr


def test_checkpoints_need_the_allow_list_not_weights_only_false(tmp_path):
    """Without mmagent's registration the message hub cannot be read back safely."""
    from mmengine.logging import MessageHub

    import mmagent  # noqa: F401  (registers the reducer in this process)
    hub = MessageHub.get_instance('mmagent_test_hub')
    hub.update_scalar('train/loss', 2.0)
    path = str(tmp_path / 'hub.pth')
    torch.save({'message_hub': hub.state_dict()}, path)
    loaded = torch.load(path, weights_only=True)
    assert float(loaded['message_hub']['log_scalars']['train/loss'].current()) == 2.0
    # A checkpoint pickled the stock way (getattr on the class) is refused, not run.
    script = textwrap.dedent("""
        import io, pickle, torch
        from mmengine.logging import HistoryBuffer
        buf = HistoryBuffer([1.0], [1])
        data = io.BytesIO(); torch.save({'b': buf}, data); data.seek(0)
        import mmagent  # allow-list active, but getattr is not on it
        try:
            torch.load(data, weights_only=True)
        except pickle.UnpicklingError as e:
            print('refused', 'getattr' in str(e))
    """)
    out = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)
    assert 'refused True' in out.stdout, out.stderr[-2000:]


def test_two_process_gloo_training_keeps_ranks_identical(tmp_path, toy_ade):
    cfg = write_toy_config(
        config_path('fpn_agent_pvt_t.py'), 'seg', toy_ade, str(tmp_path / 'cfg.py'),
        iters=3, batch_size=1, extra_imports=('tests.dist_probe', ))
    with open(cfg, 'a') as f:
        f.write("custom_hooks = [dict(type='RankProbeHook')]\n")
    work = str(tmp_path / 'work')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    cmd = [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
        f'--master_port={_free_port()}', 'tools/train.py', cfg, '--launcher', 'pytorch',
        '--work-dir', work, '--cfg-options', *TOY_OPTIONS['fpn'],
        'train_cfg.val_begin=100'
    ]
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    r0, r1 = (
        torch.load(osp.join(work, f'rank{r}.pth'), weights_only=True) for r in (0, 1))
    assert r0['world_size'] == 2 and r0['wrapper'] == 'MMDistributedDataParallel'
    # Each rank trained on its own share of the images (first pass over the data)...
    assert len(r0['seen']) == len(r1['seen']) == 3
    assert not set(r0['seen'][:2]) & set(r1['seen'][:2])
    # ...yet synchronised gradients leave one model: every parameter identical.
    assert r0['params'].keys() == r1['params'].keys()
    for k, v in r0['params'].items():
        assert torch.equal(v, r1['params'][k]), k
    # ...and it did train: rank 0's weights are the saved checkpoint's, not the init.
    saved = torch.load(osp.join(work, 'iter_3.pth'), weights_only=True)['state_dict']
    for k, v in r0['params'].items():
        assert torch.equal(saved[k], v), k
    # SyncBN in the head became BN on CPU; its running statistics are per rank
    # (MMEngine's DDP wrapper does not broadcast buffers), so they are not compared.
    assert any(k.endswith('bn.running_mean') for k in r0['buffers'])


def test_stock_mmdet_config_trains_through_mmdets_own_entry_point(tmp_path, toy_coco):
    import mmdet
    mmdet_train = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'train.py')
    cfg = tmp_path / 'stock.py'
    cfg.write_text(
        textwrap.dedent("""
        _base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
        custom_imports = dict(imports=['mmagent'], allow_failed_imports=False)
        model = dict(
            backbone=dict(_delete_=True, type='AgentPVT', arch='tiny',
                          drop_path_rate=0.0),
            neck=dict(in_channels=[64, 128, 320, 512]))
    """))
    toy = write_toy_config(str(cfg), 'det', toy_coco, str(tmp_path / 'toy.py'), epochs=1)
    work = str(tmp_path / 'work')
    run_tool(mmdet_train, toy, '--work-dir', work, '--cfg-options',
             'train_cfg.val_begin=100', *TOY_OPTIONS['maskrcnn'])
    ckpt = torch.load(osp.join(work, 'epoch_1.pth'), weights_only=True)
    assert any(k.startswith('backbone.block1.0.attn.an_bias') for k in ckpt['state_dict'])
