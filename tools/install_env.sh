#!/usr/bin/env bash
# Install the pinned OpenMMLab stack and mmagent (editable) into one Python environment.
#
#   tools/install_env.sh                 # creates .venv/ at the repo root and installs there
#   PYTHON=/path/to/python tools/install_env.sh   # installs into an existing environment
#
# Idempotent: when everything is already importable at the pinned versions it only
# re-links mmagent and returns within seconds.
set -euo pipefail

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
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
if "$py" - "$TORCH_VERSION" "$TORCHVISION_VERSION" "$MMCV_VERSION" <<'PYEOF' 2>/dev/null; then
import sys, importlib.metadata as md
want_torch, want_tv, want_mmcv = sys.argv[1:4]
pins = {'torch': want_torch, 'torchvision': want_tv, 'mmcv': want_mmcv, 'mmengine': '0.10.7', 'mmdet': '3.3.0',
        'mmsegmentation': '1.2.2', 'mmpretrain': '1.2.0'}
for name, ver in pins.items():
    if not md.version(name).split('+')[0] == ver:
        sys.exit(1)
for name in ('ftfy', 'regex', 'pytest', 'onnx', 'onnxscript', 'onnxruntime',
             'flake8', 'isort', 'yapf'):
    md.version(name)
import pkg_resources  # noqa: F401  (MMEngine needs it for 'mmdet::' base configs)
import numpy
assert int(numpy.__version__.split('.')[0]) < 2
from mmcv.ops import nms  # noqa: F401  (compiled ops present, and built for this torch)
import torchvision  # noqa: F401
import mmpretrain.models  # noqa: F401  (imports torchvision's ops)
import onnx, onnxruntime, onnxscript  # noqa: F401,E401  (deploy extra, with numpy<2)
PYEOF
  say "pinned stack already installed in $("$py" -c 'import sys; print(sys.prefix)')"
else
  say "installing the pinned stack (torch==$TORCH_VERSION, torchvision==$TORCHVISION_VERSION, mmcv==$MMCV_VERSION built from source, mmengine, mmdet, mmseg, mmpretrain)"
  # mmcv compiles C++ extensions: check the tool chain before spending minutes on it.
  command -v "${CXX:-g++}" >/dev/null 2>&1 || die "no C++ compiler (${CXX:-g++}) on PATH: mmcv's ops must be compiled (Debian: apt-get install build-essential)"
  inc="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
  [ -f "$inc/Python.h" ] || die "Python headers missing ($inc/Python.h): install the python3-dev package for $("$py" --version 2>&1)"

  pip=("$py" -m pip)
  "${pip[@]}" install -q --upgrade pip >/dev/null 2>&1 || true
  # torch 2.14.1 is the newest torch with a torchvision (0.29.1) that installs here;
  # mmpretrain needs torchvision. Pinned exactly: a range would pull a newer CUDA build.
  say "step 1/4: torch==$TORCH_VERSION and torchvision==$TORCHVISION_VERSION"
  "${pip[@]}" install "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
  say "step 2/4: build tools for mmcv"
  "${pip[@]}" install "setuptools<70" wheel ninja
  if "$py" -c "import importlib.metadata as m, sys; sys.exit(m.version('mmcv') != '$MMCV_VERSION')" 2>/dev/null \
     && "$py" -c "from mmcv.ops import nms" 2>/dev/null; then
    say "step 3/4: mmcv==$MMCV_VERSION with ops already installed"
  else
    # torch 2.14's headers need C++20; mmcv 2.1.0 asks for C++17: tools/cxx20.sh
    # raises the standard flag and calls the real compiler.
    mmcv_build_env=(env MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}"
                    MMAGENT_REAL_CXX="${CXX:-g++}" CXX="$root/tools/cxx20.sh")
    say "step 3/4: mmcv==$MMCV_VERSION from source with its C++ ops."
    say "          This takes about 14 minutes on 2 cores the first time; pip caches the"
    say "          built wheel, so later installs on this machine take seconds."
    "${mmcv_build_env[@]}" "${pip[@]}" install --no-build-isolation "mmcv==$MMCV_VERSION" \
      || die "building mmcv==$MMCV_VERSION failed (see the compiler output above)"
    # pip keys its wheel cache by mmcv's source archive, not by torch: a wheel cached from
    # a build against another torch installs fine and then fails to load its ops.
    if ! "$py" -c "from mmcv.ops import nms" 2>/dev/null; then
      say "          the cached mmcv wheel was built for another torch; rebuilding without the cache"
      "${mmcv_build_env[@]}" "${pip[@]}" install --no-build-isolation --no-cache-dir \
        --force-reinstall --no-deps "mmcv==$MMCV_VERSION" \
        || die "building mmcv==$MMCV_VERSION failed (see the compiler output above)"
      "$py" -c "from mmcv.ops import nms" || die "mmcv==$MMCV_VERSION ops do not load against torch==$TORCH_VERSION"
    fi
  fi
  say "step 4/4: mmengine, mmdet, mmsegmentation, mmpretrain, onnx/onnxruntime and test tools"
  "${pip[@]}" install -r requirements/stack.txt -r requirements/tests.txt \
    "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" "mmcv==$MMCV_VERSION"
fi

say "installing mmagent in editable mode"
"$py" -m pip install -q --no-deps --no-build-isolation -e . >/dev/null \
  || die "'pip install -e .' failed in $root"
"$py" -c "import mmagent, torch, mmcv; print('[mmagent install] ready: mmagent', mmagent.__version__, '| torch', torch.__version__, '| mmcv', mmcv.__version__)"
