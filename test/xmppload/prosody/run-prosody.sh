#!/usr/bin/env bash
# run-prosody.sh DIR PORT — start a throw-away Prosody for the xmppload benchmarks.
#
# Writes a self-contained config (from prosody.cfg.lua.in beside this script),
# a self-signed certificate for "localhost" and the data directory into DIR,
# then starts Prosody on 127.0.0.1:PORT (c2s, STARTTLS) and prints its PID on
# stdout once the port accepts connections. Stop it with: kill PID
#
# Environment:
#   AUTH=anonymous         SASL ANONYMOUS on localhost (default), or
#   AUTH=internal_hashed   password accounts; then
#     ACCOUNTS=N           create N accounts (USER_PATTERN with %d = 0..N-1,
#     USER_PATTERN=bench%d  default bench%d, all with PASSWORD, default "bench")
#     PASSWORD=bench
#   FOREGROUND=1           exec Prosody in the foreground instead (no PID line)
#   PROSODY_USER=prosody   when started as root, drop to this user if it exists
#                          (setpriv, which execs, so the PID is Prosody's);
#                          PROSODY_USER= keeps root (config sets run_as_root)
#   NOFILE=65536           file descriptor limit for Prosody
set -eu

usage() { echo "usage: $0 DIR PORT" >&2; exit 2; }
[ $# -eq 2 ] || usage
dir=$1
port=$2
case $port in ''|*[!0-9]*) usage ;; esac

here=$(cd "$(dirname "$0")" && pwd)
auth=${AUTH:-anonymous}
accounts=${ACCOUNTS:-0}
user_pattern=${USER_PATTERN:-bench%d}
password=${PASSWORD:-bench}
nofile=${NOFILE:-65536}
run_user=${PROSODY_USER-prosody}

case $auth in
anonymous | internal_hashed) ;;
*) echo "run-prosody.sh: AUTH must be anonymous or internal_hashed" >&2; exit 2 ;;
esac

command -v prosody >/dev/null || { echo "run-prosody.sh: prosody not found" >&2; exit 1; }
command -v openssl >/dev/null || { echo "run-prosody.sh: openssl not found" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/data" "$dir/certs"
cfg=$dir/prosody.cfg.lua

# Lua string contents must not break out of their quotes.
case $dir in *'"'* | *'\'*) echo "run-prosody.sh: DIR must not contain quotes or backslashes" >&2; exit 2 ;; esac

sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$port|g" -e "s|@AUTH@|$auth|g" \
	"$here/prosody.cfg.lua.in" >"$cfg"

if [ ! -s "$dir/certs/localhost.crt" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 30 -subj /CN=localhost -addext subjectAltName=DNS:localhost \
		-keyout "$dir/certs/localhost.key" -out "$dir/certs/localhost.crt" 2>/dev/null
fi

# Drop root if we can: Prosody is meant to run unprivileged.
as_user=
if [ "$(id -u)" = 0 ] && [ -n "$run_user" ] && id "$run_user" >/dev/null 2>&1; then
	chown -R "$run_user:" "$dir"
	as_user="setpriv --reuid=$run_user --regid=$(id -g "$run_user") --init-groups --"
	if ! $as_user test -r "$cfg"; then
		echo "run-prosody.sh: $run_user cannot reach $dir (a parent directory is private); running as root" >&2
		as_user=
	fi
fi

if [ "$auth" = internal_hashed ] && [ "$accounts" -gt 0 ]; then
	i=0
	while [ "$i" -lt "$accounts" ]; do
		# shellcheck disable=SC2059
		name=$(printf "$user_pattern" "$i")
		$as_user prosodyctl --config "$cfg" register "$name" localhost "$password" >/dev/null
		i=$((i + 1))
	done
fi

# Raise the soft limit (and the hard one when allowed) for 10,000 clients.
ulimit -Hn "$nofile" 2>/dev/null || true
ulimit -n "$nofile" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt 10100 ]; then
	echo "run-prosody.sh: warning: file descriptor limit is $(ulimit -n); the idle benchmark needs more than 10000" >&2
fi

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if port_open "$port"; then
	echo "run-prosody.sh: 127.0.0.1:$port is already in use" >&2
	exit 1
fi

rm -f "$dir/prosody.pid"
if [ "${FOREGROUND:-0}" = 1 ]; then
	exec $as_user prosody --config "$cfg"
fi

$as_user prosody --config "$cfg" >>"$dir/prosody.out" 2>&1 &
pid=$!

# Wait until the c2s port accepts connections (at most ~10 s).
i=0
while ! port_open "$port"; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "run-prosody.sh: prosody exited; see $dir/prosody.log and $dir/prosody.out" >&2
		exit 1
	fi
	i=$((i + 1))
	if [ "$i" -ge 100 ]; then
		echo "run-prosody.sh: port $port not open after 10 s; stopping $pid" >&2
		kill "$pid"
		exit 1
	fi
	sleep 0.1
done
echo "$pid"
