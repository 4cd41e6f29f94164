#!/usr/bin/env bash
# Brings up Flotilla on this host: builds everything, installs the binaries into /usr/local/bin and the shipped
# units (units/) into /usr/lib/flotilla/system, then runs unitd in the foreground. unitd starts default.target,
# which brings up kvstore.service (the single-member kvstore on 127.0.0.1:2379; metrics and /health on
# 127.0.0.1:2381, data in /var/lib/flotilla/kvstore) and fleetd.service (fleet's engine, this host's agent, and
# the fleet API on /var/run/fleet.sock). Drive it from another shell with fleetctl, unitctl and kvctl.
# Ctrl-C stops every unit cleanly; data stays. Arguments are passed to unitd.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_packages "${BUILD_PACKAGES[@]}"
ensure_rust
cd "$ROOT"
cargo build --release --workspace --bins
BIN="$CARGO_TARGET_DIR/release"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO install -m 0755 "$BIN/kvstore" "$BIN/kvctl" "$BIN/unitd" "$BIN/unitctl" "$BIN/fleetd" "$BIN/fleetctl" \
    /usr/local/bin/
UNITS=/usr/lib/flotilla/system
$SUDO install -d "$UNITS/multi-user.target.wants" /var/lib/flotilla
$SUDO install -m 0644 units/*.service units/*.target "$UNITS/"
# Enabled by default, as a distribution preset would: kvstore and fleetd are wanted by multi-user.target.
$SUDO ln -sfn ../kvstore.service "$UNITS/multi-user.target.wants/kvstore.service"
$SUDO ln -sfn ../fleetd.service "$UNITS/multi-user.target.wants/fleetd.service"
# fleet identifies machines by /etc/machine-id, as systemd does; create one if this host has none.
[ -s /etc/machine-id ] || $SUDO sh -c 'od -An -N16 -tx1 /dev/urandom | tr -d " \n" > /etc/machine-id'
echo "==> unitd starting default.target (kvstore on http://127.0.0.1:2379, fleetd on /var/run/fleet.sock)"
echo "    try: fleetctl start /usr/lib/flotilla/system/hello.service; fleetctl list-units; unitctl status kvstore"
exec $SUDO /usr/local/bin/unitd "$@"
