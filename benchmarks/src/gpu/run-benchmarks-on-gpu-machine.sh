#!/usr/bin/env bash
# The benchmark half of a session on the lent GPU machine (16 cores, one H100): the runs that a
# 2-core VM cannot do. Run from the repository root with a JRE and the shaded benchmarks jar:
#
#   here:   ./mvnw -B -q -DskipTests package        # -> benchmarks/target/gpusched-benchmarks.jar
#   there:  JAVA=.jre/bin/java benchmarks/src/gpu/run-benchmarks-on-gpu-machine.sh [OUT_DIR]
#
# Writes one text and one JSON file per run into OUT_DIR (default: $OUT, else target/gpu-bench) and
# prints a summary. About 16 minutes with the defaults (the device tool allows 10 per command:
# run it as separate commands with PART=1, PART=2 and PART=3). Read-only on the GPU. The NVML tests are the other
# half: gpusched-nvml/src/test/gpu/run-gpu-tests.sh.
set -u
cd "$(dirname "$0")/../../.." || exit 2
JAVA=${JAVA:-java}
JAR=benchmarks/target/gpusched-benchmarks.jar
OUT_DIR=${1:-${OUT:-target/gpu-bench}}
PART=${PART:-all}
mkdir -p "$OUT_DIR"
[ -f "$JAR" ] || { echo "no $JAR: build it with ./mvnw -B -q -DskipTests package"; exit 2; }

echo "== machine: $(hostname) $(nproc) cpus; $("$JAVA" -version 2>&1 | head -1)"
nvidia-smi -L 2>/dev/null || echo "(no nvidia-smi)"

run() { # name, jmh args...
  local name=$1; shift
  echo "== $name: $*"
  "$JAVA" -jar "$JAR" "$@" -rf json -rff "$OUT_DIR/$name.json" > "$OUT_DIR/$name.txt" 2>&1
  local rc=$?
  grep -E '^(Benchmark|[A-Za-z]+Benchmark\.)' "$OUT_DIR/$name.txt" | grep -v ':p0\.' | tail -n 40
  [ $rc = 0 ] || echo "!! $name exited $rc (see $OUT_DIR/$name.txt)"
}

if [ "$PART" = all ] || [ "$PART" = 1 ]; then
  # the raw NVML read against the cached read (issue: NVML telemetry; about 2 us was seen raw)
  run telemetry-nvml TelemetryReadBenchmark -p source=nvml -f 1 -wi 3 -i 5 -w 1s -r 1s
  # dispatch scaling: N threads completing and submitting against the locked baseline
  for t in 1 2 4 8 16; do
    run "dispatch-t$t" 'DispatchBenchmark.dispatch$' -f 1 -wi 2 -i 3 -w 2s -r 2s -t "$t" -si false
  done
fi
if [ "$PART" = all ] || [ "$PART" = 2 ]; then
  # placement scaling on the lock-free engine, with and without per-thread start offsets inside
  # tie groups (issue 13, item 3: offsets=on is the default, lanes taken while placers lose races;
  # always: every thread keeps its lane; off: every thread walks from the lowest index; at -t 1
  # all three are the same walk, a check of the noise), then the locked best fit at 1 and 16
  for t in 1 2 16; do
    run "place-mig-10k-t$t" PlaceReleaseBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s -t "$t" \
      -p mix=MIG -p size=10000 -p strategy=BEST_FIT,FRAGMENTATION_AWARE -p impl=gpusched \
      -p offsets=on,always,off
  done
  for t in 1 16; do
    run "place-mig-10k-locked-t$t" PlaceReleaseBenchmark -f 1 -wi 2 -i 3 -w 2s -r 2s -t "$t" \
      -p mix=MIG -p size=10000 -p strategy=BEST_FIT -p impl=locked
  done
fi
if [ "$PART" = all ] || [ "$PART" = 3 ]; then
  # the fill experiment's decisions per second on a server core (issue 13, item 1: at least 100 k
  # per core), the six generated workloads, one placing thread, ten 2 s warm-up iterations each
  run fill-decisions FillDecisionBenchmark -f 1 -wi 10 -i 5 -w 2s -r 2s
fi
echo "== files in $OUT_DIR"
ls -la "$OUT_DIR"
