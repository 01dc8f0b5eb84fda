"""Several real processes fetching the same mmagent://NAME from a slow loopback server:
one transfer, one good file, nothing else left in the cache (issue 21)."""
import hashlib
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap
import time

import torch

from tests.conftest import ROOT

# Each process imports mmagent, says it is ready, waits for the start signal (plus its
# own delay when staggered), then loads the weights as a run's model would. With
# ``world_size`` set, the processes first form a gloo process group, as ranks do.
CHILD = textwrap.dedent("""
    import json, os, sys, time
    rank, world, delay, folder, name = (int(sys.argv[1]), int(sys.argv[2]),
                                        float(sys.argv[3]), sys.argv[4], sys.argv[5])
    import torch.distributed as dist
    from mmengine.runner.checkpoint import CheckpointLoader
    from mmagent import zoo
    if world:
        dist.init_process_group('gloo', init_method='file://' + folder + '/pg',
                                rank=rank, world_size=world)
    open(os.path.join(folder, f'ready{rank}'), 'w').close()
    deadline = time.monotonic() + 60
    while not os.path.exists(os.path.join(folder, 'go')):
        if time.monotonic() > deadline:
            sys.exit('no start signal')
        time.sleep(0.01)
    time.sleep(delay)
    ckpt = CheckpointLoader.load_checkpoint('mmagent://' + name)
    raw = zoo.download(name, progress=False)
    w = float(ckpt['state_dict']['w'].sum())
    print(json.dumps(dict(sha=zoo.sha256_of(raw), w=w)))
    if world:
        dist.destroy_process_group()
""")


def _served_file(path, size_mb=3):
    g = torch.Generator().manual_seed(7)
    torch.save({'model': {'w': torch.randn(size_mb * 2**18, generator=g)}}, path)
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


def _run_wave(zoo_env, folder, name, delays, world=0):
    os.makedirs(folder)
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    procs = [
        subprocess.Popen(
            [sys.executable, '-c', CHILD,
             str(i),
             str(world),
             str(d), folder, name], env=env, cwd=ROOT, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True) for i, d in enumerate(delays)
    ]
    try:
        deadline = time.monotonic() + 90
        ready = [osp.join(folder, f'ready{i}') for i in range(len(procs))]
        while not all(osp.exists(r) for r in ready):
            assert time.monotonic() < deadline, 'the processes did not start'
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        open(osp.join(folder, 'go'), 'w').close()
        outs = [p.communicate(timeout=90) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]


def _check(zoo_env, name, results, want):
    assert {r['sha'] for r in results} == {want}
    assert len({r['w'] for r in results}) == 1
    assert zoo_env.server.completed == [f'{name}.pth']  # one transfer
    assert sorted(os.listdir(zoo_env.cache)) == sorted(
        ['.locks', f'{name}.pth', f'{name}_mmagent.pth', 'sha256.json'])
    assert len(zoo_env.server.requests) == 1  # the others waited, then found it
    records = json.load(open(osp.join(zoo_env.cache, 'sha256.json')))
    assert records[f'{name}.pth'] == want


def test_ranks_fetching_at_once_and_staggered_make_one_transfer(zoo_env, tmp_path):
    want = _served_file(str(tmp_path / 'w.pth'))
    zoo_env('toy_in1k', str(tmp_path / 'w.pth'))
    zoo_env.server.fault('toy_in1k.pth', chunk=1 << 16, delay=0.03)  # ~1.5 s
    # Four ranks of a gloo process group: two start at once, two 0.3 s and 0.6 s
    # later, while the transfer runs (as ranks of a real job do).
    results = _run_wave(zoo_env, str(tmp_path / 'wave'), 'toy_in1k', [0., 0., 0.3, 0.6],
                        world=4)
    _check(zoo_env, 'toy_in1k', results, want)
