#!/usr/bin/env bash
# Throw-away PostgreSQL server for the runtime tests (tests/runtime, "postgresql" half).
#
#   source .ci/postgres.sh
#   start_postgres            # exports SESSION_LINT_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres
#   trap stop_postgres EXIT   # the caller decides when to stop
#   ...
#   stop_postgres             # pg_ctl stop -m fast, then removes the cluster directory
#
# Or run a command against a fresh server:  .ci/postgres.sh pytest tests/runtime -q
#
# The cluster lives in a mktemp -d directory, listens only on 127.0.0.1 (free port) and on a
# unix socket inside that directory, trusts every local connection and is tuned for speed
# over durability (fsync off): it holds nothing worth keeping. PostgreSQL is installed from
# Debian packages when no initdb is found. Sourcing this file only defines functions and
# never changes the caller's shell options.

_pg_log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# Directory holding initdb/pg_ctl/postgres, installing the Debian package if needed.
_pg_find_bindir() {
    local candidate
    if candidate=$(command -v initdb 2>/dev/null); then
        dirname "$(readlink -f "$candidate")"
        return 0
    fi
    # Debian keeps the server binaries off PATH; take the newest major version.
    candidate=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [[ -n "$candidate" && -x "$candidate/initdb" ]]; then
        printf '%s\n' "$candidate"
        return 0
    fi
    return 1
}

_pg_install() {
    local sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { _pg_log "initdb not found and not root (no sudo)"; return 1; }
        sudo="sudo"
    fi
    _pg_log "initdb not found: installing PostgreSQL from Debian packages"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# Run a command as the cluster owner: postgres refuses to run as root.
_pg_as_owner() {
    if [[ $(id -u) -ne 0 ]]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$_PG_OWNER" -- "$@"
    else
        su -s /bin/sh "$_PG_OWNER" -c "$(printf '%q ' "$@")"
    fi
}

_pg_free_port() {
    local py
    py=$(command -v python3 || command -v python) || { _pg_log "python is needed to pick a port"; return 1; }
    "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start_postgres() {
    if [[ -n "${_PG_DIR:-}" ]]; then
        _pg_log "already running in $_PG_DIR ($SESSION_LINT_PG_URL)"
        return 0
    fi
    local bindir port attempt opts
    bindir=$(_pg_find_bindir) || { _pg_install && bindir=$(_pg_find_bindir); } ||
        { _pg_log "no PostgreSQL server binaries found"; return 1; }

    _PG_OWNER=$(id -un)
    if [[ $(id -u) -eq 0 ]]; then
        _PG_OWNER=postgres  # created by the Debian package; create it when absent
        id -u "$_PG_OWNER" >/dev/null 2>&1 ||
            useradd --system --no-create-home --shell /usr/sbin/nologin "$_PG_OWNER" ||
            { _pg_log "cannot create user $_PG_OWNER"; return 1; }
    fi

    # Under /tmp (not $TMPDIR, which may be a private dir the owner cannot enter).
    _PG_DIR=$(mktemp -d /tmp/session-lint-pg.XXXXXX) || return 1
    _PG_BINDIR=$bindir
    chmod 700 "$_PG_DIR"
    [[ $(id -u) -eq 0 ]] && chown "$_PG_OWNER" "$_PG_DIR"

    if ! _pg_as_owner "$bindir/initdb" -D "$_PG_DIR/data" -U postgres --auth=trust \
            --encoding=UTF8 --no-locale --no-sync >"$_PG_DIR/initdb.log" 2>&1; then
        _pg_log "initdb failed:"; cat "$_PG_DIR/initdb.log" >&2
        stop_postgres; return 1
    fi

    # The port is free when picked but could be taken before postgres binds it: retry.
    for attempt in 1 2 3; do
        port=$(_pg_free_port) || { stop_postgres; return 1; }
        opts="-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$_PG_DIR"
        opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        if _pg_as_owner "$bindir/pg_ctl" -D "$_PG_DIR/data" -l "$_PG_DIR/server.log" \
                -o "$opts" -w -t 60 start >/dev/null; then
            break
        fi
        _pg_log "start attempt $attempt on port $port failed"
        port=""
    done
    if [[ -z "$port" ]]; then
        tail -n 30 "$_PG_DIR/server.log" >&2
        stop_postgres; return 1
    fi

    # pg_ctl -w already waited; confirm the TCP listener clients will use.
    for attempt in $(seq 1 50); do
        "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres && break
        sleep 0.2
    done
    if ! "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
        _pg_log "server not accepting connections on 127.0.0.1:$port"
        tail -n 30 "$_PG_DIR/server.log" >&2
        stop_postgres; return 1
    fi

    export SESSION_LINT_PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
    _pg_log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') ready: $SESSION_LINT_PG_URL"
}

stop_postgres() {
    [[ -n "${_PG_DIR:-}" ]] || return 0
    if [[ -f "$_PG_DIR/data/postmaster.pid" ]]; then
        _pg_as_owner "$_PG_BINDIR/pg_ctl" -D "$_PG_DIR/data" -m fast -w stop >/dev/null ||
            _pg_log "pg_ctl stop failed (directory removed anyway)"
    fi
    rm -rf "$_PG_DIR"
    unset _PG_DIR _PG_BINDIR _PG_OWNER SESSION_LINT_PG_URL
}

# Executed rather than sourced: run "$@" against a fresh server, then stop it.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    set -euo pipefail
    start_postgres
    trap stop_postgres EXIT
    if [[ $# -gt 0 ]]; then
        "$@"
    else
        psql "$SESSION_LINT_PG_URL" -Atc 'select version()'
    fi
fi
