#!/usr/bin/env bash
# Runs the gpu-tagged tests of gpusched-nvml on a machine with an NVIDIA GPU, without Maven.
# Two commands (see docs/nvml.md, "GPU tests on a real machine"):
#
#   1. Here, on the build machine (repository root):
#        gpusched-nvml/src/test/gpu/run-gpu-tests.sh --prepare
#      builds the module (`package` with -am into the worktree's target folders; never `install`),
#      and puts under gpusched-nvml/target/gpu-run/ the classes, test classes, the jars the tests
#      need (no byte-buddy, no JUnit console launcher: GpuTestMain drives the JUnit launcher) and a
#      jlinked JRE (--compress=2). It then checks itself: the non-GPU tests run on that JRE and
#      class path, and the folder must stay under CARRY_LIMIT_MIB (default 48) of the 64 MiB the
#      device tool carries. Prints the size.
#   2. There, on the GPU machine (repository root, carrying gpusched-nvml/target/gpu-run):
#        gpusched-nvml/src/test/gpu/run-gpu-tests.sh
#      which uses gpu-run/jre (or $JAVA) and takes about one minute, under three in all.
#
# The run prints the machine, the driver, nvidia-smi's readings, every compared value (GPU-CHECK
# lines) and a RESULT line per phase: first with the GPUs idle, then while a PyTorch matmul loop
# runs on GPU 0, then (as root) MIG instances made to order on GPU 0 (phase mig, below). Without python3+torch+CUDA the load phase is "RESULT load: SKIP (load phase
# skipped: no torch)", not a failure, and the idle phase's result stands. Exit status: 0 when no
# phase failed.
set -u
cd "$(dirname "$0")/../../../.." || exit 2
RUN_DIR=gpusched-nvml/target/gpu-run
CARRY_LIMIT_MIB=${CARRY_LIMIT_MIB:-48}

check_size() { # fails when the carried folder is over the limit
  local mib
  mib=$(du -sm "$RUN_DIR" | cut -f1)
  echo "carry: $RUN_DIR is ${mib} MiB (limit ${CARRY_LIMIT_MIB} MiB of the tool's 64)"
  if [ "$mib" -ge "$CARRY_LIMIT_MIB" ]; then
    echo "carry too large: trim $RUN_DIR before sending it"; return 1
  fi
}

classpath() {
  echo "$RUN_DIR/test-classes:$RUN_DIR/classes:$(ls "$RUN_DIR"/lib/*.jar | tr '\n' ':')"
}

if [ "${1:-}" = "--prepare" ]; then
  set -e
  # one reactor build: gpusched-api (and its test jar) come from the worktree, not ~/.m2; each
  # module's jars go to its own target/dependency
  # (offline first; once online if the dependency plugin's own jars are not in ~/.m2 yet)
  build=(-B -q -pl gpusched-nvml -am package
    org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies -DskipTests
    -DincludeScope=test -DexcludeArtifactIds=byte-buddy,byte-buddy-agent)
  ./mvnw -o "${build[@]}" || ./mvnw "${build[@]}"
  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/lib"
  cp -r gpusched-nvml/target/classes "$RUN_DIR/classes"
  cp -r gpusched-nvml/target/test-classes "$RUN_DIR/test-classes"
  cp gpusched-nvml/target/dependency/*.jar "$RUN_DIR/lib/"
  "${JLINK:-jlink}" --add-modules java.base,java.logging,java.management,jdk.unsupported \
    --strip-debug --no-header-files --no-man-pages --compress=2 --output "$RUN_DIR/jre" 2>&1 \
    | grep -v -i 'deprecated' || true
  # self-check: the module's non-GPU tests on the carried JRE and class path (JavaModuleTest left
  # out: it needs javac, which the JRE has not)
  "$RUN_DIR/jre/bin/java" -cp "$(classpath)" io.gpusched.nvml.GpuTestMain '!gpu' '.*JavaModuleTest' \
    > "$RUN_DIR/prepare-selfcheck.log" 2>&1 \
    || { tail -40 "$RUN_DIR/prepare-selfcheck.log"; echo "self-check failed"; exit 1; }
  grep '^GPU-TESTS' "$RUN_DIR/prepare-selfcheck.log"
  check_size
  exit 0
fi

[ -d "$RUN_DIR/lib" ] || { echo "no $RUN_DIR: run with --prepare on the build machine first"; exit 2; }
check_size || exit 2
JAVA=${JAVA:-$RUN_DIR/jre/bin/java}
CP=$(classpath)

echo "== machine"
echo "host: $(hostname)  kernel: $(uname -r)  cpus: $(nproc)  user: $(id -un) ($(id -u))"
nvidia-smi -L
echo "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
"$JAVA" -version 2>&1 | head -1
echo "== nvidia-smi"
nvidia-smi --query-gpu=index,uuid,name,pci.bus_id,memory.total,memory.used,utilization.gpu,power.draw,temperature.gpu,mig.mode.current --format=csv,noheader,nounits
nvidia-smi mig -lgip || true
nvidia-smi mig -lgipp || true

run_phase() { # phase [extra -D...]; 0 pass, 1 fail
  local phase=$1; shift
  echo "== phase: $phase"
  local log="$RUN_DIR/phase-$phase.log"
  timeout 90 "$JAVA" -Dgpusched.gpu.phase="$phase" "$@" -cp "$CP" io.gpusched.nvml.GpuTestMain gpu \
    2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" = 3 ]; then
    echo "no gpu test ran (is NVML loadable here? see the skip reasons above)"
    return 1
  fi
  return "$rc"
}

status=0
if run_phase idle; then echo "RESULT idle: PASS"; else echo "RESULT idle: FAIL"; status=1; fi

LOAD_SECONDS=${LOAD_SECONDS:-60}
if ! torch_check=$(python3 -c 'import torch; assert torch.cuda.is_available(), "CUDA not available to torch"; print(torch.__version__)' 2>&1); then
  echo "load phase skipped: no torch ($(echo "$torch_check" | tail -1))"
  echo "RESULT load: SKIP (load phase skipped: no torch)"
else
  echo "torch $torch_check"
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
  for _ in $(seq 1 30); do
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
fi
# MIG instances made to order (issue 14 item 2): as root, with MIG mode on GPU 0 (turned on here
# and back off after when it was off), MigInstancesGpuTest makes a 3g.40gb at slot 4 for a job
# that runs `nvidia-smi -L`, and checks it is destroyed after. It changes MIG state, so it is its
# own phase and tag (gpu-mig). MIG_PHASE=0 skips it.
mig_phase() { # 0 pass, 1 fail, 2 skip
  if [ "${MIG_PHASE:-1}" = 0 ]; then echo "mig phase skipped: MIG_PHASE=0"; return 2; fi
  if [ "$(id -u)" != 0 ]; then echo "mig phase skipped: not root"; return 2; fi
  local mode
  mode=$(nvidia-smi -i 0 --query-gpu=mig.mode.current --format=csv,noheader 2>/dev/null)
  case "$mode" in
    Enabled) MIG_WAS_ON=1 ;;
    Disabled)
      MIG_WAS_ON=0
      nvidia-smi -i 0 -mig 1 || { echo "mig phase skipped: cannot enable MIG mode"; return 2; }
      mode=$(nvidia-smi -i 0 --query-gpu=mig.mode.current --format=csv,noheader)
      [ "$mode" = Enabled ] || { echo "mig phase skipped: MIG mode pending ($mode), needs a reset"; nvidia-smi -i 0 -mig 0; return 2; } ;;
    *) echo "mig phase skipped: GPU 0 has no MIG mode ($mode)"; return 2 ;;
  esac
  echo "== phase: mig"
  nvidia-smi mig -i 0 -lgi || true
  timeout 180 "$JAVA" -Dgpusched.gpu.phase=mig -cp "$CP" io.gpusched.nvml.GpuTestMain gpu-mig \
    2>&1 | tee "$RUN_DIR/phase-mig.log"
  local rc=${PIPESTATUS[0]}
  echo "after the job:"; nvidia-smi mig -i 0 -lgi || true
  if [ "$MIG_WAS_ON" = 0 ]; then nvidia-smi -i 0 -mig 0 || echo "could not turn MIG mode back off"; fi
  [ "$rc" = 0 ] && return 0
  [ "$rc" = 3 ] && { echo "mig test skipped (see the reason above)"; return 2; }
  return 1
}
mig_phase; mig_rc=$?
case $mig_rc in
  0) echo "RESULT mig: PASS" ;;
  2) echo "RESULT mig: SKIP" ;;
  *) echo "RESULT mig: FAIL"; status=1 ;;
esac
echo "RESULT overall: $([ $status = 0 ] && echo PASS || echo FAIL)"
exit $status
