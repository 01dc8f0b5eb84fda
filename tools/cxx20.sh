#!/usr/bin/env bash
# C++ compiler wrapper for building mmcv 2.1.0 against torch >= 2.14: torch's headers
# require C++20, but mmcv 2.1.0's setup.py passes -std=c++17 (after any CXXFLAGS, so a
# flag cannot override it). Used only by tools/install_env.sh during the mmcv build.
args=()
for a in "$@"; do
  case "$a" in
    -std=c++14|-std=c++17) args+=("-std=c++20") ;;
    *) args+=("$a") ;;
  esac
done
exec "${MMAGENT_REAL_CXX:-g++}" "${args[@]}"
