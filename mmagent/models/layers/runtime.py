"""Run-time choices of one model, made where the model is built: the CPU kernels and
the budget of the agent-bias eval caches. Nothing here is global: each model gets its
own :class:`BiasCacheBudget`, shared by its own layers only."""
import weakref

__all__ = [
    'BiasCacheBudget', 'configure_runtime', 'set_cpu_kernels', 'DEFAULT_BIAS_CACHE_MB'
]

#: Default eval-cache budget of one model, in MiB: enough for the small maps (all of
#: Agent-DeiT-T's layers at 224, 2.8 MB), where resizing the biases is a few small ops
#: per call that the cache saves. Large maps build theirs with the separable product
#: (``agent_attention.bias_grid``) about as fast as the cache returned them: measured at
#: 800x1344, Agent-Swin-T evaluated in 1.47 s without a cache and 1.48 s with 64 MB, and
#: took 37 MiB less memory (Agent-CSwin-T: 40 MiB less).
DEFAULT_BIAS_CACHE_MB = 4


class BiasCacheBudget:
    """Bytes that the eval bias caches of one model's layers may hold together.

    Layers cache first come, first served; a layer whose entry would pass the budget
    recomputes its biases on every call instead.

    Args:
        limit_mb (float): The budget in MiB; 0 turns the caches off.
            Defaults to :data:`DEFAULT_BIAS_CACHE_MB`.
    """

    def __init__(self, limit_mb=DEFAULT_BIAS_CACHE_MB):
        if isinstance(limit_mb, bool) or not isinstance(limit_mb, (int, float)) \
                or limit_mb < 0:
            raise ValueError(f'bias_cache_mb must be a number >= 0, got {limit_mb!r}')
        self.limit_mb = limit_mb
        self.limit = int(float(limit_mb) * 2**20)
        self._holders = weakref.WeakSet()

    def used(self, exclude=None):
        """Bytes held by the caches of the layers on this budget, but ``exclude``."""
        return sum(m.cached_bytes() for m in list(self._holders) if m is not exclude)

    def admit(self, layer, nbytes):
        """Whether ``layer`` may keep an entry of ``nbytes``; registers it if so."""
        if self.used(exclude=layer) + nbytes > self.limit:
            return False
        self._holders.add(layer)
        return True

    def __deepcopy__(self, memo):  # a copied model gets a budget of its own
        return BiasCacheBudget(self.limit_mb)

    def __getstate__(self):
        return {'limit_mb': self.limit_mb}

    def __setstate__(self, state):
        self.__init__(state['limit_mb'])

    def __repr__(self):
        return f'BiasCacheBudget({self.limit_mb} MiB)'


def configure_runtime(model, cpu_kernels=True, bias_cache_mb=DEFAULT_BIAS_CACHE_MB):
    """Set the run-time choices of every layer of ``model`` that has them: one new
    :class:`BiasCacheBudget` for all its cached layers, and the CPU-kernel switch
    (see :mod:`~mmagent.models.layers.cpu_kernels`). Returns ``model``.

    Args:
        model (nn.Module): A backbone or a single layer.
        cpu_kernels (bool): Use the hand-written CPU kernels where they apply.
            Defaults to True; False forces PyTorch's own ops.
        bias_cache_mb (float): The model's eval-cache budget in MiB. Defaults to
            :data:`DEFAULT_BIAS_CACHE_MB`.
    """
    budget = BiasCacheBudget(bias_cache_mb)
    for m in model.modules():
        if hasattr(m, 'use_cpu_kernels'):
            m.use_cpu_kernels = bool(cpu_kernels)
        if hasattr(m, 'bias_cache_budget'):
            m.clear_bias_cache()
            m.bias_cache_budget = budget
    return model


def set_cpu_kernels(model, enabled=True):
    """Turn the CPU kernels of every layer of ``model`` on or off (the bias budget
    stays as it is). Returns ``model``."""
    for m in model.modules():
        if hasattr(m, 'use_cpu_kernels'):
            m.use_cpu_kernels = bool(enabled)
    return model
