# yapf: disable  (isort wraps this import)
from .launch import (ConfigNotFoundError, DatasetNotFoundError, add_common_args,
                     apply_common_options, build_runner, check_checkpoint,
                     check_datasets, codebase_of, compile_model, load_config,
                     parse_tool_args, read_metrics, run_reporting_errors,
                     setup_distributed, user_errors)

# yapf: enable

__all__ = [
    'ConfigNotFoundError', 'DatasetNotFoundError', 'add_common_args',
    'apply_common_options', 'build_runner', 'check_checkpoint', 'parse_tool_args',
    'read_metrics', 'check_datasets', 'codebase_of', 'compile_model', 'load_config',
    'run_reporting_errors', 'setup_distributed', 'user_errors'
]
