#!/usr/bin/env bash
# Runs DurableBenchmark (issue 12: durable dispatch and submit latency) on no store, the in-memory
# store, H2 in file mode and a throw-away PostgreSQL server on loopback, in one run.
#
# The server comes from the machine's binaries (Debian's postgresql package: initdb and pg_ctl in
# /usr/lib/postgresql/*/bin, or $GPUSCHED_PG_BIN), in a temporary folder, with fsync ON (the
# production setting; the tests run with fsync off). Under root it runs as the postgres user.
#
# Usage: benchmarks/durable-bench.sh [extra JMH options]   (build the jar first:
#   ./mvnw -B -pl benchmarks -am package -DskipTests)
# Environment: THREADS (default "1 4 16 64"), JMH_OPTS (default: the benchmark's own, 2 x 10 s
# warm-up and 3 x 5 s measured; shorter warm-ups measured the JIT compiler on 2 cores),
# OUT (default benchmarks/target/durable), STORES (default "none,memory,h2,postgres").
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=benchmarks/target/gpusched-benchmarks.jar
[ -f "$JAR" ] || { echo "no $JAR: build it first (./mvnw -B -pl benchmarks -am package -DskipTests)" >&2; exit 1; }
THREADS=${THREADS:-"1 4 16 64"}
JMH_OPTS=${JMH_OPTS:-"-f 1"}
STORES=${STORES:-"none,memory,h2,postgres"}
OUT=${OUT:-benchmarks/target/durable}
mkdir -p "$OUT"

BIN=${GPUSCHED_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)}
[ -n "$BIN" ] && [ -x "$BIN/initdb" ] || { echo "no PostgreSQL binaries (initdb, pg_ctl); install Debian's postgresql" >&2; exit 1; }
DIR=$(mktemp -d /tmp/gpusched-bench-pg.XXXXXX)
AS=()
if [ "$(id -u)" = 0 ]; then chown postgres "$DIR"; AS=(runuser -u postgres --); fi
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
stop() { "${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true; rm -rf "$DIR"; }
trap stop EXIT
"${AS[@]}" "$BIN/initdb" -D "$DIR/data" -U gpusched -A trust -E UTF8 --locale=C >/dev/null
"${AS[@]}" "$BIN/pg_ctl" -D "$DIR/data" -w -l "$DIR/server.log" \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -k $DIR -c fsync=on -c synchronous_commit=on -c max_connections=100" start >/dev/null
export GPUSCHED_BENCH_PG_URL="jdbc:postgresql://127.0.0.1:$PORT/postgres?user=gpusched"
echo "PostgreSQL $("$BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, fsync on; $(nproc) cores"

# dispatch runs with -si false: with synchronized iterations a thread that finished its iteration
# keeps completing jobs while it waits for the others, and can take every job a waiting thread is
# parked for. submit runs with synchronized iterations (JMH's default): its scheduler is new for
# every iteration, and only then is that setup (a new database, 2,000 jobs) outside the measured
# time; with -si false the iteration's clock starts before the setup.
for t in $THREADS; do
  # shellcheck disable=SC2086
  java -jar "$JAR" 'DurableBenchmark.dispatch' -p store="$STORES" -t "$t" -si false $JMH_OPTS \
    -rf json -rff "$OUT/durable-dispatch-t$t.json" "$@" | tee "$OUT/durable-dispatch-t$t.txt"
  # shellcheck disable=SC2086
  java -jar "$JAR" 'DurableBenchmark.submit' -p store="$STORES" -t "$t" -si true $JMH_OPTS \
    -rf json -rff "$OUT/durable-submit-t$t.json" "$@" | tee "$OUT/durable-submit-t$t.txt"
done
