#!/usr/bin/env bash
# The one script to spend a lent GPU machine's minutes on (see ../shared/gpu/README.md):
#   here:      deno install && bash ../shared/gpu/pack.sh
#   on device: run with carry [".gpu", "node_modules"]: bash scripts/device-bench.sh
# It prints the adapter (and stops if it is a software one), runs the kernel tests on the GPU variant, then the
# benchmark; results land in $OUT (or bench/results/) for BENCHMARKS.md.
set -uo pipefail
out=${OUT:-bench/results}
mkdir -p "$out"
bash .gpu/on-device.sh "deno eval --cached-only 'import {acquireDevice, formatAdapter} from \"./src/gpu/device.ts\"; const {report} = await acquireDevice(); console.log(formatAdapter(report)); if (report.isSoftware) Deno.exit(3);'" || {
  echo "no hardware adapter: stopping before the benchmark"
  exit 3
}
bash .gpu/on-device.sh "deno test --cached-only -A tests/matmul.test.ts tests/kernels_conv.test.ts tests/kernels_elementwise.test.ts tests/network.test.ts" 2>&1 | tail -5
bash .gpu/on-device.sh "deno run --cached-only -A bench/main.ts --skip-tfjs --out $out/gpu.json" 2>&1 | tee "$out/gpu.txt"
