#!/usr/bin/env bash
# Install the pinned OpenMMLab stack and mmagent (editable) into one Python environment.
#
#   tools/install_env.sh                 # creates .venv/ at the repo root and installs there
#   PYTHON=/path/to/python tools/install_env.sh   # installs into an existing environment
#
# Idempotent: when everything is already importable at the pinned versions it only
# re-links mmagent and returns within seconds.
set -euo pipefail

TORCH_VERSION=2.13.0
MMCV_VERSION=2.1.0
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[mmagent install] %s\n' "$*"; }
die() { printf '[mmagent install] ERROR: %s\n' "$*" >&2; exit 1; }

if [ -n "${PYTHON:-}" ]; then
  py="$PYTHON"
  command -v "$py" >/dev/null 2>&1 || [ -x "$py" ] || die "PYTHON=$py is not an executable Python interpreter"
  say "installing into the existing environment of $py"
else
  base_py="${BASE_PYTHON:-python3}"
  command -v "$base_py" >/dev/null 2>&1 || die "no '$base_py' on PATH: install Python >= 3.8 (or pass PYTHON=/path/to/python)"
  if [ ! -x .venv/bin/python ]; then
    say "creating .venv/ with $($base_py --version 2>&1)"
    "$base_py" -m venv .venv || die "'$base_py -m venv' failed: install the venv module (Debian: apt-get install python3-venv)"
  fi
  py="$root/.venv/bin/python"
fi

"$py" - <<'PYEOF' || die "Python >= 3.8 is required (found $("$py" --version 2>&1))"
import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)
PYEOF

# Fast path: everything already there at the pinned versions.
if "$py" - "$TORCH_VERSION" "$MMCV_VERSION" <<'PYEOF' 2>/dev/null; then
import sys, importlib.metadata as md
want_torch, want_mmcv = sys.argv[1], sys.argv[2]
pins = {'torch': want_torch, 'mmcv': want_mmcv, 'mmengine': '0.10.7', 'mmdet': '3.3.0',
        'mmsegmentation': '1.2.2', 'mmpretrain': '1.2.0'}
for name, ver in pins.items():
    if not md.version(name).split('+')[0] == ver:
        sys.exit(1)
for name in ('ftfy', 'regex', 'pytest'):
    md.version(name)
import pkg_resources  # noqa: F401  (MMEngine needs it for 'mmdet::' base configs)
import numpy
assert int(numpy.__version__.split('.')[0]) < 2
from mmcv.ops import nms  # noqa: F401  (compiled ops present)
PYEOF
  say "pinned stack already installed in $("$py" -c 'import sys; print(sys.prefix)')"
else
  say "installing the pinned stack (torch==$TORCH_VERSION, mmcv==$MMCV_VERSION built from source, mmengine, mmdet, mmseg, mmpretrain)"
  # mmcv compiles C++ extensions: check the tool chain before spending minutes on it.
  command -v "${CXX:-g++}" >/dev/null 2>&1 || die "no C++ compiler (${CXX:-g++}) on PATH: mmcv's ops must be compiled (Debian: apt-get install build-essential)"
  inc="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  [ -f "$inc/Python.h" ] || die "Python headers missing ($inc/Python.h): install the python3-dev package for $("$py" --version 2>&1)"

  pip=("$py" -m pip)
  "${pip[@]}" install -q --upgrade pip >/dev/null 2>&1 || true
  say "step 1/4: torch==$TORCH_VERSION (CPU wheel)"
  "${pip[@]}" install "torch==$TORCH_VERSION"
  say "step 2/4: build tools for mmcv"
  "${pip[@]}" install "setuptools<70" wheel ninja
  if "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('mmcv') != '$MMCV_VERSION')" 2>/dev/null \
     && "$py" -c "from mmcv.ops import nms" 2>/dev/null; then
    say "step 3/4: mmcv==$MMCV_VERSION with ops already installed"
  else
    say "step 3/4: mmcv==$MMCV_VERSION from source with its C++ ops."
    say "          This takes about 12 minutes on 2 cores the first time; pip caches the"
    say "          built wheel, so later installs on this machine take seconds."
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "${pip[@]}" install --no-build-isolation "mmcv==$MMCV_VERSION" \
      || die "building mmcv==$MMCV_VERSION failed (see the compiler output above)"
  fi
  say "step 4/4: mmengine, mmdet, mmsegmentation, mmpretrain and test tools"
  "${pip[@]}" install -r requirements/stack.txt -r requirements/tests.txt "torch==$TORCH_VERSION" "mmcv==$MMCV_VERSION"
fi

say "installing mmagent in editable mode"
"$py" -m pip install -q --no-deps --no-build-isolation -e . >/dev/null \
  || die "'pip install -e .' failed in $root"
"$py" -c "import mmagent, torch, mmcv; print('[mmagent install] ready: mmagent', mmagent.__version__, '| torch', torch.__version__, '| mmcv', mmcv.__version__)"
