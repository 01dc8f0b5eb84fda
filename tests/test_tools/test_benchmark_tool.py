"""tools/benchmark.py (the user tool) and benchmarks/refactor_benchmark.py (the clone's
refactoring checks) run the variants side by side and report ratios (no timing is
asserted: speed is shown by the benchmark itself, not by tests)."""
import ast
import re

import pytest

from tests.conftest import ROOT
from tests.test_tools.conftest import run_tool

REFACTOR = 'benchmarks/refactor_benchmark.py'


def test_user_benchmark_imports_no_test_code():
    """A wheel ships tools/ without tests/: the tool must not import them."""
    tree = ast.parse(open(f'{ROOT}/tools/benchmark.py').read())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n and n.split('.')[0] in ('tests', 'benchmarks')]
    bad = run_tool('tools/benchmark.py', '--variants', 'spec', check=False)
    assert bad.returncode == 2 and "invalid choice: 'spec'" in bad.stderr


@pytest.mark.parametrize('how',
                         [['--rounds', '1', '--modes', 'eval', 'train', '--profile', '3'],
                          ['--shared-process', '--modes', 'eval']])
def test_benchmark_reports_side_by_side_ratios(how):
    """Fresh processes per variant (the default, here with a profile of each) or all
    in one process."""
    out = run_tool('tools/benchmark.py', '--models', 'agent_pvt_t', '--sizes', '64x96',
                   '--repeat', '1', *how)
    lines = [line for line in out.stdout.splitlines() if line.startswith('agent_pvt_t')]
    assert len(lines) == (2 if 'train' in how else 1)
    profiles = re.findall(r'^  profile (\S+) \(one step, self time\): (.*)$', out.stdout,
                          re.M)
    if '--profile' in how:  # three operators with shares per variant and mode
        assert [v for v, _ in profiles] == ['mmagent', 'plain', 'softmax'] * 2
        for _, ops in profiles:
            assert len(re.findall(r'\S+ [0-9]+% [0-9]+ ms', ops)) == 3, ops
        assert any('aten::' in ops for _, ops in profiles)
    else:
        assert not profiles
        bad = run_tool('tools/benchmark.py', '--profile', '3', *how, check=False)
        assert bad.returncode == 2 and '--profile needs each variant' in bad.stderr
    for line in lines:
        assert 'spec' not in line
        assert re.search(r'softmax/mmagent time +[0-9.]+x', line)
        assert re.search(r'mmagent +[0-9.]+s +[0-9]+MiB', line)
        assert re.search(r'plain/mmagent time +[0-9.]+x', line)
    # fresh processes: each variant's tensor peak (the profiler's allocation events)
    peaks = re.findall(
        r'^  tensor peak: mmagent ([0-9]+)MiB +plain ([0-9]+)MiB +softmax ([0-9]+)MiB '
        r'.*mem +[0-9.]+x of softmax$', out.stdout, re.M)
    assert len(peaks) == (0 if '--shared-process' in how else 2), out.stdout
    assert all(int(m) > 0 for row in peaks for m in row)


def test_onnxruntime_variants_export_once_checked_and_time_eval_only():
    """One dynamic export per ONNX Runtime variant (each in a process of its own),
    checked against PyTorch at every size, serves both sizes; train rows leave the
    ONNX Runtime variants out."""
    out = run_tool('tools/benchmark.py', '--models', 'agent_pvt_t', '--sizes', '64x96',
                   '80', '--modes', 'eval', 'train', '--repeat', '1', '--shared-process',
                   '--no-memory', '--variants', 'mmagent', 'onnxruntime', 'softmax',
                   'softmax-onnxruntime')
    exports = re.findall(
        r'^export (\S+): [0-9.]+ s, max abs diff to PyTorch (\S+) at '
        r'64x96 80x80$', out.stdout, re.M)
    assert [e[0] for e in exports] == ['onnxruntime', 'softmax-onnxruntime'], out.stdout
    assert all(float(d) <= 1e-4 for _, d in exports)
    rows = [x for x in out.stdout.splitlines() if x.startswith('agent_pvt_t')]
    assert len(rows) == 4
    for row in rows[::2]:  # eval
        assert re.search(r'onnxruntime/mmagent time +[0-9.]+x', row)
        assert re.search(r'softmax-onnxruntime/onnxruntime time +[0-9.]+x', row)
    for row in rows[1::2]:  # train
        assert ' train ' in row and 'onnxruntime' not in row
    bad = run_tool('tools/benchmark.py', '--variants', 'onnxruntime', '--modes', 'train',
                   check=False)
    assert bad.returncode == 2 and 'time eval only' in bad.stderr


def test_refactor_benchmark_times_spec_and_another_tree_as_before():
    """--before-tree: an older tree's own code timed in the same round-robin, beside
    the literal renderings of tests/."""
    out = run_tool(REFACTOR, '--models', 'agent_pvt_t', '--sizes', '64x96', '--modes',
                   'eval', '--repeat', '1', '--rounds', '1', '--variants', 'mmagent',
                   'spec', 'before', '--before-tree', ROOT, '--no-memory')
    (line, ) = [x for x in out.stdout.splitlines() if x.startswith('agent_pvt_t')]
    assert re.search(r'before/mmagent time +[0-9.]+x', line)
    assert re.search(r'spec/mmagent time +[0-9.]+x', line)
    bad = run_tool(REFACTOR, '--variants', 'mmagent', 'before', check=False)
    assert bad.returncode == 2 and '--before-tree' in bad.stderr


def test_scaling_mode_writes_a_plot_and_slopes(tmp_path):
    png = tmp_path / 'plot.png'
    out = run_tool(REFACTOR, '--scaling', '--scaling-sizes', '256', '512', '768',
                   '--repeat', '1', '--plot', str(png))
    assert png.exists() and png.stat().st_size > 5000
    assert re.search(r'global softmax attention +slope\(512-1536px\) +[0-9.]+',
                     out.stdout)
    assert re.search(r'agent attention \(spec\) +slope', out.stdout)


def test_scaling_sizes_without_a_slope_range_are_refused_up_front():
    out = run_tool('tools/benchmark.py', '--scaling', '--scaling-sizes', '256', '512',
                   check=False)
    assert out.returncode == 2
    assert '--scaling-sizes needs at least two sizes from 512 to 1536' in out.stderr
