"""Export to ONNX and check the file in ONNX Runtime (the ``deploy`` extra).

The exported graph takes what a model's ``tensor`` mode takes, the image after the data
preprocessor (which stays outside the graph, as in OpenMMLab's deployment tool), and
returns what ``tensor`` mode returns, in the same order:

* a backbone: its stage features;
* an mmpretrain classifier: the logits;
* an mmseg segmentor: the per-pixel logits of the decode head (mmseg's ``tensor`` mode,
  before the resize to the input);
* an mmdet detector: the neck's features (backbone + neck, what mmdet's heads take; the
  heads' post-processing stays in PyTorch).

Height and width are dynamic: one file serves any input size the exporter proves the
graph valid for (:func:`valid_sizes` reads that range off the exported program; the
Swin hosts' small-map rule, a window shrunk to a map smaller than it, is one such bound).

    from mmagent.deploy import export_onnx, check_onnx
    export_onnx(model, 'model.onnx', shape=(512, 512))
    report = check_onnx('model.onnx', model, [(512, 512), (608, 1000)])

Nothing in mmagent's import path imports this module: ``onnx``, ``onnxscript`` and
``onnxruntime`` are needed only here (``pip install mmagent[deploy]``).
"""
import time

import torch
from torch import nn

__all__ = [
    'AdaptiveAvgPool', 'DeployModule', 'deploy_module', 'export_onnx', 'check_onnx',
    'valid_sizes', 'trace_shape', 'preprocess_settings', 'onnx_session',
    'OnnxMismatchError'
]

#: Largest allowed max abs difference between ONNX Runtime and PyTorch (issue 23).
DEFAULT_ATOL = 1e-4


class OnnxMismatchError(AssertionError):
    """ONNX Runtime's outputs differ from PyTorch's by more than the tolerance."""


def _flatten(out):
    if isinstance(out, torch.Tensor):
        return (out, )
    if isinstance(out, (list, tuple)):
        return tuple(t for o in out for t in _flatten(o))
    raise TypeError(f'tensor mode returned {type(out).__name__}, not tensors')


class DeployModule(nn.Module):
    """The part of ``model`` that is exported, called as ``module(image)`` and returning
    a flat tuple of tensors (see the module docstring for what each kind returns)."""

    def __init__(self, model, kind):
        super().__init__()
        self.model = model
        self.kind = kind

    def forward(self, image):
        if self.kind == 'detector':
            out = self.model.extract_feat(image)
        elif self.kind in ('classifier', 'segmentor'):
            out = self.model(image, mode='tensor')
        else:
            out = self.model(image)
        return _flatten(out)


def _kind(model):
    if hasattr(model, 'extract_feat') and hasattr(model, 'data_preprocessor'):
        try:
            from mmdet.models.detectors import BaseDetector
            if isinstance(model, BaseDetector):
                return 'detector'
        except ImportError:
            pass
        try:
            from mmseg.models.segmentors import BaseSegmentor
            if isinstance(model, BaseSegmentor):
                return 'segmentor'
        except ImportError:
            pass
        try:
            from mmpretrain.models.classifiers import BaseClassifier
            if isinstance(model, BaseClassifier):
                return 'classifier'
        except ImportError:
            pass
    return 'backbone'


class AdaptiveAvgPool(nn.Module):
    """``nn.AdaptiveAvgPool2d`` that exports for any input size (see
    :func:`~mmagent.models.layers.windows.adaptive_avg_pool`); the same values."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, x):
        from mmagent.models.layers.windows import adaptive_avg_pool
        return adaptive_avg_pool(x, self.output_size)


def _shape_agnostic_pools(model):
    """Replace the fixed-size ``nn.AdaptiveAvgPool2d`` of heads and necks (mmseg's
    pyramid pooling in UPerNet) with :class:`AdaptiveAvgPool`: exporters lower the
    former to a kernel taken from the example size, wrong at every other size."""
    for parent in model.modules():
        for name, child in list(parent.named_children()):
            if type(child) is nn.AdaptiveAvgPool2d:
                size = child.output_size
                size = (size, size) if isinstance(size, int) else tuple(size)
                if all(isinstance(s, int) for s in size):
                    setattr(parent, name, AdaptiveAvgPool(size))


def deploy_module(model):
    """``model`` (a backbone, classifier, segmentor or detector) wrapped as the module
    that is exported, in eval mode; a :class:`DeployModule` is returned as it is.
    ``model``'s fixed-size adaptive pools become :class:`AdaptiveAvgPool` (in place; the
    outputs are the same)."""
    if isinstance(model, DeployModule):
        return model.eval()
    _shape_agnostic_pools(model)
    return DeployModule(model, _kind(model)).eval()


def preprocess_settings(model):
    """``dict(mean=..., std=..., bgr_to_rgb=...)`` of the data preprocessor that stays
    outside the graph, or None for a bare backbone."""
    pre = getattr(getattr(model, 'model', model), 'data_preprocessor', None)
    if pre is None or not hasattr(pre, 'mean') or getattr(pre, 'mean', None) is None:
        return None
    return dict(mean=[round(float(v), 3) for v in pre.mean.flatten()],
                std=[round(float(v), 3) for v in pre.std.flatten()],
                bgr_to_rgb=_swaps_channels(pre))


def _swaps_channels(pre):
    """Whether the preprocessor swaps BGR and RGB: MMEngine's (mmdet) keeps
    ``_channel_conversion``, mmseg's ``channel_conversion``, mmpretrain's ``to_rgb``."""
    for name in ('_channel_conversion', 'channel_conversion', 'to_rgb'):
        if hasattr(pre, name):
            return bool(getattr(pre, name))
    return False


def _import_onnx():
    try:
        import onnx  # noqa: F401
        import onnxruntime
        import onnxscript  # noqa: F401
    except ImportError as e:
        raise ImportError(f'ONNX export needs the deploy extra ({e}): '
                          f"pip install 'mmagent[deploy]'") from e
    return onnxruntime


def export_onnx(model, path, shape=(512, 512), batch=1, opset=18, dynamic=True):
    """Export ``model`` to ``path`` with the dynamo exporter and return the exported
    program (``torch.export.ExportedProgram``).

    Args:
        model (nn.Module): A backbone, classifier, segmentor or detector (or a
            :class:`DeployModule`).
        path (str): The ``.onnx`` file to write.
        shape (tuple[int, int]): Height and width of the example image (traced one
            pixel larger, see :func:`trace_shape`). Defaults to (512, 512).
        batch (int): Batch of the example; the batch dimension stays static.
            Defaults to 1.
        opset (int): ONNX opset. Defaults to 18.
        dynamic (bool): Height and width dynamic in the graph. Defaults to True.
    """
    _import_onnx()
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2
            and all(isinstance(s, int) and s > 0 for s in shape)):
        raise ValueError(f'shape must be (height, width) in pixels, got {shape!r}')
    module = deploy_module(model)
    param = next(module.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    example = torch.randn(batch, 3, *trace_shape(module, shape, dynamic), device=device)
    dims = None
    if dynamic:
        dim = torch.export.Dim.DYNAMIC
        dims = {'image': {2: dim, 3: dim}}
    with torch.no_grad():
        program = torch.onnx.export(module, (example, ), dynamo=True,
                                    input_names=['image'], dynamic_shapes=dims,
                                    opset_version=opset, verbose=False, report=False)
    program.save(path)
    return program.exported_program


def trace_shape(model, shape, dynamic=True):
    """The example size a dynamic export is traced at: ``shape`` one pixel larger, so
    that no padding of the example is zero. Traced at a size where every pad is zero
    (224 px for the Swin and CSwin layouts), a graph that torch.export proved valid for
    any size failed in ONNX Runtime at every other size (an ``Add`` of mismatched
    shapes); one pixel larger, the same graph serves 224 and every other size."""
    return tuple(s + 1 for s in shape) if dynamic else tuple(shape)


def valid_sizes(exported_program):
    """``{'height': (lo, hi), 'width': (lo, hi)}``: the input sizes the exported graph
    is valid for, as the exporter proved them (``hi`` None: unbounded)."""
    sizes = {}
    user_input = exported_program.graph_signature.user_inputs[0]
    node = next(n for n in exported_program.graph.nodes
                if n.op == 'placeholder' and n.name == user_input)
    shape = node.meta['val'].shape
    for name, s in (('height', shape[2]), ('width', shape[3])):
        if isinstance(s, int):
            sizes[name] = (s, s)
            continue
        vr = exported_program.range_constraints.get(s.node.expr)
        lo, hi = (int(vr.lower), vr.upper) if vr is not None else (2, None)
        sizes[name] = (lo, None if hi is None or str(hi) in ('oo', 'int_oo') else int(hi))
    return sizes


def onnx_session(path, threads=None):
    """An ONNX Runtime session of ``path`` on the CPU provider, warnings silenced;
    ``threads``: its intra-op threads (None: ONNX Runtime's default), one inter-op."""
    ort = _import_onnx()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if threads:
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), opts, providers=['CPUExecutionProvider'])


def check_onnx(path, model, shapes, batch=1, atol=DEFAULT_ATOL, repeat=1, seed=0,
               strict=True):
    """Run ``path`` in ONNX Runtime beside ``model`` in PyTorch on random images and
    return one dict per shape: ``shape``, ``max_diff`` (over all outputs), ``ok``
    (``max_diff <= atol``), ``torch_s`` and ``onnx_s`` (median seconds per call over
    ``repeat`` calls, after one warm-up).

    Raises:
        OnnxMismatchError: an output's count or shape differs; with ``strict`` (the
            default) also when a value differs by more than ``atol``.
    """
    module = deploy_module(model)
    session = onnx_session(path)
    input_name = session.get_inputs()[0].name
    gen = torch.Generator().manual_seed(seed)
    reports = []
    for shape in shapes:
        image = torch.randn(batch, 3, *shape, generator=gen)
        with torch.no_grad():
            expected = [t.float().cpu().numpy() for t in module(image)]
            torch_s = _timed(lambda: module(image), repeat)
        feed = {input_name: image.numpy()}
        try:
            got = session.run(None, feed)
        except Exception as e:  # a graph that cannot serve this size
            raise OnnxMismatchError(
                f'{path}: ONNX Runtime failed at input '
                f'{shape[0]}x{shape[1]}: {str(e).splitlines()[0]}') from e
        onnx_s = _timed(lambda: session.run(None, feed), repeat)
        if len(got) != len(expected):
            raise OnnxMismatchError(
                f'{path}: ONNX Runtime returned {len(got)} outputs at '
                f'{shape}, PyTorch {len(expected)}')
        diff = 0.
        for i, (e, g) in enumerate(zip(expected, got)):
            if e.shape != g.shape:
                raise OnnxMismatchError(f'{path}: output {i} at input {shape} has shape '
                                        f'{tuple(g.shape)} in ONNX Runtime, '
                                        f'{tuple(e.shape)} in PyTorch')
            diff = max(diff, float(abs(e - g).max()) if e.size else 0.)
        reports.append(
            dict(
                shape=tuple(shape), max_diff=diff, ok=diff <= atol, torch_s=torch_s,
                onnx_s=onnx_s))
        if strict and not diff <= atol:
            raise OnnxMismatchError(
                f'{path}: ONNX Runtime differs from PyTorch by {diff:.3g} '
                f'at input {shape[0]}x{shape[1]} (tolerance {atol:g})')
    return reports


def _timed(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]
