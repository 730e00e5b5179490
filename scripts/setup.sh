#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks: Deno 2.9 (from npm), Mesa's software WebGPU drivers (llvmpipe via
# EGL and lavapipe via Vulkan), Chromium for the browser tests and GUI, Fashion-MNIST, PyTorch (Debian's
# python3-torch, for the benchmark's PyTorch peer and the PyTorch tests, with OpenBLAS: Debian's torch runs
# fully connected layers through the system BLAS, which is otherwise the reference one, 25x slower), Slurm and munge (for
# tests/pipeline_slurm.test.ts, which starts a single-node cluster with scripts/slurm-local.sh), then the npm
# packages.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -d /usr/share/datasets/fashion-mnist ] || need+=(dataset-fashion-mnist)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
dpkg -s libegl-mesa0 >/dev/null 2>&1 || need+=(libegl-mesa0)
dpkg -s libgl1-mesa-dri >/dev/null 2>&1 || need+=(libgl1-mesa-dri)
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || need+=(libopenblas0-pthread)
command -v slurmctld >/dev/null || need+=(slurm-wlm)
command -v munged >/dev/null || need+=(munge)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! command -v deno >/dev/null || ! deno --version | grep -q '^deno 2\.9'; then
  npm install -g deno@2.9.6 >/dev/null
fi
deno --version | head -1
deno install >/dev/null
