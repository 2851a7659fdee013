#!/usr/bin/env bash
# Videobridge load comparison: Parley's bridge and Janus's VideoRoom (Debian package `janus`) under the
# same load, one after the other, for each scenario. Prints a Markdown table.
#
#   sudo apt-get install -y janus      # once; the package's own service is not used
#   test/sfuload/bench.sh              # from the repository root, as root (it makes a network namespace)
#
# Everything runs in a private network namespace (unshare --net) that nothing else can reach: `lo` and
# one veth pair, sfuload0 = 198.18.0.1 (the SFUs) and sfuload1 = 198.18.0.2 (the clients), addresses
# from the range RFC 2544 sets aside for benchmarks. Janus cannot use plain loopback: libnice never
# gathers candidates on loopback-flagged interfaces (Janus then gathers on every interface), and it pins
# its sockets to their interface (IP_UNICAST_IF), so its packets cross the veth and need accept_local.
# Both SFUs and all clients use the same addresses and the same path.
#
# Environment: WARMUP (default 5s), DURATION (default 20s), SCENARIOS (default "1x20 1x60 6x0 3x60": senders x
# receive-only participants; with more than one sender the senders also receive each other), SFULOAD_FLAGS
# (more sfuload flags, e.g. "-targets parley -bridge-cpuprofile /tmp/bridge.prof" to profile the bridge).
set -euo pipefail
cd "$(dirname "$0")/../.."

WARMUP=${WARMUP:-5s}
DURATION=${DURATION:-20s}
SCENARIOS=${SCENARIOS:-"1x20 1x60 6x0 3x60"}

if [[ ${SFULOAD_IN_NETNS:-} != 1 ]]; then
	command -v janus >/dev/null || { echo "bench.sh: janus not installed (apt-get install -y janus)" >&2; exit 1; }
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	go build -o "$bin/sfuload" ./test/sfuload
	go build -o "$bin/bridgeserver" ./test/sfuload/bridgeserver
	echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $(go version | cut -d' ' -f3); janus $(dpkg-query -W -f='${Version}' janus 2>/dev/null)"
	echo
	SFULOAD_IN_NETNS=1 SFULOAD_BIN="$bin" WARMUP=$WARMUP DURATION=$DURATION SCENARIOS=$SCENARIOS SFULOAD_FLAGS=${SFULOAD_FLAGS:-} \
		unshare --net --fork -- "$0"
	exit
fi

# Inside the namespace.
ip link set lo up
ip link add sfuload0 type veth peer name sfuload1
sysctl -qw net.ipv6.conf.sfuload0.disable_ipv6=1 net.ipv6.conf.sfuload1.disable_ipv6=1 || true
sysctl -qw net.ipv4.conf.sfuload0.accept_local=1 net.ipv4.conf.sfuload1.accept_local=1
ip addr add 198.18.0.1/32 dev sfuload0
ip addr add 198.18.0.2/32 dev sfuload1
ip link set sfuload0 up
ip link set sfuload1 up

first=1
for s in $SCENARIOS; do
	senders=${s%x*}
	receivers=${s#*x}
	args=(-senders "$senders" -receivers "$receivers" -warmup "$WARMUP" -duration "$DURATION"
		-server-ip 198.18.0.1 -client-iface sfuload1 -client-ip 198.18.0.2)
	if [[ $first == 1 ]]; then args+=(-header); fi
	# shellcheck disable=SC2206 # split on purpose
	args+=(${SFULOAD_FLAGS:-})
	echo "sfuload ${args[*]}" >&2
	"$SFULOAD_BIN/sfuload" "${args[@]}" -bridgeserver "$SFULOAD_BIN/bridgeserver"
	first=0
done
