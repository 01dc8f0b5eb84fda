"""Helpers that build small, real fixtures (checkpoints in the published layouts, toy
datasets) for mmagent's tests, demo and benchmarks."""
from .checkpoints import (published_classification_state,
                          published_downstream_checkpoint)

__all__ = ['published_classification_state', 'published_downstream_checkpoint']
