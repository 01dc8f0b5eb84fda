"""Helpers that build small, real fixtures (checkpoints in the published layouts, toy
datasets) for mmagent's tests, demo and benchmarks."""
from .checkpoints import (TABLE_DIR, find_table, key_table, key_tables,
                          published_checkpoint, published_classification_state,
                          published_downstream_checkpoint, published_state)

__all__ = [
    'TABLE_DIR', 'find_table', 'key_table', 'key_tables', 'published_checkpoint',
    'published_classification_state', 'published_downstream_checkpoint', 'published_state'
]
