"""Side-by-side speed and memory of agent attention backbones.

    python tools/benchmark.py --models agent_pvt_t agent_swin_t --sizes 512 800x1344 \
        [--modes eval train] [--batch 1] [--train-batch 2] [--repeat 5] [--device cpu]
    python tools/benchmark.py --scaling --plot latency.png     # 256..1536 px, log-log
    python tools/benchmark.py --config configs/maskrcnn_agent_pvt_t.py --sizes 800x1344

For each backbone it times, side by side in one run:

* ``mmagent``   - mmagent's backbone with default settings: the path it picks itself
                  (on the CPU in float32 the hand-written attention function and chunked
                  MLP of ``mmagent/models/layers/cpu_kernels.py`` where they apply);
* ``plain``     - the same built with ``cpu_kernels=False``: PyTorch's own ops only
                  (``scaled_dot_product_attention`` with the agent biases as masks,
                  cached map-sized biases in eval, plain MLP), the path CUDA takes;
* ``softmax``   - the softmax backbone it replaces at the same size: stock mmdet's
                  PVT-T (Agent-/FLatten-PVT), PVTv2-B0 (FLatten-PVTv2) and Swin
                  (Agent-/FLatten-Swin, MLLA, DAT++), mmpretrain's DeiT (Agent-DeiT),
                  and CSwin-T, mmagent's CSwin host with stripes in every stage
                  (Agent-/FLatten-CSwin);
* ``onnxruntime`` and ``softmax-onnxruntime`` (eval only; not run unless named, they
                  need the ``deploy`` extra) - ``mmagent`` and ``softmax`` exported
                  once by :func:`mmagent.deploy.export_onnx` (height and width
                  dynamic: one file serves every size) and run in ONNX Runtime's CPU
                  provider with as many threads as torch. The export is checked
                  against PyTorch at every size first (max difference printed; over
                  1e-4 is an error), and its time is printed.
* ``compiled`` and ``softmax-compiled`` (not run unless named) - ``mmagent`` and
                  ``softmax`` under ``torch.compile`` (inductor; mmagent's backbones
                  with ``fullgraph=True``, the baselines as they compile). The first
                  call's time is printed as the compile time; in eval the compiled
                  output is checked against eager first (over 1e-4 is an error).

Eval is a no-grad forward at ``--batch``; train is forward + backward at
``--train-batch``. Each variant runs in a fresh process of its own, round-robin over
``--rounds`` rounds (so machine drift hits every variant alike): in one process the
variants would share the CPU allocator, and what one frees changes how often the next
one page-faults - measured here, that moved the spec rendering's train step between
1.85 s and 2.9 s. In each process the first step gives the peak memory (the extra
high-water mark of that step; CPU: RSS, GPU: ``max_memory_allocated``; modules that
the step would import lazily, ``torch._dynamo`` for ``torch.utils.checkpoint``, are
imported before it), one more step
warms up, then ``--repeat`` steps are timed; on the CPU one more step, profiled, gives
the tensor peak (the most PyTorch's allocator held: peak RSS less the C heap's kept
blocks and library scratch memory; printed under the row). Times are medians over all
rounds; ratios
are printed against the first variant (``mmagent`` unless ``--variants`` says
otherwise), and softmax-onnxruntime's against onnxruntime's (softmax-compiled's against
compiled's). ``--shared-process``
times the variants interleaved in one process instead (quicker, noisier).

This is a user tool: it imports only mmagent and the OpenMMLab stack and runs from a
wheel (``mmagent/.mim/tools``). The refactoring checks of a clone (the literal
renderings of ``tests/`` as ``spec``, an older source tree as ``before``) live in
``benchmarks/refactor_benchmark.py``, which extends this tool through
:class:`Extension`.
"""
import argparse
import hashlib
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

MMDET_SWIN_T = dict(type='SwinTransformer')
MMDET_PVT_T = dict(type='PyramidVisionTransformer', num_layers=[2, 2, 2, 2])
# CSwin-T: the CSwin host with its own stripe attention in every stage
CSWIN_T = dict(scope='mmagent', type='CSWinHost', arch='tiny')

# model name -> (mmagent backbone, its kwargs, the softmax baseline: a config of the
# ``scope`` registry, mmdet unless named)
BACKBONES = {
    'agent_pvt_t': ('AgentPVT', dict(arch='tiny'), MMDET_PVT_T),
    'agent_pvt_s': ('AgentPVT', dict(arch='small'),
                    dict(type='PyramidVisionTransformer', num_layers=[3, 4, 6, 3])),
    'agent_pvt_m': ('AgentPVT', dict(arch='medium'),
                    dict(type='PyramidVisionTransformer', num_layers=[3, 4, 18, 3])),
    'agent_pvt_l': ('AgentPVT', dict(arch='large'),
                    dict(type='PyramidVisionTransformer', num_layers=[3, 8, 27, 3])),
    'agent_swin_t': ('AgentSwinTransformer', dict(arch='tiny'), MMDET_SWIN_T),
    'agent_swin_s': ('AgentSwinTransformer', dict(arch='small'),
                     dict(type='SwinTransformer', depths=[2, 2, 18, 2])),
    'agent_swin_b': ('AgentSwinTransformer', dict(arch='base'),
                     dict(type='SwinTransformer', embed_dims=128, depths=[2, 2, 18, 2],
                          num_heads=[4, 8, 16, 32])),
    'agent_cswin_t': ('AgentCSWin', dict(arch='tiny'), CSWIN_T),
    'agent_deit_t': ('AgentDeiT', dict(arch='tiny'),
                     dict(scope='mmpretrain', type='VisionTransformer',
                          arch='deit-tiny')),
    'mlla_t': ('MLLA', dict(arch='tiny'), MMDET_SWIN_T),
    'flatten_pvt_t': ('FLattenPVT', dict(arch='tiny'), MMDET_PVT_T),
    'flatten_pvt_v2_b0': ('FLattenPVTv2', dict(arch='b0'),
                          dict(type='PyramidVisionTransformerV2', embed_dims=32,
                               num_layers=[2, 2, 2, 2])),
    'flatten_swin_t': ('FLattenSwinTransformer', dict(arch='tiny'), MMDET_SWIN_T),
    'flatten_cswin_t': ('FLattenCSWin', dict(arch='tiny'), CSWIN_T),
    'dat_t': ('DAT', dict(arch='tiny'), MMDET_SWIN_T),
}
VARIANTS = ('mmagent', 'plain', 'softmax')
#: ONNX Runtime variants -> the PyTorch variant that is exported
ORT_VARIANTS = {'onnxruntime': 'mmagent', 'softmax-onnxruntime': 'softmax'}
#: torch.compile variants -> the eager variant that is compiled
COMPILED_VARIANTS = {'compiled': 'mmagent', 'softmax-compiled': 'softmax'}


class Extension:
    """What a script built on this tool adds (see ``benchmarks/``); the defaults are
    the user tool's own behaviour."""

    #: variants besides :data:`VARIANTS`
    variants = ()

    def add_arguments(self, parser):
        """Add the extension's command-line arguments to ``parser``."""

    def check(self, args, parser):
        """Refuse bad extension arguments through ``parser.error``."""

    def transform(self, model, variant):
        """The model to time for an extension ``variant`` (built as ``mmagent``)."""
        return model

    def child(self, variant, args):
        """(source root, script, variant) of the fresh process that times ``variant``."""
        return ROOT, osp.abspath(__file__), variant

    def scaling_layers(self, dims, heads, device):
        """Extra ``{label: module}`` for ``--scaling``, called as ``module(x, hw)``."""
        return {}


EXT = Extension()


def parse_size(text):
    h, _, w = text.partition('x')
    return int(h), int(w or h)


def build(model_name, variant, config=None, device='cpu', onnx=None, threads=None):
    """The model to time for ``variant``; weights are random (timing only). An ONNX
    Runtime variant runs the file ``onnx`` (see :func:`export_child`)."""
    from mmengine.registry import DefaultScope

    import mmagent  # noqa: F401
    if variant in ORT_VARIANTS:
        return OrtModel(onnx, threads)
    if variant in COMPILED_VARIANTS:
        eager = build(model_name, COMPILED_VARIANTS[variant], config, device)
        # mmagent's models compile without graph breaks (tests/test_models/
        # test_compile.py); the baselines are compiled as they come
        return torch.compile(eager, fullgraph=variant == 'compiled')
    torch.manual_seed(0)
    if config:
        from mmengine.config import Config

        from mmagent.engine import codebase_of
        cfg = Config.fromfile(config)
        scope = codebase_of(cfg)
        cfg.model.backbone.init_cfg = None
        if variant == 'softmax':
            raise ValueError('--config runs the mmagent variants only')
        registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
        with DefaultScope.overwrite_default_scope(scope):
            model = registry.build(cfg.model)
        # what tools/export.py exports: backbone + neck of a detector, the decode
        # head's logits of a segmentor, the logits of a classifier
        from mmagent.deploy import deploy_module
        model = deploy_module(model)
    else:
        cls_name, kwargs, baseline = BACKBONES[model_name]
        if variant == 'softmax':
            baseline = dict(baseline)
            scope = baseline.pop('scope', 'mmdet')
            registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
            with DefaultScope.overwrite_default_scope(scope):
                model = registry.build(baseline)
        else:
            from mmagent.registry import MODELS
            model = MODELS.build(dict(type=cls_name, drop_path_rate=0., **kwargs))
    if variant == 'plain':
        from mmagent.models.layers.runtime import set_cpu_kernels
        set_cpu_kernels(model, False)
    if variant in EXT.variants:
        model = EXT.transform(model, variant)
    return model.to(device)


class OrtModel:
    """An ONNX Runtime session called like the model (eval only)."""

    def __init__(self, path, threads=None):
        from mmagent.deploy import onnx_session
        self.session = onnx_session(path, threads or torch.get_num_threads())
        self.input = self.session.get_inputs()[0].name

    def eval(self):
        return self

    def __call__(self, x):
        return self.session.run(None, {self.input: x.numpy()})


def export_child(args):
    """Run in a fresh process: export the PyTorch variant behind ``args.variant`` to
    ``args.onnx`` (dynamic height and width, at the first size) and check it against
    PyTorch at every size; prints JSON ``{'export_s', 'max_diff'}``."""
    from mmagent.deploy import check_onnx, export_onnx
    module = build(args.model, ORT_VARIANTS[args.variant], args.config)
    sizes = [parse_size(s) for s in args.size.split(',')]
    start = time.perf_counter()
    export_onnx(module, args.onnx, shape=sizes[0])  # a backbone or a DeployModule
    export_s = time.perf_counter() - start
    reports = check_onnx(args.onnx, module, sizes)
    print(
        json.dumps({
            'export_s': export_s,
            'max_diff': max(r['max_diff'] for r in reports)
        }))


def _sync(device):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


def step_fn(model, mode, batch, size, device, dtype=None):
    x = torch.randn(batch, 3, *size, device=device)
    if mode == 'eval':
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()

        def step():
            outs = model(x)
            sum(o.float().mean() for o in outs).backward()
            for p in model.parameters():
                p.grad = None

    return step


def seconds(fn, device):
    """Wall time of one call of ``fn``, the device synchronised around it."""
    _sync(device)
    t = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - t


def time_variants(models, mode, batch, size, device, repeat, warmup=1):
    """Median seconds per step of each model, steps interleaved across models."""
    steps = {k: step_fn(m, mode, batch, size, device) for k, m in models.items()}
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {k: [] for k in steps}
    for _ in range(repeat):
        for k, step in steps.items():
            times[k].append(seconds(step, device))
    return {k: statistics.median(v) for k, v in times.items()}


def measure_child(args):
    """Run in a fresh process: extra peak memory (MiB) of the first step, then the
    seconds of ``--repeat`` steps after one warm-up step; prints JSON."""
    model = build(args.model, args.variant, args.config, args.device, args.onnx,
                  args.threads)
    step = step_fn(model, args.mode, args.batch, parse_size(args.size), args.device)
    result = {}
    if args.variant in COMPILED_VARIANTS:  # the first call compiles
        result['compile_s'] = seconds(step, args.device)
        if args.mode == 'eval':
            result['max_diff'] = compiled_diff(model, args.batch, parse_size(args.size),
                                               args.device)
    if args.device.startswith('cuda'):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step()
        torch.cuda.synchronize()
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    else:
        # A one-time import is not the step's memory: torch.utils.checkpoint imports
        # torch._dynamo on its first call (about 100 MiB of RSS), which charged the
        # families that recompute in backward with it in training. Every variant
        # imports it here, before the reading.
        import torch._dynamo  # noqa: F401

        # Reset the process's peak RSS (Linux: clear_refs 5), then read VmHWM.
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        base = _status_kib('VmRSS')
        step()
        peak = (_status_kib('VmHWM') - base) / 1024
    step()
    times = [seconds(step, args.device) for _ in range(args.repeat)]
    result.update(peak_mib=peak, times=times)
    if not args.device.startswith('cuda') and args.variant not in ORT_VARIANTS:
        result['tensor_peak_mib'] = tensor_peak_mib(step)
    if args.profile and args.variant not in ORT_VARIANTS:
        result['profile'] = profile_step(step, args.device, args.profile)
    print(json.dumps(result))


def tensor_peak_mib(step):
    """Peak of the tensor memory PyTorch's CPU allocator holds during ``step()`` over
    what it held before (MiB), from the profiler's allocation events; None where the
    profiler gives none. Unlike peak RSS it leaves out the C allocator's heap (freed
    blocks it keeps; moves by tens of MiB from run to run here) and library scratch
    memory (oneDNN's): what a caching GPU allocator would count."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    try:
        events = prof.profiler.kineto_results.events()
        deltas = sorted(
            (e.start_ns(), e.nbytes()) for e in events if e.name() == '[memory]')
    except AttributeError:  # another torch's private layout
        return None
    held = peak = 0
    for _, nbytes in deltas:
        held += nbytes
        peak = max(peak, held)
    return peak / 2**20 if deltas else None


def compiled_diff(compiled, batch, size, device):
    """Max abs difference of a compiled model's eval outputs from its eager module's;
    over 1e-4 is an error."""
    x = torch.randn(batch, 3, *size, device=device)
    with torch.no_grad():
        outs, refs = compiled(x), compiled._orig_mod(x)
    diff = max((a - b).abs().max().item() for a, b in zip(outs, refs))
    if diff > 1e-4:
        raise RuntimeError(f'the compiled model differs from eager by {diff:.3g}')
    return diff


def profile_step(step, device, top):
    """One more step under ``torch.profiler``: the ``top`` operators by self time,
    ``[[name, ms, share of the step's self time], ...]``."""
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU]
    if device.startswith('cuda'):
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        step()
    rows = [(e.key,
             e.self_device_time_total if len(activities) > 1 else e.self_cpu_time_total)
            for e in prof.key_averages()]
    total = sum(t for _, t in rows) or 1
    rows.sort(key=lambda r: -r[1])
    return [[name, t / 1e3, t / total] for name, t in rows[:top]]


def _status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def measure(model, variant, mode, batch, size, device, config=None, repeat=0,
            threads=None, args=None, onnx=None, export=False):
    """:func:`measure_child` in a fresh process: ``{'peak_mib', 'times'}``; with
    ``export``, :func:`export_child` (``size``: every size to check)."""
    env = dict(os.environ)
    root, script, variant = EXT.child(variant, args)
    sizes = size if export else [size]
    cmd = [
        sys.executable, script, '--_export' if export else '--_child', '--model', model
        or 'x', '--variant', variant, '--mode', mode, '--batch',
        str(batch), '--size', ','.join(f'{h}x{w}' for h, w in sizes), '--device', device,
        '--repeat',
        str(repeat)
    ]
    if config:
        cmd += ['--config', config]
    if threads:
        cmd += ['--threads', str(threads)]
    if onnx:
        cmd += ['--onnx', onnx]
    if not export and getattr(args, 'profile', 0):
        cmd += ['--profile', str(args.profile)]
    env['PYTHONPATH'] = root
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def export_variants(name, variants, sizes, args, tmpdir):
    """Export each ONNX Runtime variant of ``name`` (checked at every size), a softmax
    baseline once per run however many models share it: ``{variant: path}``."""
    paths = {}
    for v in variants:
        if v not in ORT_VARIANTS:
            continue
        key = name or 'config'
        if v == 'softmax-onnxruntime':
            baseline = json.dumps(BACKBONES[name][2], sort_keys=True)
            key = 'softmax-' + hashlib.sha1(baseline.encode()).hexdigest()[:12]
        paths[v] = path = osp.join(tmpdir, f'{key}.onnx')
        if osp.exists(path):
            print(f'export {v}: the file exported for an earlier model', flush=True)
            continue
        try:
            r = measure(name, v, 'eval', 1, sizes, 'cpu', args.config,
                        threads=args.threads, args=args, onnx=path, export=True)
        except RuntimeError as e:  # reported, and the variant left out of the rows
            lines = str(e).strip().splitlines() or ['']
            print(f'export {v} failed, not timed: {lines[-1]}', flush=True)
            del paths[v]
            continue
        print(
            f'export {v}: {r["export_s"]:.1f} s, max abs diff to PyTorch '
            f'{r["max_diff"]:.2g} at {" ".join(f"{h}x{w}" for h, w in sizes)}',
            flush=True)
    return paths


def fmt_ratio(base, other):
    return f'{other / base:5.2f}x' if base and other else '   - '


def run_table(args, device):
    rows = []
    names = [None] if args.config else args.models
    sizes = [parse_size(text) for text in args.sizes]
    with tempfile.TemporaryDirectory(prefix='mmagent-bench-') as tmpdir:
        for name in names:
            rows += _model_rows(name, sizes, args, device, tmpdir)
    return rows


def _model_rows(name, sizes, args, device, tmpdir):
    rows = []
    variants = [v for v in args.variants if not (args.config and 'softmax' in v)]
    label = osp.basename(args.config) if args.config else name
    onnx = export_variants(name, variants, sizes, args, tmpdir)
    variants = [v for v in variants if v not in ORT_VARIANTS or v in onnx]
    models = {
        v: build(name, v, args.config, device, onnx.get(v), args.threads)
        for v in variants
    } if args.shared_process else None
    for size in sizes:
        for mode in args.modes:
            batch = args.batch if mode == 'eval' else args.train_batch
            timed = [v for v in variants if mode == 'eval' or v not in ORT_VARIANTS]
            if args.shared_process:
                chosen = {v: models[v] for v in timed}
                t = time_variants(chosen, mode, batch, size, device, args.repeat)
                mem = {} if args.no_memory else {
                    v:
                    measure(name, v, mode, batch, size, device, args.config,
                            threads=args.threads, args=args, onnx=onnx.get(v))['peak_mib']
                    for v in timed
                }
            else:
                runs = {v: [] for v in timed}
                for _ in range(args.rounds):
                    for v in timed:
                        runs[v].append(
                            measure(name, v, mode, batch, size, device, args.config,
                                    args.repeat, args.threads, args, onnx.get(v)))
                t = {
                    v: statistics.median(x for r in rs for x in r['times'])
                    for v, rs in runs.items()
                }
                mem = {} if args.no_memory else {
                    v: statistics.median(r['peak_mib'] for r in rs)
                    for v, rs in runs.items()
                }
            rows.append((label, f'{size[0]}x{size[1]}', mode, batch, t, mem))
            print(_row_text(rows[-1], timed), flush=True)
            if not args.shared_process:
                _print_compile_times(runs)
                _print_tensor_peaks(runs)
            if args.profile:
                for v in timed:
                    if v in ORT_VARIANTS:
                        continue
                    top = runs[v][-1]['profile']
                    print(
                        f'  profile {v} (one step, self time): ' +
                        ', '.join(f'{n} {share:.0%} {ms:.0f} ms' for n, ms, share in top),
                        flush=True)
    return rows


def _print_compile_times(runs):
    for v, rs in runs.items():
        if v in COMPILED_VARIANTS:
            first = statistics.median(r['compile_s'] for r in rs)
            diff = [r['max_diff'] for r in rs if 'max_diff' in r]
            checked = f', max abs diff to eager {max(diff):.2g}' if diff else ''
            print(f'  {v}: first call (compilation) {first:.1f} s{checked}', flush=True)


def _print_tensor_peaks(runs):
    peaks = {
        v: statistics.median(r['tensor_peak_mib'] for r in rs)
        for v, rs in runs.items() if all(r.get('tensor_peak_mib') for r in rs)
    }
    if len(peaks) > 1:
        first = next(iter(peaks))
        print(
            '  tensor peak: ' + '  '.join(f'{v} {m:.0f}MiB' for v, m in peaks.items()) +
            ''.join(f'  mem {fmt_ratio(m, peaks[first])} of {v}'
                    for v, m in list(peaks.items())[1:]), flush=True)


def _row_text(row, variants):
    label, size, mode, batch, t, mem = row
    parts = [f'{label:14s} {size:>9s} {mode:5s} b{batch}']
    for v in variants:
        parts.append(f'{v} {t[v]:7.3f}s')
        if mem:
            parts.append(f'{mem[v]:7.0f}MiB')
    first = variants[0]  # 'mmagent' unless --variants starts with another
    pairs = [(first, v) for v in variants[1:]]
    for ours, theirs in (('onnxruntime', 'softmax-onnxruntime'), ('compiled',
                                                                  'softmax-compiled')):
        if ours in variants[1:] and theirs in variants:
            pairs.append((ours, theirs))
    for ref, v in pairs:
        parts.append(f'{v}/{ref} time {fmt_ratio(t[ref], t[v])}')
        if mem:
            parts.append(f'mem {fmt_ratio(mem[v], mem[ref])} of {v}')
    return '  '.join(parts)


def attention_scaling(device, sizes, repeat):
    """Eval time of one agent-attention layer vs global softmax attention at the
    stage-3 map (stride 16) of square images: returns {variant: [(pixels, s)]}."""
    import torch.nn.functional as F

    import mmagent  # noqa: F401
    from mmagent.models import AgentAttention
    dims, heads = 384, 12
    agent = AgentAttention(dims, heads, agent_num=49, pretrain_hw=(14, 14),
                           downstream_agent_shape=(14, 14)).to(device).eval()
    proj = torch.nn.Linear(dims, 3 * dims).to(device)

    def softmax_attn(x, hw):
        q, k, v = proj(x).unflatten(-1, (3, heads, dims // heads)).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v)

    from mmagent.models import FocusedLinearAttention
    from mmagent.models.backbones.mlla import LinearAttention
    mlla = LinearAttention(dims, heads).to(device).eval()
    flatten = FocusedLinearAttention(dims, heads, (14, 14)).to(device).eval()
    layers = {
        'agent attention (mmagent)': agent,
        **EXT.scaling_layers(dims, heads, device), 'MLLA linear attention': mlla,
        'FLatten focused linear attention': flatten,
        'global softmax attention': softmax_attn
    }
    curves = {k: [] for k in layers}
    for px in sizes:
        hw = (px // 16, px // 16)
        x = torch.randn(1, hw[0] * hw[1], dims, device=device)
        with torch.no_grad():
            for k, layer in layers.items():

                def fn():
                    return layer(x, hw)

                fn()
                ts = [seconds(fn, device) for _ in range(repeat)]
                curves[k].append((px * px, statistics.median(ts)))
    return curves


def loglog_slope(points, lo=512**2, hi=1536**2):
    pts = [(math.log(p), math.log(t)) for p, t in points if lo <= p <= hi]
    n = len(pts)
    mx = sum(p for p, _ in pts) / n
    my = sum(t for _, t in pts) / n
    return sum((p - mx) * (t - my) for p, t in pts) / sum((p - mx)**2 for p, _ in pts)


def plot(curves, path, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 5))
    for label, pts in curves.items():
        px = [math.sqrt(p) for p, _ in pts]
        ax.loglog(px, [t * 1e3 for _, t in pts], marker='o', label=label)
    ax.set_xlabel('image side (px), square input')
    ax.set_ylabel('eval forward latency (ms)')
    ax.set_title(title)
    ax.grid(True, which='both', alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f'wrote {path}')


def main(argv=None, extension=None):
    """Run the tool; ``extension`` (an :class:`Extension`) adds variants."""
    global EXT
    EXT = extension or Extension()
    defaults = VARIANTS + tuple(EXT.variants)
    variants = defaults + tuple(ORT_VARIANTS) + tuple(COMPILED_VARIANTS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--models', nargs='+', default=['agent_pvt_t', 'agent_swin_t'],
                        choices=sorted(BACKBONES))
    parser.add_argument(
        '--config', help='time the model of a config instead of bare backbones: the '
        'part tools/export.py exports (detector: backbone + neck; segmentor: up to the '
        'decode head\'s logits; classifier: the logits)')
    parser.add_argument('--sizes', nargs='+', default=['512', '800x1344'])
    parser.add_argument('--modes', nargs='+', default=['eval', 'train'],
                        choices=['eval', 'train'])
    parser.add_argument('--variants', nargs='+', default=None, choices=variants,
                        help=f'default: {" ".join(defaults)}')
    parser.add_argument('--batch', type=int, default=1)
    parser.add_argument('--train-batch', type=int, default=2)
    parser.add_argument('--repeat', type=int, default=5,
                        help='timed steps per process (per round)')
    parser.add_argument('--rounds', type=int, default=3,
                        help='fresh processes per variant, run round-robin')
    parser.add_argument('--shared-process', action='store_true',
                        help='time all variants interleaved in this one process')
    parser.add_argument('--device',
                        default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument(
        '--profile', type=int, default=0, metavar='N', help='after the timed steps, '
        'profile one more step of each PyTorch variant and print its N most '
        'expensive operators (self time and share of the step)')
    parser.add_argument(
        '--scaling', action='store_true', help='latency vs resolution, '
        '256..1536 px, with log-log slopes')
    parser.add_argument('--scaling-sizes', nargs='+', type=int,
                        default=[256, 384, 512, 768, 1024, 1280, 1536])
    parser.add_argument('--plot', help='with --scaling: write the log-log plot (PNG)')
    # internal: one measurement in a fresh process
    parser.add_argument('--_child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--model', help=argparse.SUPPRESS)
    parser.add_argument('--variant', help=argparse.SUPPRESS)
    parser.add_argument('--mode', help=argparse.SUPPRESS)
    parser.add_argument('--size', help=argparse.SUPPRESS)
    parser.add_argument('--_export', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--onnx', help=argparse.SUPPRESS)
    EXT.add_arguments(parser)
    args = parser.parse_args(argv)
    if args.scaling and len({s for s in args.scaling_sizes if 512 <= s <= 1536}) < 2:
        parser.error(f'--scaling-sizes needs at least two sizes from 512 to 1536 px for '
                     f'the log-log slope, got {args.scaling_sizes}')
    args.variants_given = args.variants is not None
    if args.variants is None:
        args.variants = list(defaults)
    ort = [v for v in args.variants if v in ORT_VARIANTS]
    if ort and not args.device.startswith('cpu'):
        parser.error(f'the variants {" ".join(ort)} run in ONNX Runtime on the CPU; '
                     f'--device is {args.device}')
    if args.profile and args.shared_process:
        parser.error('--profile needs each variant in a process of its own; drop '
                     '--shared-process')
    if ort and 'eval' not in args.modes:
        parser.error(f'the variants {" ".join(ort)} time eval only: add --modes eval')
    EXT.check(args, parser)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args._child:
        return measure_child(args)
    if args._export:
        return export_child(args)
    device = args.device
    hw = (
        torch.cuda.get_device_name()
        if device.startswith('cuda') else f'{torch.get_num_threads()} CPU threads')
    how = (f'median of {args.repeat} interleaved runs'
           if args.scaling or args.shared_process else
           f'each variant in fresh processes, {args.rounds} rounds x {args.repeat} '
           f'steps, median')
    print(f'device: {device} ({hw}), torch {torch.__version__}, {how}', flush=True)
    if args.scaling:
        curves = attention_scaling(device, args.scaling_sizes, args.repeat)
        print('one attention layer at the stride-16 map (384 channels, 12 heads, '
              '14x14 agents), eval:')
        for label, pts in curves.items():
            ms = '  '.join(f'{int(math.sqrt(p))}px {t * 1e3:8.2f}ms' for p, t in pts)
            print(f'  {label:28s} slope(512-1536px) {loglog_slope(pts):4.2f}   {ms}')
        if args.plot:
            plot(curves, args.plot, 'Attention latency vs resolution (log-log)')
        return 0
    run_table(args, device)
    return 0


if __name__ == '__main__':
    sys.exit(main())
