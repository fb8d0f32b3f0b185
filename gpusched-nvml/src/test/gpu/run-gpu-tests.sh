#!/usr/bin/env bash
# Runs the gpu-tagged tests of gpusched-nvml on a machine with an NVIDIA GPU, without Maven:
# a JRE (17+) and the jars prepared by `--prepare` are enough. Read-only on the GPU.
#
#   On the build machine (repository root):
#     gpusched-nvml/src/test/gpu/run-gpu-tests.sh --prepare
#       builds the module and copies classes, test classes and every test-scope jar (plus the JUnit
#       console launcher) under gpusched-nvml/target/gpu-run/ (about 10 MiB).
#   On the GPU machine (repository root, with gpusched-nvml/target/gpu-run carried over):
#     JAVA=/path/to/jre/bin/java gpusched-nvml/src/test/gpu/run-gpu-tests.sh
#
# The run prints the machine, the driver, nvidia-smi's readings, every compared value
# (GPU-CHECK lines) and PASS/FAIL per phase: first with the GPUs idle, then while a PyTorch matmul
# loop (python3 with torch) runs on GPU 0; the load is stopped at the end. Exit status: 0 when both
# phases pass.
set -u
cd "$(dirname "$0")/../../../.." || exit 2
RUN_DIR=gpusched-nvml/target/gpu-run

if [ "${1:-}" = "--prepare" ]; then
  set -e
  ./mvnw -B -q -pl gpusched-nvml -am install -DskipTests
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/lib"
  cp -r gpusched-nvml/target/classes "$RUN_DIR/classes"
  cp -r gpusched-nvml/target/test-classes "$RUN_DIR/test-classes"
  ./mvnw -B -q -pl gpusched-nvml dependency:copy-dependencies -DincludeScope=test \
    -DoutputDirectory="$PWD/$RUN_DIR/lib"
  junit=$(./mvnw -B -q -pl gpusched-nvml help:evaluate -Dexpression=junit.version -DforceStdout)
  ./mvnw -B -q dependency:copy \
    -Dartifact="org.junit.platform:junit-platform-console-standalone:1.${junit#5.}" \
    -DoutputDirectory="$PWD/$RUN_DIR/launcher"
  du -sh "$RUN_DIR"
  exit 0
fi

JAVA=${JAVA:-java}
[ -d "$RUN_DIR/lib" ] || { echo "no $RUN_DIR: run with --prepare on the build machine first"; exit 2; }
LAUNCHER=$(ls "$RUN_DIR"/launcher/junit-platform-console-standalone-*.jar | head -1)
CP="$RUN_DIR/test-classes:$RUN_DIR/classes:$(ls "$RUN_DIR"/lib/*.jar | grep -v -e console-standalone -e '/junit-' -e opentest4j -e apiguardian | tr '\n' ':')"

echo "== machine"
echo "host: $(hostname)  kernel: $(uname -r)  cpus: $(nproc)"
nvidia-smi -L
echo "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
"$JAVA" -version 2>&1 | head -1
echo "== nvidia-smi"
nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,memory.total,memory.used,utilization.gpu,power.draw,temperature.gpu,mig.mode.current --format=csv,noheader,nounits
nvidia-smi mig -lgip || true
nvidia-smi mig -lgipp || true

run_phase() { # phase [extra -D...]
  local phase=$1; shift
  echo "== phase: $phase"
  local log="$RUN_DIR/phase-$phase.log"
  "$JAVA" -Dgpusched.gpu.phase="$phase" "$@" -jar "$LAUNCHER" execute \
    --class-path "$CP" --include-tag gpu --select-package io.gpusched.nvml \
    --details=tree --disable-banner --disable-ansi-colors 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if grep -Eq '\[ +0 tests successful' "$log"; then
    echo "no gpu test ran (is NVML loadable here? see the skip reasons above)"
    return 1
  fi
  return "$rc"
}

status=0
if run_phase idle; then echo "RESULT idle: PASS"; else echo "RESULT idle: FAIL"; status=1; fi

LOAD_SECONDS=${LOAD_SECONDS:-120}
python3 -c "
import time, torch
a = torch.randn(8192, 8192, device='cuda:0')
b = torch.randn(8192, 8192, device='cuda:0')
end = time.time() + $LOAD_SECONDS
while time.time() < end:
    c = a @ b
    torch.cuda.synchronize()
" &
LOAD_PID=$!
echo "== load: torch matmul loop, pid $LOAD_PID"
for _ in $(seq 1 60); do
  nvidia-smi --query-compute-apps=pid --format=csv,noheader | grep -qw "$LOAD_PID" && break
  kill -0 "$LOAD_PID" 2>/dev/null || { echo "the load exited early"; break; }
  sleep 1
done
sleep 3
nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits
if run_phase load -Dgpusched.gpu.loadPid="$LOAD_PID"; then
  echo "RESULT load: PASS"
else
  echo "RESULT load: FAIL"; status=1
fi
kill "$LOAD_PID" 2>/dev/null
wait "$LOAD_PID" 2>/dev/null
echo "RESULT overall: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
