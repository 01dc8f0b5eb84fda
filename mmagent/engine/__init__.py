from .launch import (DatasetNotFoundError, add_common_args, apply_common_options,
                     build_runner, check_datasets, codebase_of, load_config,
                     parse_tool_args, read_metrics, setup_distributed)

__all__ = ['DatasetNotFoundError', 'add_common_args', 'apply_common_options',
           'build_runner', 'parse_tool_args', 'read_metrics',
           'check_datasets', 'codebase_of', 'load_config', 'setup_distributed']
