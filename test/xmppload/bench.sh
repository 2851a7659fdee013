#!/usr/bin/env bash
# bench.sh [prosody] [parley] — run the xmppload benchmarks against each
# server on the same machine in the same run, and print Markdown table rows
# for docs/performance.md with the commands that produced them.
#
# For every server and mode a fresh server is started on 127.0.0.1 (so the
# idle memory figure starts from an unloaded process), measured, and stopped:
#   route: PAIRS pairs exchanging messages, WINDOW in flight per sender, for
#          DURATION after WARMUP; messages/s, latency, messages per server
#          CPU-second.
#   idle:  CONNS available sessions; server RSS growth per connection.
#   muc-fanout: OCCUPANTS in one room, SENDERS of them sending groupchat
#          (MUC_WINDOW in flight each) for DURATION after WARMUP; stanzas
#          delivered per second, latency, deliveries per server CPU-second.
#   muc-join: ROUNDS join storms of OCCUPANTS into fresh rooms; time until
#          everyone sees everyone, presence stanzas per storm.
#   (MODES="muc-fanout muc-join" runs only these.)
#
# Environment (defaults in brackets):
#   PAIRS [50]  WINDOW [16]  DURATION [20s]  WARMUP [3s]  CONNS [10000]
#   MODES ["route idle"]  BASE_PORT [25222]
#   OCCUPANTS [100]  SENDERS [10]  MUC_WINDOW [4]  ROUNDS [5]
#   LOGIN [anonymous]     or "password": accounts bench0..benchN-1 with
#                         password "bench" are created first (slow for
#                         CONNS=10000 on Prosody: prosodyctl per account)
#   OUT                   result file (JSON lines) [a temporary file]
#   SPREAD [50]           source addresses 127.0.0.1… the load comes from
#   PARLEY_BIN [bin/parley]  PARLEY_ARGS  extra flags for "parley serve"
#   PARLEY_CONFIG [test/xmppload/parley-bench.toml]  --config for Parley
#                         (rate limits off, as Prosody runs without mod_limits);
#                         set it empty to run with the defaults
#   KEEP=1                keep the temporary directory for inspection
#
# Every run is bounded: each load step stops by itself within ~3 minutes.
set -euo pipefail

cd "$(dirname "$0")/../.."
servers=("$@")
[ ${#servers[@]} -gt 0 ] || servers=(prosody parley)

pairs=${PAIRS:-50}
window=${WINDOW:-16}
duration=${DURATION:-20s}
warmup=${WARMUP:-3s}
conns=${CONNS:-10000}
modes=${MODES:-route idle}
base_port=${BASE_PORT:-25222}
occupants=${OCCUPANTS:-100}
senders=${SENDERS:-10}
muc_window=${MUC_WINDOW:-4}
rounds=${ROUNDS:-5}
login=${LOGIN:-anonymous}
spread=${SPREAD:-50}
parley_bin=${PARLEY_BIN:-bin/parley}
parley_config=${PARLEY_CONFIG-test/xmppload/parley-bench.toml}
read -r -a parley_args <<<"${PARLEY_ARGS:-}"

tmp=$(mktemp -d)
chmod 755 "$tmp" # Prosody may run as its own user and must reach its files
out=${OUT:-$tmp/results.jsonl}
server_pid=

stop_server() {
	[ -n "$server_pid" ] || return 0
	kill "$server_pid" 2>/dev/null || true
	for _ in $(seq 100); do
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$server_pid" 2>/dev/null; then
		echo "bench: $server_pid did not stop; sending SIGKILL" >&2
		kill -9 "$server_pid" 2>/dev/null || true
	fi
	server_pid=
}
cleanup() {
	stop_server
	if [ "${KEEP:-0}" = 1 ]; then
		echo "bench: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Both the tool and the servers need one descriptor per connection.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt $((conns + 100)) ]; then
	echo "bench: warning: open-file limit $(ulimit -n) is below CONNS=$conns" >&2
fi

echo "bench: building the load tool" >&2
go build -o "$tmp/xmppload" ./test/xmppload

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # PORT PID LOG — wait until PORT accepts connections
	for _ in $(seq 200); do
		if port_open "$1"; then
			return 0
		fi
		if ! kill -0 "$2" 2>/dev/null; then
			echo "bench: server exited; last lines of $3:" >&2
			tail -n 20 "$3" >&2 || true
			return 1
		fi
		sleep 0.1
	done
	echo "bench: port $1 not open after 20 s" >&2
	return 1
}

# Refuse to measure a server that listens beyond loopback.
check_loopback() { # PID
	command -v ss >/dev/null || return 0
	local bad
	bad=$(ss -Htulnp 2>/dev/null | grep "pid=$1," | awk '{print $5}' |
		grep -v -E '^(127\.[0-9.]+|\[::1\]|\[::ffff:127\.[0-9.]+\]):[0-9]+$' || true)
	if [ -n "$bad" ]; then
		echo "bench: server $1 listens beyond loopback: $bad" >&2
		return 1
	fi
}

# start_SERVER sets server_pid, port, label and server_cmd (with $DIR for
# the temporary directory, so the printed command is machine-independent).
start_prosody() {
	local dir=$tmp/prosody-$1
	port=$base_port
	local env=()
	if [ "$login" = password ]; then
		env=(AUTH=internal_hashed "ACCOUNTS=$accounts" USER_PATTERN='bench%d' PASSWORD=bench)
	fi
	server_pid=$(env "${env[@]}" test/xmppload/prosody/run-prosody.sh "$dir" "$port") || {
		server_pid=
		return 1
	}
	label="Prosody $(prosodyctl about 2>/dev/null | sed -n 's/^Prosody //p' | head -n 1)"
	server_cmd="${env[*]}${env:+ }test/xmppload/prosody/run-prosody.sh \"\$DIR\" $port"
}

start_parley() {
	local dir=$tmp/parley-$1
	port=$((base_port + 1))
	if port_open "$port"; then
		echo "bench: 127.0.0.1:$port is already in use" >&2
		return 1
	fi
	if [ ! -x "$parley_bin" ]; then
		echo "bench: $parley_bin not found: run 'make build' first; skipping Parley" >&2
		return 1
	fi
	mkdir -p "$dir"
	if [ "$login" = password ]; then
		echo "bench: creating $accounts Parley accounts" >&2
		for i in $(seq 0 $((accounts - 1))); do
			echo bench | "$parley_bin" user add "bench$i" --data "$dir" >/dev/null
		done
	fi
	local args=(serve --xmpp "127.0.0.1:$port" --http "127.0.0.1:$((base_port + 2))"
		--data "$dir" --media "127.0.0.1:$((base_port + 3))" --turn "127.0.0.1:$((base_port + 4))")
	if [ -n "$parley_config" ]; then
		args+=(--config "$parley_config")
	fi
	args+=("${parley_args[@]}")
	"$parley_bin" "${args[@]}" >"$dir.log" 2>&1 &
	server_pid=$!
	wait_port "$port" "$server_pid" "$dir.log" || { server_pid=; return 1; }
	# /healthz answers 200 once every component is ready (DESIGN.md).
	if command -v curl >/dev/null; then
		for _ in $(seq 100); do
			curl -ksf -o /dev/null "https://127.0.0.1:$((base_port + 2))/healthz" && break
			sleep 0.1
		done
	fi
	label="Parley $("$parley_bin" version 2>/dev/null | head -n 1 | sed "s/^parley //")"
	server_cmd="$parley_bin ${args[*]}"
	server_cmd=${server_cmd//$dir/\$DIR}
}

login_flags=()
if [ "$login" = password ]; then
	login_flags=(--user 'bench%d' --password bench)
fi

for server in "${servers[@]}"; do
	case $server in prosody | parley) ;; *) echo "bench: unknown server $server" >&2; exit 2 ;; esac
	for mode in $modes; do
		echo "bench: $server: $mode" >&2
		accounts=$conns
		[ "$mode" = route ] && accounts=$((2 * pairs))
		case $mode in muc-*) accounts=$occupants ;; esac
		if ! "start_$server" "$mode"; then
			continue
		fi
		check_loopback "$server_pid"
		flags=(--addr "127.0.0.1:$port" --pid "$server_pid" --server "$label"
			--server-cmd "$server_cmd" --out="$out" --spread "$spread" "${login_flags[@]}")
		case $mode in
		route)
			"$tmp/xmppload" route "${flags[@]}" --pairs "$pairs" --window "$window" \
				--duration "$duration" --warmup "$warmup" >/dev/null || echo "bench: $server route failed" >&2
			;;
		idle)
			"$tmp/xmppload" idle "${flags[@]}" --conns "$conns" >/dev/null || echo "bench: $server idle failed" >&2
			;;
		muc-fanout)
			"$tmp/xmppload" muc-fanout "${flags[@]}" --occupants "$occupants" --senders "$senders" \
				--window "$muc_window" --duration "$duration" --warmup "$warmup" >/dev/null ||
				echo "bench: $server muc-fanout failed" >&2
			;;
		muc-join)
			"$tmp/xmppload" muc-join "${flags[@]}" --occupants "$occupants" --rounds "$rounds" >/dev/null ||
				echo "bench: $server muc-join failed" >&2
			;;
		*) echo "bench: unknown mode $mode" >&2; exit 2 ;;
		esac
		stop_server
	done
done

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo
echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($cpu), $(uname -sr), $(go version | cut -d' ' -f3);"
echo "server and load generator on the same machine. Command: \`test/xmppload/bench.sh ${servers[*]}\`"
echo "(MODES=\"$modes\" PAIRS=$pairs WINDOW=$window DURATION=$duration WARMUP=$warmup CONNS=$conns SPREAD=$spread LOGIN=$login"
echo " OCCUPANTS=$occupants SENDERS=$senders MUC_WINDOW=$muc_window ROUNDS=$rounds)."
echo
if [ -s "$out" ]; then
	"$tmp/xmppload" table "$out"
else
	echo "bench: no results" >&2
	exit 1
fi
