"""tools/benchmark.py runs all three variants side by side and reports ratios (no
timing is asserted: speed is shown by the benchmark itself, not by tests)."""
import re

import pytest

from tests.test_tools.conftest import run_tool


@pytest.mark.parametrize('how', [['--rounds', '1'], ['--shared-process']])
def test_benchmark_reports_side_by_side_ratios(tmp_path, how):
    """Fresh processes per variant (the default) or all in one process."""
    out = run_tool('tools/benchmark.py', '--models', 'agent_pvt_t', '--sizes', '64x96',
                   '--modes', 'eval', 'train', '--repeat', '1', *how)
    lines = [line for line in out.stdout.splitlines() if line.startswith('agent_pvt_t')]
    assert len(lines) == 2
    for line in lines:
        assert re.search(r'spec/mmagent time +[0-9.]+x', line)
        assert re.search(r'softmax/mmagent time +[0-9.]+x', line)
        assert re.search(r'mmagent +[0-9.]+s +[0-9]+MiB', line)


def test_scaling_mode_writes_a_plot_and_slopes(tmp_path):
    png = tmp_path / 'plot.png'
    out = run_tool('tools/benchmark.py', '--scaling', '--scaling-sizes', '256', '512',
                   '768', '--repeat', '1', '--plot', str(png))
    assert png.exists() and png.stat().st_size > 5000
    assert re.search(r'global softmax attention +slope\(512-1536px\) +[0-9.]+', out.stdout)


def test_scaling_sizes_without_a_slope_range_are_refused_up_front():
    out = run_tool('tools/benchmark.py', '--scaling', '--scaling-sizes', '256', '512',
                   check=False)
    assert out.returncode == 2
    assert '--scaling-sizes needs at least two sizes from 512 to 1536' in out.stderr
