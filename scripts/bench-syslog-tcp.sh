#!/usr/bin/env bash
# Syslog over TCP into `ward serve`: one connection on loopback, newline framing, N distinct
# RFC 5424 sshd lines (default 200,000), timed from the client's start until `ward verify`
# counts every one stored. Needs python3 and a release build (cargo build --release).
set -euo pipefail
N="${1:-200000}"
ward="$(dirname "$0")/../target/release/ward"
dir="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT
cat > "$dir/ward.toml" <<TOML
[listen.syslog_tcp]
enabled = true
bind = "127.0.0.1:15601"
rate_per_peer = 0
[listen.http]
enabled = false
TOML
"$ward" --data-dir "$dir/data" --config "$dir/ward.toml" -q serve > "$dir/serve.log" 2>&1 &
server=$!
sleep 1
start=$(date +%s.%N)
python3 - "$N" <<'PY'
import socket, sys
n = int(sys.argv[1])
lines = b"".join(
    f"<38>1 2026-11-02T08:{(i // 60000) % 60:02d}:{(i // 1000) % 60:02d}.{i % 1000:03d}Z vpn{i % 7} sshd {4000 + i % 900} - - "
    f"Failed password for invalid user u{i} from 203.0.113.{i % 250} port {1024 + i % 60000} ssh2\n".encode()
    for i in range(n)
)
s = socket.create_connection(("127.0.0.1", 15601))
s.sendall(lines)
s.close()
PY
until "$ward" --data-dir "$dir/data" verify 2>/dev/null | grep -q "($N events"; do sleep 0.1; done
end=$(date +%s.%N)
python3 -c "import sys; n, t = int(sys.argv[1]), float(sys.argv[3]) - float(sys.argv[2]); print(f'{n} syslog messages stored in {t:.2f} s = {n / t:,.0f} messages/s')" "$N" "$start" "$end"
