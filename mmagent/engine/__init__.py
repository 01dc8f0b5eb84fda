from .launch import (DatasetNotFoundError, apply_common_options, build_runner,
                     check_datasets, codebase_of, load_config, setup_distributed)

__all__ = ['DatasetNotFoundError', 'apply_common_options', 'build_runner',
           'check_datasets', 'codebase_of', 'load_config', 'setup_distributed']
