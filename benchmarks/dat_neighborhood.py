"""Neighborhood attention (DAT++'s N blocks, mmagent's tiled SDPA) beside Swin-T's
window attention (mmdet's ShiftWindowMSA) on the stage-1 map of an 800x1344 image
(200x336 tokens), measured side by side in one run.

    python benchmarks/dat_neighborhood.py [--size 800 1344] [--repeat 3]

Prints the time of a forward (eval, no grad) and of a forward + backward, and the
memory a training step holds for the backward pass (the bytes of the tensors autograd
saves; on a GPU also the peak allocation), each as a ratio to Swin-T's.
"""
import argparse
import time

import torch


def saved_bytes(fn):
    """Bytes of the tensors autograd keeps for the backward of ``fn()``."""
    seen, total = set(), [0]

    def pack(t):
        key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
        if key not in seen:
            seen.add(key)
            total[0] += key[1]
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    return out, total[0]


def measure(name, module, x, hw, repeat):
    module.eval()
    with torch.no_grad():
        module(x, hw)
        start = time.perf_counter()
        for _ in range(repeat):
            module(x, hw)
        fwd = (time.perf_counter() - start) / repeat
    module.train()
    xg = x.clone().requires_grad_()
    out, held = saved_bytes(lambda: module(xg, hw))
    out.sum().backward()
    start = time.perf_counter()
    for _ in range(repeat):
        module(xg, hw).sum().backward()
    step = (time.perf_counter() - start) / repeat
    peak = None
    if x.is_cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        module(xg, hw).sum().backward()
        peak = torch.cuda.max_memory_allocated()
    return dict(name=name, fwd=fwd, step=step, held=held, peak=peak)


def main():
    from mmdet.models.backbones.swin import ShiftWindowMSA

    from mmagent.models.layers import NeighborhoodAttention
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, nargs=2, default=[800, 1344])
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    hw = (args.size[0] // 4, args.size[1] // 4)
    torch.manual_seed(0)
    rows = []
    for c, heads, label in ((96, 3, 'C96 h3 (Swin-T stage 1)'),
                            (64, 2, 'C64 h2 (DAT-T stage 1)')):
        x = torch.randn(1, hw[0] * hw[1], c, device=device)
        swin = ShiftWindowMSA(c, heads, window_size=7).to(device)
        nat = NeighborhoodAttention(c, heads).to(device)
        base = measure(f'Swin window attention, {label}', swin, x, hw, args.repeat)
        rows += [
            base,
            dict(
                measure(f'neighborhood attention 7x7, {label}', nat, x, hw, args.repeat),
                base=base)
        ]
    print(f'device {device}, map {hw[0]}x{hw[1]} ({args.size[0]}x{args.size[1]} input)')
    for r in rows:
        b = r.get('base', r)
        peak = '' if r['peak'] is None else \
            f", peak {r['peak'] / 2**20:.0f} MiB ({r['peak'] / b['peak']:.2f}x)"
        print(f"{r['name']:50s} fwd {r['fwd'] * 1e3:7.1f} ms ({r['fwd'] / b['fwd']:.2f}x)"
              f"  fwd+bwd {r['step'] * 1e3:7.1f} ms ({r['step'] / b['step']:.2f}x)"
              f"  held {r['held'] / 2**20:6.0f} MiB ({r['held'] / b['held']:.2f}x){peak}")


if __name__ == '__main__':
    main()
