#!/usr/bin/env bash
# Brings up Flotilla on this host: builds everything and runs the single-member kvstore on 127.0.0.1:2379
# (metrics and /health on 127.0.0.1:2381), data in ./default.kvstore. Ctrl-C stops it; data stays.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_packages "${BUILD_PACKAGES[@]}"
ensure_rust
cd "$ROOT"
cargo build --release --workspace --bins
BIN="$CARGO_TARGET_DIR/release"
echo "==> kvstore on http://127.0.0.1:2379 (try: $BIN/kvctl put hello world; $BIN/kvctl get hello)"
exec "$BIN/kvstore" "$@"
