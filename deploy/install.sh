#!/usr/bin/env bash
# Zigral's installer: idempotent, run by `make up` and `make test`. A second run is fast and changes nothing.
#
#  1. Debian packages the stack runs (only the missing ones; `apt-get update` only when some are missing).
#  2. The unprivileged user Chromium runs as (sandbox on).
#  3. The venv in .venv with the project and its locked dependencies (deploy/venv.sh runtime).
#  4. Redis and RabbitMQ: reused when the configured URLs answer, otherwise installed and started.
#
# Secrets are not made here: `zigral up` generates them once into the state directory.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
BROWSER_USER="${ZIGRAL_BROWSER__USER:-zigral}"
REDIS_URL="${ZIGRAL_REDIS__URL:-redis://127.0.0.1:6379/0}"
RABBITMQ_URL="${ZIGRAL_RABBITMQ__URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"

say() { printf 'install: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "install: must run as root (it installs Debian packages and creates the '$BROWSER_USER' user)" >&2
    exit 1
fi

# ---------------------------------------------------------------- 1. Debian packages
PACKAGES=(
    xvfb x11vnc openbox          # the virtual display, its window manager, the VNC server
    chromium                     # the one persistent browser (never a downloaded build)
    nginx-light novnc            # the web front and the noVNC client it serves
    squid                        # the egress proxy every browser request goes through
    fonts-dejavu-core fonts-liberation   # readable pages on the virtual display
    fonts-noto-cjk fonts-noto-color-emoji   # Chinese, Japanese and Korean text and emoji in captures, not boxes
    openssl                      # hashes generated secrets (VNC -rfbauth file, htpasswd)
    python3-venv                 # the project's venv
    procps curl ca-certificates
    iproute2                     # ss: the ops exporter counts VNC viewers and the bytes sent to them
    xauth x11-utils              # xauth reads the display's key; xdpyinfo: the security tests open the display
    logrotate                    # rotates nginx's and squid's own logs (/etc/logrotate.d/zigral, step 3)
)
missing=()
for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
apt_install() {
    # policy-rc.d exit 101: packages may not start their own services (nginx on :80, redis, rabbitmq, prometheus);
    # supervisor runs what the stack needs with its own configuration.
    local own_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    if [ -z "$(ls /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
        apt-get update -q
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@"; } \
        || rc=$?
    [ "$own_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
    return "$rc"
}
if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    apt_install "${missing[@]}"
fi
# Only for `make test`: a real Prometheus (and promtool) to scrape the agents, and a Redis server binary for
# the tests that start a private Redis and stop it.
if [ -n "${ZIGRAL_INSTALL_TEST_TOOLS:-}" ]; then
    test_missing=()
    for pkg in prometheus redis-server; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || test_missing+=("$pkg")
    done
    if [ "${#test_missing[@]}" -gt 0 ]; then
        say "installing test tools: ${test_missing[*]}"
        apt_install "${test_missing[@]}"
    fi
fi
# ---------------------------------------------------------------- 2. the browser user
if ! id "$BROWSER_USER" >/dev/null 2>&1; then
    say "creating system user $BROWSER_USER"
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$BROWSER_USER"
fi

# ---------------------------------------------------------------- 3. the venv
# The production set only, from the lock (requirements/runtime.txt); `make test`, `make lint` and
# `make bench` add their tools with deploy/venv.sh dev|bench.
PYTHON="$PYTHON" bash "$ROOT/deploy/venv.sh" runtime
# nginx's and squid's own logs (supervisor rotates the rest), for the log directory the Settings name.
rotate_conf="$(mktemp)"
.venv/bin/python -m zigral.logrotate > "$rotate_conf"
install -m 0644 "$rotate_conf" /etc/logrotate.d/zigral && rm -f "$rotate_conf"

# ---------------------------------------------------------------- 4. Redis and RabbitMQ
reachable() {  # host port
    timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}
hostport() {  # url default_port -> "host port"
    .venv/bin/python - "$1" "$2" <<'EOF'
import sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
print(u.hostname or "127.0.0.1", u.port or int(sys.argv[2]))
EOF
}
read -r redis_host redis_port <<<"$(hostport "$REDIS_URL" 6379)"
read -r amqp_host amqp_port <<<"$(hostport "$RABBITMQ_URL" 5672)"

if ! reachable "$redis_host" "$redis_port"; then
    say "Redis at $redis_host:$redis_port does not answer: installing and starting the project's own"
    command -v redis-server >/dev/null || apt_install redis-server
    mkdir -p /var/lib/zigral/redis /var/log/zigral
    redis-server "$ROOT/deploy/redis.conf" --port "$redis_port" --daemonize yes \
        --dir /var/lib/zigral/redis --logfile /var/log/zigral/redis.log
    for _ in $(seq 50); do reachable "$redis_host" "$redis_port" && break; sleep 0.2; done
    reachable "$redis_host" "$redis_port" || { echo "install: Redis did not start" >&2; exit 1; }
fi

if ! reachable "$amqp_host" "$amqp_port"; then
    say "RabbitMQ at $amqp_host:$amqp_port does not answer: installing and starting it"
    command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
    rabbitmq-plugins enable --offline rabbitmq_management >/dev/null   # queue figures for the ops exporter
    mkdir -p /etc/rabbitmq   # the management API on loopback only (the ops exporter is its only user)
    grep -qs '^management.tcp.ip' /etc/rabbitmq/rabbitmq.conf || echo 'management.tcp.ip = 127.0.0.1' >> /etc/rabbitmq/rabbitmq.conf
    rabbitmq-server -detached
    for _ in $(seq 120); do reachable "$amqp_host" "$amqp_port" && break; sleep 0.5; done
    reachable "$amqp_host" "$amqp_port" || { echo "install: RabbitMQ did not start" >&2; exit 1; }
fi

# The ops exporter reads unacknowledged counts and the next command's age from RabbitMQ's management API
# (port 15672, loopback). A broker on this machine gets the plugin (shipped with Debian's rabbitmq-server);
# a remote one is left as it is, and the exporter falls back to ready counts over AMQP.
case "$amqp_host" in
    127.*|localhost|::1)
        if ! reachable "$amqp_host" 15672 && command -v rabbitmq-plugins >/dev/null; then
            say "enabling RabbitMQ's management plugin on the local broker"
            if rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1; then
                for _ in $(seq 60); do reachable "$amqp_host" 15672 && break; sleep 0.5; done
            fi
            reachable "$amqp_host" 15672 || say "warning: no management API; queue metrics give ready counts only"
        fi
        ;;
esac
say "ready"
