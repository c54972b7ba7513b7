#!/usr/bin/env bash
# Start/stop a throw-away PostgreSQL cluster for tests. Source it, then pg_temp_start; it
# exports SAXDETECT_TEST_PG=postgresql://... . Runs the server as the 'postgres' user when we
# are root (PostgreSQL refuses to run as root).
pg_temp_start() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  if [ -z "$bindir" ]; then
    echo "pg-temp: PostgreSQL is not installed; PostgreSQL tests will be skipped" >&2
    return 0
  fi
  PG_TEMP_DIR=$(mktemp -d /tmp/saxdetect-pg.XXXXXX)
  PG_TEMP_PORT=$((20000 + RANDOM % 20000))
  local as=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$PG_TEMP_DIR"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bindir/initdb" -D "$PG_TEMP_DIR/data" -U saxdetect --auth=trust -E UTF8 >/dev/null
  "${as[@]}" "$bindir/pg_ctl" -D "$PG_TEMP_DIR/data" -l "$PG_TEMP_DIR/log" -w \
    -o "-p $PG_TEMP_PORT -k $PG_TEMP_DIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off" start >/dev/null
  "${as[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$PG_TEMP_PORT" -U saxdetect saxdetect_test
  export PG_TEMP_BINDIR=$bindir PG_TEMP_DIR PG_TEMP_PORT
  export SAXDETECT_TEST_PG="postgresql://saxdetect@127.0.0.1:$PG_TEMP_PORT/saxdetect_test"
  echo "pg-temp: PostgreSQL on port $PG_TEMP_PORT ($SAXDETECT_TEST_PG)"
}

pg_temp_stop() {
  [ -n "${PG_TEMP_DIR:-}" ] || return 0
  local as=()
  [ "$(id -u)" -eq 0 ] && as=(runuser -u postgres --)
  "${as[@]}" "$PG_TEMP_BINDIR/pg_ctl" -D "$PG_TEMP_DIR/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$PG_TEMP_DIR"
  unset PG_TEMP_DIR
}
