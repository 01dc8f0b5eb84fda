"""Refactoring checks of a clone: tools/benchmark.py with two more variants.

    python benchmarks/refactor_benchmark.py --models agent_pvt_t --sizes 512 \
        --modes eval --before-tree /tmp/before
    python benchmarks/refactor_benchmark.py --scaling --plot latency.png

* ``spec``   - the same weights through the literal renderings kept in
               tests/reference_agent_attention.py (the spec's attention equations, the
               blocks' MLP as plain autograd ops), tests/reference_mlla.py and
               tests/reference_flatten.py; in ``--scaling`` also one spec layer;
* ``before`` - mmagent from another source tree (``--before-tree DIR``, e.g. a
               ``git worktree`` of an older commit), timed by that tree's own
               tools/benchmark.py in the same round-robin.

Every other option is tools/benchmark.py's. This script needs the clone's ``tests/`` and
is not shipped in the wheel.
"""
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

import benchmark  # noqa: E402  (tools/benchmark.py)


class RefactorChecks(benchmark.Extension):
    """The ``spec`` and ``before`` variants."""

    variants = ('spec', 'before')

    def add_arguments(self, parser):
        parser.add_argument(
            '--before-tree', help='a source tree of mmagent (e.g. a git '
            'worktree of an older commit) timed as the variant "before"')

    def check(self, args, parser):
        if not args.variants_given:
            args.variants = [
                v for v in args.variants
                if v != 'before' or args.before_tree and not args.shared_process
            ]
        if 'before' in args.variants and not (args.before_tree and osp.isfile(
                osp.join(args.before_tree, 'tools', 'benchmark.py'))):
            parser.error(f'the variant "before" needs --before-tree, a source tree of '
                         f'mmagent with tools/benchmark.py; got {args.before_tree!r}')
        if args.shared_process and 'before' in args.variants:
            parser.error('--shared-process times variants in this process: it cannot '
                         'run the variant "before" (it needs its own)')

    def transform(self, model, variant):
        from mmagent.models.layers.runtime import set_cpu_kernels
        from tests.reference_agent_attention import use_spec_rendering
        from tests.reference_flatten import use_flatten_reference
        from tests.reference_mlla import use_mlla_reference
        set_cpu_kernels(model, False)  # the literal renderings with PyTorch's plain MLP
        return use_flatten_reference(use_mlla_reference(use_spec_rendering(model)))

    def child(self, variant, args):
        if variant == 'before':
            tree = args.before_tree
            return tree, osp.join(tree, 'tools', 'benchmark.py'), 'mmagent'
        return ROOT, osp.abspath(__file__), variant

    def scaling_layers(self, dims, heads, device):
        from mmagent.models import AgentAttention
        from tests.reference_agent_attention import use_spec_rendering
        spec = use_spec_rendering(
            AgentAttention(dims, heads, agent_num=49, pretrain_hw=(14, 14),
                           downstream_agent_shape=(14, 14)))
        return {'agent attention (spec)': spec.to(device).eval()}


if __name__ == '__main__':
    sys.exit(benchmark.main(extension=RefactorChecks()))
