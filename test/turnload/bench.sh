#!/usr/bin/env bash
# bench.sh — relayed packets per server CPU-second: Parley's embedded TURN server and coturn (Debian
# package `coturn`: turnserver) under the same load, one after the other in the same run, on loopback.
# Prints a Markdown table for docs/performance.md and the exact commands.
#
#   test/turnload/bench.sh            # from anywhere; builds parley and turnload into a temporary dir
#
# For every rate in RATES and every server, a fresh server is started, loaded by turnload (ALLOCS UDP
# allocations with REST credentials, a channel from each to each of PEERS UDP sinks on PEER_IP, ChannelData
# of SIZE bytes at RATE packets/s in total, WARMUP then a DURATION window), measured, and stopped by its
# PID. With ECHO_RATES, the same again with the peers echoing every packet back through the relay.
#
# Peers listen on 127.0.0.2, not 127.0.0.1: for Parley 127.0.0.1 is one of its own host addresses, where
# a relay may reach only the bridge's media port (the peer policy, internal/turn/policy.go): ChannelBind
# to a peer on 127.0.0.1 succeeds (the bridge listens on that IP) but every packet to it is dropped, even
# with --turn-allow-peers 127.0.0.0/8. Every socket of the benchmark is on 127.0.0.0/8.
#
# Environment (defaults in brackets): RATES ["20000 50000"]  ECHO_RATES [20000]  ALLOCS [8]  PEERS [4]
#   SIZE [200]  WARMUP [2s]  DURATION [15s]  SERVERS ["parley coturn"]  PARLEY_PORT [3479]
#   COTURN_PORT [3480]  BASE_PORT [25300] (Parley's HTTP, XMPP and media ports)  KEEP=1 keeps the temp dir.
# Every step is bounded (allocation retries 15 s, window ≤ 60 s, server stop 5 s then SIGKILL); the
# defaults take about 2 minutes plus the build.
set -euo pipefail
cd "$(dirname "$0")/../.."

rates=${RATES-20000 50000}
echo_rates=${ECHO_RATES-20000}
allocs=${ALLOCS:-8}
peers=${PEERS:-4}
size=${SIZE:-200}
warmup=${WARMUP:-2s}
duration=${DURATION:-15s}
servers=${SERVERS:-parley coturn}
parley_port=${PARLEY_PORT:-3479}
coturn_port=${COTURN_PORT:-3480}
base_port=${BASE_PORT:-25300}
peer_ip=127.0.0.2

tmp=$(mktemp -d)
server_pid=
stop_server() {
	[ -n "$server_pid" ] || return 0
	kill "$server_pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		echo "bench: $server_pid did not stop; sending SIGKILL" >&2
		kill -9 "$server_pid" 2>/dev/null || true
	fi
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}
cleanup() {
	stop_server
	if [ "${KEEP:-0}" = 1 ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

command -v turnserver >/dev/null || { echo "bench: turnserver not installed (apt-get install coturn)" >&2; exit 1; }
# A random REST secret shared by both servers and the load generator (printed as $SECRET).
secret=$(od -An -N18 -tx1 /dev/urandom | tr -d ' \n')

echo "bench: building parley and turnload" >&2
go build -o "$tmp/parley" ./cmd/parley
go build -o "$tmp/turnload" ./test/turnload

# Parley's [turn-server] settings for the benchmark: coturn runs without per-user bandwidth limits
# (max-bps 0) and without TLS, so Parley does too.
cat >"$tmp/parley-turn.toml" <<'EOF'
[turn-server]
tls-port = 0
user-bandwidth = 0
user-allocations = 1000
EOF

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port_free() { # PORT — neither TCP nor UDP in use on 127.0.0.1
	! port_open "$1" && ! { command -v ss >/dev/null && ss -Huln "sport = :$1" | grep -q .; }
}
wait_port() { # PORT LOG — until PORT accepts TCP connections or the server exits
	for _ in $(seq 150); do
		port_open "$1" && return 0
		if ! kill -0 "$server_pid" 2>/dev/null; then
			echo "bench: server exited; last lines of $2:" >&2
			tail -n 20 "$2" >&2 || true
			return 1
		fi
		sleep 0.1
	done
	echo "bench: port $1 not open after 15 s" >&2
	return 1
}
# Refuse to measure a server that listens beyond loopback.
check_loopback() {
	command -v ss >/dev/null || return 0
	local bad
	bad=$(ss -Htulnp 2>/dev/null | grep "pid=$server_pid," | awk '{print $5}' |
		grep -v -E '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' || true)
	if [ -n "$bad" ]; then
		echo "bench: server $server_pid listens beyond loopback: $bad" >&2
		return 1
	fi
}

# start_SERVER starts a fresh server in $tmp/NAME-RUN and sets server_pid, port, label and cmd (with
# $DIR for the directory and $SECRET for the secret, so the printed command is machine-independent).
start_parley() {
	local dir=$tmp/parley-$1
	mkdir -p "$dir"
	port=$parley_port
	port_free "$port" || { echo "bench: 127.0.0.1:$port is in use" >&2; return 1; }
	local args=(serve --data "$dir/data" --http "127.0.0.1:$base_port" --xmpp "127.0.0.1:$((base_port + 1))"
		--media "127.0.0.1:$((base_port + 2))" --turn "127.0.0.1:$port" --turn-secret "$secret"
		--turn-allow-peers 127.0.0.0/8 --config "$tmp/parley-turn.toml")
	"$tmp/parley" "${args[@]}" >"$dir/parley.log" 2>&1 &
	server_pid=$!
	wait_port "$port" "$dir/parley.log" || return 1 # TURN over TCP shares the UDP port number
	label="Parley $("$tmp/parley" version 2>/dev/null | head -n 1 | sed 's/^parley //')"
	cmd="parley ${args[*]}"
	cmd=${cmd//$dir/\$DIR}
	cmd=${cmd//$tmp\/parley-turn.toml/\$DIR/parley-turn.toml}
	cmd=${cmd//$secret/\$SECRET}
}

start_coturn() {
	local dir=$tmp/coturn-$1
	mkdir -p "$dir"
	port=$coturn_port
	port_free "$port" || { echo "bench: 127.0.0.1:$port is in use" >&2; return 1; }
	# -n: no configuration file; everything (pid file, log, user database) in $dir.
	local args=(-n --listening-ip=127.0.0.1 --relay-ip=127.0.0.1 --listening-port="$port"
		--min-port=40000 --max-port=40999 --realm=turnload
		--use-auth-secret --static-auth-secret="$secret"
		--allow-loopback-peers --no-multicast-peers --no-tls --no-dtls --no-cli
		--pidfile="$dir/turnserver.pid" --log-file="$dir/turnserver.log" --simple-log --no-stdout-log
		--db="$dir/turndb")
	turnserver "${args[@]}" >"$dir/stdout.log" 2>&1 &
	server_pid=$!
	wait_port "$port" "$dir/turnserver.log" || return 1
	label="coturn $(dpkg-query -W -f='${Version}' coturn 2>/dev/null || turnserver --version 2>/dev/null | head -n 1)"
	cmd="turnserver ${args[*]}"
	cmd=${cmd//$dir/\$DIR}
	cmd=${cmd//$secret/\$SECRET}
}

rows=()
cmds=()
header=--header
runs=()
for r in $rates; do runs+=("$r:"); done
for r in $echo_rates; do runs+=("$r:echo"); done
n=0
for spec in "${runs[@]}"; do
	rate=${spec%%:*}
	mode=${spec#*:}
	for server in $servers; do
		n=$((n + 1))
		echo "bench: $server at $rate packets/s${mode:+ ($mode)}" >&2
		if ! "start_$server" "$n"; then
			stop_server
			continue
		fi
		check_loopback || { stop_server; exit 1; }
		load=(--server "127.0.0.1:$port" --allocs "$allocs" --peers "$peers" --peer-ip "$peer_ip"
			--rate "$rate" --size "$size" --warmup "$warmup" --duration "$duration")
		[ "$mode" = echo ] && load+=(--echo)
		if row=$("$tmp/turnload" "${load[@]}" --secret "$secret" --pid "$server_pid" --label "$label" $header); then
			rows+=("$row")
			header=
		else
			echo "bench: $server at $rate packets/s failed" >&2
		fi
		stop_server
		c1="$cmd"
		c2="turnload ${load[*]} --secret \$SECRET --pid \$PID"
		case " ${cmds[*]-} " in *"$c1"*) ;; *) cmds+=("$c1") ;; esac
		cmds+=("$c2")
	done
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), $(uname -sr), $(go version | cut -d' ' -f3);"
echo "servers and load generator on the same machine, loopback only. Command: \`test/turnload/bench.sh\`"
echo "(RATES=\"$rates\" ECHO_RATES=\"$echo_rates\" ALLOCS=$allocs PEERS=$peers SIZE=$size WARMUP=$warmup DURATION=$duration)."
echo
printf '%s\n' "${rows[@]}"
echo
echo "Commands (\$DIR is a fresh temporary directory per run, \$SECRET a random REST secret, \$PID the server's):"
echo
echo '```sh'
printf '%s\n' "${cmds[@]}" | awk '!seen[$0]++'
echo '```'
[ ${#rows[@]} -gt 0 ]
