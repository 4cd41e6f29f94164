#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, unit and integration tests (which start real kvstore
# processes and drive them with the stock etcdctl 3.4, python-etcd3 and the etcd-client crate). Installs what it
# needs.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_python_etcd3
cd "$ROOT"
cargo fmt --all -- --check
cargo clippy --release --workspace --all-targets -- -D warnings
# The cross-component tests (tests/) start other packages' binaries: build them all first.
cargo build --release --workspace --bins
# Tests start servers and time lease expiry: two at a time keeps them honest on a 2-core machine.
cargo test --release --workspace -- --test-threads=2
