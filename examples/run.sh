#!/usr/bin/env bash
# `make run`: three demo backends and sluice in front of them.
#   ./examples/run.sh build/sluice
# Backends v1-a, v1-b, v2-a on 127.0.0.1:9001-9003; sluice on 8080 (HTTP)
# and 8081 (TCP) with examples/sluice.yaml. Ctrl-C stops everything this
# script started (by PID, nothing else).
set -u

BIN=${1:-build/sluice}
HERE=$(cd "$(dirname "$0")" && pwd)
CONFIG="$HERE/sluice.yaml"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
PORTS="9001 9002 9003 8080 8081"
PIDS=()

die() { echo "run.sh: $*" >&2; exit 1; }

[ -x "$BIN" ] || die "no sluice binary at $BIN (build it first: make build)"
[ -f "$CONFIG" ] || die "missing $CONFIG"

port_busy() {
    # bash's /dev/tcp: a successful connect means someone listens already
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in $PORTS; do
    port_busy "$p" && die "port 127.0.0.1:$p is already in use; stop what listens there first"
done

cleanup() {
    trap - INT TERM EXIT
    if [ ${#PIDS[@]} -gt 0 ]; then
        echo
        echo "stopping sluice and the demo backends (pids ${PIDS[*]})"
        for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
        for _ in $(seq 1 50); do  # 5 s, then SIGKILL the rest
            alive=0
            for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
            [ $alive = 0 ] && break
            sleep 0.1
        done
        for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
        wait 2>/dev/null
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 0' INT TERM

wait_port() {  # wait_port PORT PID WHAT: up to 10 s
    for _ in $(seq 1 100); do
        port_busy "$1" && return 0
        kill -0 "$2" 2>/dev/null || die "$3 exited before listening on $1"
        sleep 0.1
    done
    die "$3 did not listen on $1 within 10 s"
}

i=0
for name in v1-a v1-b v2-a; do
    port=$((9001 + i))
    "$PY" "$HERE/demo_backend.py" --port "$port" --name "$name" 2>/dev/null &
    PIDS+=($!)
    wait_port "$port" "$!" "demo backend $name"
    i=$((i + 1))
done

"$BIN" serve -c "$CONFIG" &
SLUICE_PID=$!
PIDS+=($SLUICE_PID)
wait_port 8080 "$SLUICE_PID" "sluice"

cat <<MSG

sluice is up: try  curl http://127.0.0.1:8080/
  backends v1-a, v1-b, v2-a on 127.0.0.1:9001-9003; 90% of requests go to v1, 10% to v2

  watch the 90/10 split:
    for i in \$(seq 20); do curl -s http://127.0.0.1:8080/ | head -1; done
  what the backend saw (X-Forwarded-For, Via, ...):
    curl -s -H 'Accept: application/json' http://127.0.0.1:8080/hello
  the TCP listener:
    curl -s http://127.0.0.1:8081/healthz
  validate, then reload the config after editing it:
    $BIN check -c $CONFIG && kill -HUP $SLUICE_PID
  the routing table through the admin API (token in examples/admin.token):
    $BIN query -c $CONFIG
    $BIN shape -c $CONFIG / route000=50 route001=50

Ctrl-C stops everything.
MSG

# Wait for Ctrl-C, or for sluice to exit by itself.
wait "$SLUICE_PID"
rc=$?
echo "sluice exited with status $rc"
exit $rc
