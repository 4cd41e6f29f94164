# Shared by scripts/up.sh and scripts/test.sh: installs what the build and tests need, on a fresh machine too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Outside the clone, so repeated runs (and CI's fresh clones) reuse the RocksDB build (~10 min cold).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/flotilla-target}"

# apt packages the build needs: RocksDB's bindgen needs libclang, the etcd protos need protoc.
BUILD_PACKAGES=(clang libclang-dev protobuf-compiler)
# apt packages the tests use: the stock etcdctl 3.4 and etcd 3.4 as references (never part of Flotilla);
# dbus-daemon and systemd's busctl to drive unitd's D-Bus API the way systemd's own tools do; python3 for the
# sd_notify and memory-hog test services; iproute2 for the network namespaces the KV-cluster partition test builds.
TEST_PACKAGES=(etcd-client etcd-server dbus-daemon systemd python3 iproute2)

ensure_packages() {
    local missing=()
    for p in "$@"; do
        dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "==> installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    # Debian's etcd-server package may start a daemon on 2379 where an init system runs; tests use their own.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
        systemctl stop etcd || true
    fi
}

# python-etcd3, the Python client the tests drive kvstore with, in its own venv (etcd3 0.12 needs protobuf 3).
ensure_python_etcd3() {
    local venv="${FLOTILLA_PYENV:-/var/cache/flotilla-pyenv}"
    if ! "$venv/bin/python" -c "import etcd3" >/dev/null 2>&1; then
        echo "==> installing python-etcd3 into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "etcd3==0.12.0" "protobuf>=3.20,<4" "grpcio>=1.60"
    fi
    export FLOTILLA_PYTHON="$venv/bin/python"
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install a Rust toolchain (rustup) first" >&2; exit 1; }
    mkdir -p "$CARGO_TARGET_DIR"
}
