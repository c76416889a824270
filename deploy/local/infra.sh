#!/usr/bin/env bash
# Local engines without Docker: PostgreSQL (private cluster), FerretDB (MongoDB wire
# protocol, embedded, PostgreSQL backend) and Apache Kafka (single-node KRaft from the
# jars on Maven Central), all on loopback, all state under $PUSHLEDGER_DATA_DIR.
#
#   bash deploy/local/infra.sh up|down|status
#   bash deploy/local/infra.sh up-secure|down-secure|status-secure   (a second broker: SASL/SCRAM over TLS)
#
# See deploy/local/README.md.
set -Eeuo pipefail
umask 022

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd -P)"

KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
POSTGRES_URL="${POSTGRES_URL:-postgres://pushledger:pushledger@127.0.0.1:5432/pushledger}"
MONGODB_URI="${MONGODB_URI:-mongodb://127.0.0.1:27017/pushledger}"
DATA_DIR="${PUSHLEDGER_DATA_DIR:-$REPO_ROOT/.data}"
DATA_DIR="$(realpath -m -- "$DATA_DIR")"

# Bounded waits (seconds); override for slow machines.
PG_START_TIMEOUT="${PUSHLEDGER_PG_START_TIMEOUT:-60}"
KAFKA_START_TIMEOUT="${PUSHLEDGER_KAFKA_START_TIMEOUT:-120}"
FERRETDB_START_TIMEOUT="${PUSHLEDGER_FERRETDB_START_TIMEOUT:-60}"
STOP_TIMEOUT="${PUSHLEDGER_STOP_TIMEOUT:-30}"

RUN_DIR="$DATA_DIR/run"
PG_ROOT="$DATA_DIR/postgres"
PGDATA_DIR="$PG_ROOT/data"
PG_LOG="$PG_ROOT/postgres.log"
PG_PIDFILE="$RUN_DIR/postgres.pid"
KAFKA_ROOT="$DATA_DIR/kafka"
KAFKA_LIBS="$KAFKA_ROOT/libs"
KAFKA_DATA="$KAFKA_ROOT/data"
KAFKA_LOGS="$KAFKA_ROOT/logs"
KAFKA_PROPS="$KAFKA_ROOT/server.properties"
KAFKA_LOG4J="$KAFKA_ROOT/log4j.properties"
KAFKA_PIDFILE="$RUN_DIR/kafka.pid"
KAFKA_POM="$SCRIPT_DIR/kafka/pom.xml"
FDB_SRC="$SCRIPT_DIR/ferretdb"
FDB_BIN="$DATA_DIR/bin/pushledger-ferretdb"
FDB_ROOT="$DATA_DIR/ferretdb"
FDB_LOG="$FDB_ROOT/ferretdb.log"
FDB_PIDFILE="$RUN_DIR/ferretdb.pid"
PROBE="$SCRIPT_DIR/probe.js"

say() { printf '[infra] %s\n' "$*"; }
warn() { printf '[infra] WARNING: %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s; }
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

show_log() { # file
  if [[ -s "$1" ]]; then
    printf '[infra] --- last 20 lines of %s ---\n' "$1" >&2
    tail -n 20 "$1" >&2
    printf '[infra] ---\n' >&2
  else
    printf '[infra] (log %s is empty or missing)\n' "$1" >&2
  fi
}

# ---------------------------------------------------------------- configuration parsing

loopback_host() { # host from a URL -> address to bind
  case "$1" in
    "" | localhost | 127.0.0.1) echo 127.0.0.1 ;;
    127.*) echo "$1" ;;
    *) die "refusing to run a local engine on non-loopback host '$1' (check KAFKA_BROKERS/POSTGRES_URL/MONGODB_URI)" ;;
  esac
}

urldecode() { local s="${1//+/ }"; printf '%b' "${s//%/\\x}"; }

parse_config() {
  # KAFKA_BROKERS: first broker, host:port (an optional PLAINTEXT:// prefix is tolerated)
  local b="${KAFKA_BROKERS%%,*}"
  b="${b#*://}"
  b="${b// /}"
  [[ "$b" =~ ^([^:]+):([0-9]+)$ ]] || die "KAFKA_BROKERS: expected host:port, got '$KAFKA_BROKERS'"
  KAFKA_ADV_HOST="${BASH_REMATCH[1]}"
  KAFKA_PORT="${BASH_REMATCH[2]}"
  KAFKA_HOST="$(loopback_host "$KAFKA_ADV_HOST")"
  KAFKA_CONTROLLER_PORT=$((KAFKA_PORT + 1))

  # POSTGRES_URL: postgres[ql]://user:pass@host[:port]/db[?...]
  [[ "$POSTGRES_URL" =~ ^postgres(ql)?://(([^:@/]*)(:([^@/]*))?@)?([^:/?]*)(:([0-9]+))?(/([^?]*))? ]] ||
    die "POSTGRES_URL: cannot parse '$POSTGRES_URL'"
  PG_USER="$(urldecode "${BASH_REMATCH[3]:-pushledger}")"
  PG_PASSWORD="$(urldecode "${BASH_REMATCH[5]:-pushledger}")"
  PG_HOST="$(loopback_host "${BASH_REMATCH[6]}")"
  PG_PORT="${BASH_REMATCH[8]:-5432}"
  PG_DB="$(urldecode "${BASH_REMATCH[10]:-pushledger}")"
  [[ -n "$PG_DB" ]] || PG_DB=pushledger
  PG_FERRET_DB=ferretdb
  # FerretDB keeps a pooled connection per open cursor and per statement of an update command until the command
  # ends (see libs/read-models/src/bounded-bulk-write.ts): its default pool of 50 runs dry.
  PG_FERRET_URL="postgres://${BASH_REMATCH[3]:-pushledger}:${BASH_REMATCH[5]:-pushledger}@${PG_HOST}:${PG_PORT}/${PG_FERRET_DB}?pool_max_conns=400"

  # MONGODB_URI: mongodb://[cred@]host[:port][,more]/db
  [[ "$MONGODB_URI" =~ ^mongodb://([^@/]*@)?([^:,/?]+)(:([0-9]+))? ]] || die "MONGODB_URI: cannot parse '$MONGODB_URI'"
  MONGO_HOST="$(loopback_host "${BASH_REMATCH[2]}")"
  MONGO_PORT="${BASH_REMATCH[4]:-27017}"
  MONGO_PROBE_URI="mongodb://${MONGO_HOST}:${MONGO_PORT}/pushledger?directConnection=true"

  # PostgreSQL unix socket (admin only); socket paths are limited to 107 bytes.
  PG_SOCK_DIR="$RUN_DIR/pgsock"
  if ((${#PG_SOCK_DIR} + 20 > 107)); then
    PG_SOCK_DIR="/tmp/pushledger-pg-$(printf '%s' "$DATA_DIR" | sha256sum | cut -c1-10)"
  fi
  secure_config
}

# ---------------------------------------------------------------- prerequisites

# shellcheck source=../find-go.sh
source "$SCRIPT_DIR/../find-go.sh"

find_pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$d" && -x "$d/initdb" ]] && echo "$d"
}

install_postgres() {
  ((EUID == 0)) || die "PostgreSQL not found: sudo apt-get install -y postgresql"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL not found: install the PostgreSQL server (initdb, pg_ctl) with your package manager"
  say "postgres: not installed; installing Debian's postgresql package (apt-get)"
  # Keep the package from creating (and starting) a system cluster on port 5432:
  # only our private cluster is used.
  mkdir -p /etc/postgresql-common/createcluster.d
  [[ -f /etc/postgresql-common/createcluster.d/pushledger.conf ]] ||
    printf '# written by pushledger deploy/local/infra.sh\ncreate_main_cluster = false\n' \
      >/etc/postgresql-common/createcluster.d/pushledger.conf
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null ||
    die "apt-get update failed; install PostgreSQL by hand: apt-get install -y postgresql"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null ||
    die "apt-get install postgresql failed; install it by hand: apt-get install -y postgresql"
}

# Everything that `up` will need, checked before anything starts.
check_prereqs() {
  local missing=0 v
  if ! command -v java >/dev/null 2>&1; then
    echo "[infra] ERROR: java not found: apt-get install -y openjdk-17-jre-headless" >&2; missing=1
  else
    v="$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
    if [[ "$v" =~ ^[0-9]+$ ]] && ((v < 11)); then # "1.8.0" -> 1
      echo "[infra] ERROR: java $v is too old for Kafka 3.9 (need 11+): apt-get install -y openjdk-17-jre-headless" >&2; missing=1
    fi
  fi
  if ! kafka_libs_current && ! command -v mvn >/dev/null 2>&1; then
    echo "[infra] ERROR: mvn not found (needed once to fetch the Kafka jars): apt-get install -y maven" >&2; missing=1
  fi
  if ! ferretdb_bin_current; then
    if ! GO="$(find_go)"; then
      echo "[infra] ERROR: go not found (needed to build FerretDB): install Go >= 1.21 (Debian 13: apt-get install -y golang-go; else the go.dev tarball into /usr/local/go)" >&2; missing=1
    else
      v="$("$GO" env GOVERSION 2>/dev/null || true)"
      if [[ ! "$v" =~ ^go1\.(2[1-9]|[3-9][0-9]) ]]; then
        echo "[infra] ERROR: $GO is ${v:-too old}; FerretDB needs Go >= 1.24 (Go >= 1.21 fetches it itself): install a newer Go" >&2; missing=1
      fi
    fi
  fi
  if ! command -v node >/dev/null 2>&1; then
    warn "node not found: readiness checks fall back to TCP/Java probes (apt-get install -y nodejs)"
  fi
  ((missing == 0)) || exit 1
  if ! PG_BIN="$(find_pg_bin)"; then
    install_postgres
    PG_BIN="$(find_pg_bin)" || die "PostgreSQL still not found after install (expected /usr/lib/postgresql/*/bin/initdb)"
  fi
}

# ---------------------------------------------------------------- process helpers

# pid of a process we started: the pid file exists, the process is alive and its
# command line mentions our data dir (guards against pid reuse).
our_pid() { # pidfile -> prints pid
  local pid
  [[ -f "$1" ]] || return 1
  pid="$(head -n 1 "$1" 2>/dev/null | tr -dc '0-9')"
  [[ -n "$pid" ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DATA_DIR" || return 1
  echo "$pid"
}

port_open() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_gone() { # pid timeout_s
  local deadline=$(($(now) + $2))
  while kill -0 "$1" 2>/dev/null; do
    (($(now) < deadline)) || return 1
    sleep 0.2
  done
}

# setsid -f: a new session in a forked child, so the engine outlives the calling shell
# (npm, a terminal's ^C) and nothing of ours waits on it or holds our stdout open.
# The child records its own pid, then execs the engine (same pid).
spawn() { # pidfile logfile cmd...
  local pidfile="$1" logfile="$2"
  shift 2
  rm -f "$pidfile"
  (cd / && exec 9>&- && setsid -f bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >>"$logfile" 2>&1 </dev/null)
  local i
  for i in $(seq 1 50); do
    [[ -s "$pidfile" ]] && return 0
    sleep 0.1
  done
  die "could not start $1"
}

stop_pid() { # name pidfile
  local name="$1" pidfile="$2" pid
  if pid="$(our_pid "$pidfile")"; then
    say "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
      warn "$name: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "$name: pid $pid does not exit"
    fi
    say "$name: stopped"
  else
    say "$name: not running"
  fi
  rm -f "$pidfile"
}

node_probe() { # kind target timeout_s pid [client.env] -> 0 ok, 1 failed, 2 died, 3 unavailable
  command -v node >/dev/null 2>&1 || return 3
  local rc=0
  node "$PROBE" "$1" "$2" "$(($3 * 1000))" "${4:-}" ${5:+"$5"} || rc=$?
  return "$rc"
}

# ---------------------------------------------------------------- PostgreSQL

as_pg() { # run a command as the postgres OS user (the server refuses to run as root)
  if ((EUID == 0)); then (cd / && runuser -u postgres -- "$@"); else (cd / && "$@"); fi
}

pg_pid() { # postmaster pid from its own pid file
  local pid
  [[ -f "$PGDATA_DIR/postmaster.pid" ]] || return 1
  pid="$(head -n 1 "$PGDATA_DIR/postmaster.pid" | tr -dc '0-9')"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

pg_admin_sql() { # psql as the postgres superuser over the private unix socket
  as_pg "$PG_BIN/psql" -h "$PG_SOCK_DIR" -p "$PG_PORT" -U postgres -d postgres -X -q -A -t -v ON_ERROR_STOP=1 "$@"
}

pg_answers() { # the real request: select 1 as our role over TCP, with its password
  PGPASSWORD="$PG_PASSWORD" PGCONNECT_TIMEOUT=3 "$PG_BIN/psql" -X -q -A -t \
    -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" -d "$PG_DB" -c 'select 1' 2>/dev/null | grep -qx 1
}

make_traversable() { # let the postgres user reach $1
  ((EUID == 0)) || return 0
  local d="$1"
  while [[ "$d" != / ]]; do
    d="$(dirname "$d")"
    if ! runuser -u postgres -- test -x "$d" 2>/dev/null; then
      say "postgres: chmod o+x $d (the postgres user must traverse it)"
      chmod o+x "$d"
    fi
  done
}

pg_conf() {
  cat <<EOF
# Written by deploy/local/infra.sh on every 'up' (only if changed); edit there.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK_DIR'
max_connections = 600
shared_buffers = 256MB
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 1GB
dynamic_shared_memory_type = posix
logging_collector = off
log_destination = 'stderr'
log_min_messages = warning
log_checkpoints = off
log_connections = off
log_disconnections = off
log_line_prefix = '%m [%p] %q%u@%d '
log_timezone = 'UTC'
timezone = 'UTC'
EOF
}

pg_up() {
  local t0 pid
  t0=$(now)
  mkdir -p "$RUN_DIR"
  if pid="$(pg_pid)"; then
    echo "$pid" >"$PG_PIDFILE.tmp" && mv -f "$PG_PIDFILE.tmp" "$PG_PIDFILE"
    if pg_answers; then
      say "postgres: healthy (pid $pid, $PG_HOST:$PG_PORT)"
      return 0
    fi
  fi

  if port_open "$PG_HOST" "$PG_PORT" && ! pg_pid >/dev/null; then
    die "postgres: $PG_HOST:$PG_PORT is already in use by another process (see: ss -ltnp); set POSTGRES_URL to another port"
  fi

  mkdir -p "$PG_ROOT"
  if ((EUID == 0)); then
    chown postgres:postgres "$PG_ROOT"
    make_traversable "$PG_ROOT"
  fi
  mkdir -p "$PG_SOCK_DIR"
  ((EUID == 0)) && chown postgres:postgres "$PG_SOCK_DIR"

  if [[ ! -f "$PGDATA_DIR/PG_VERSION" ]]; then
    say "postgres: initdb $PGDATA_DIR"
    rm -rf "$PGDATA_DIR"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" -U postgres --encoding=UTF8 --locale=C \
      --auth-local=trust --auth-host=scram-sha-256 --no-instructions >"$PG_ROOT/initdb.log" 2>&1 ||
      { show_log "$PG_ROOT/initdb.log"; die "postgres: initdb failed"; }
    echo "include_if_exists = 'pushledger.conf'" | as_pg tee -a "$PGDATA_DIR/postgresql.conf" >/dev/null
  fi
  if [[ "$(pg_conf)" != "$(cat "$PGDATA_DIR/pushledger.conf" 2>/dev/null)" ]]; then
    pg_conf | as_pg tee "$PGDATA_DIR/pushledger.conf" >/dev/null
  fi

  if ! pg_pid >/dev/null; then
    say "postgres: starting on $PG_HOST:$PG_PORT"
    as_pg touch "$PG_LOG"
    # setsid: the postmaster gets its own session and outlives the calling shell.
    local ctl=("$PG_BIN/pg_ctl" start -D "$PGDATA_DIR" -l "$PG_LOG" -w -t "$PG_START_TIMEOUT" -s)
    ((EUID == 0)) && ctl=(runuser -u postgres -- "${ctl[@]}")
    if ! (cd / && setsid -w "${ctl[@]}" </dev/null >/dev/null 2>&1); then
      show_log "$PG_LOG"
      die "postgres: did not start within ${PG_START_TIMEOUT}s"
    fi
  fi
  pid="$(pg_pid)" || { show_log "$PG_LOG"; die "postgres: exited right after start"; }
  echo "$pid" >"$PG_PIDFILE.tmp" && mv -f "$PG_PIDFILE.tmp" "$PG_PIDFILE"

  # Role and databases (created only when missing).
  pg_admin_sql -v u="$PG_USER" -v p="$PG_PASSWORD" -v db="$PG_DB" -v fdb="$PG_FERRET_DB" >/dev/null <<'SQL' ||
SELECT format('CREATE ROLE %I LOGIN SUPERUSER PASSWORD %L', :'u', :'p')
  WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'u') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'u')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'fdb', :'u')
  WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'fdb') \gexec
SQL
    { show_log "$PG_LOG"; die "postgres: creating role/databases failed"; }

  local deadline=$(($(now) + 15))
  until pg_answers; do
    (($(now) < deadline)) || { show_log "$PG_LOG"; die "postgres: started but 'select 1' as $PG_USER over $PG_HOST:$PG_PORT fails"; }
    sleep 0.3
  done
  say "postgres: up in $(($(now) - t0))s (pid $pid, $PG_HOST:$PG_PORT, data $PGDATA_DIR)"
}

ferretdb_pg_indexes() { # see ferretdb-id-index.sql: the _id, userId and tokenHash indexes FerretDB 1.x's own queries can use
  local t0
  t0=$(now)
  pg_admin_sql -v fdb="$PG_FERRET_DB" >/dev/null <"$SCRIPT_DIR/ferretdb-id-index.sql" ||
    die "postgres: installing the lookup index trigger in database $PG_FERRET_DB failed"
  say "postgres: lookup index trigger in database $PG_FERRET_DB ($(($(now) - t0))s)"
}

pg_down() {
  local pid
  PG_BIN="${PG_BIN:-$(find_pg_bin || true)}"
  if pid="$(pg_pid)"; then
    say "postgres: stopping (pid $pid)"
    if [[ -n "$PG_BIN" ]]; then
      as_pg "$PG_BIN/pg_ctl" stop -D "$PGDATA_DIR" -m fast -w -t "$STOP_TIMEOUT" -s >/dev/null 2>&1 || true
    else
      kill -INT "$pid" 2>/dev/null || true # SIGINT = fast shutdown
    fi
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
      warn "postgres: still running after ${STOP_TIMEOUT}s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || die "postgres: pid $pid does not exit"
    fi
    say "postgres: stopped"
  else
    say "postgres: not running"
  fi
  rm -f "$PG_PIDFILE"
}

# ---------------------------------------------------------------- Kafka

kafka_libs_current() {
  [[ -f "$KAFKA_LIBS/.pom.sha256" && "$(cat "$KAFKA_LIBS/.pom.sha256")" == "$(sha "$KAFKA_POM")" ]]
}

kafka_fetch_libs() {
  say "kafka: fetching jars from Maven Central (mvn dependency:copy-dependencies)"
  rm -rf "$KAFKA_LIBS.tmp"
  if ! mvn -B -q -Dstyle.color=never -f "$KAFKA_POM" dependency:copy-dependencies \
    -Dkafka.libs.dir="$KAFKA_LIBS.tmp" >"$KAFKA_ROOT/mvn.log" 2>&1; then
    show_log "$KAFKA_ROOT/mvn.log"
    die "kafka: mvn could not fetch the Kafka jars"
  fi
  ls "$KAFKA_LIBS.tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || die "kafka: no kafka_2.13 jar after mvn (see $KAFKA_ROOT/mvn.log)"
  sha "$KAFKA_POM" >"$KAFKA_LIBS.tmp/.pom.sha256"
  rm -rf "$KAFKA_LIBS"
  mv "$KAFKA_LIBS.tmp" "$KAFKA_LIBS"
}

kafka_props() {
  cat <<EOF
# Written by deploy/local/infra.sh on every 'up' (only if changed); edit there.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_ADV_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true
log.retention.hours=720
log.retention.bytes=-1
log.segment.bytes=134217728
log.retention.check.interval.ms=300000
EOF
}

kafka_log4j() {
  cat <<'EOF'
# Quiet broker log: warnings and errors, plus the start/stop lines.
log4j.rootLogger=WARN, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaRaftServer=INFO
EOF
}

write_if_changed() { # file content
  [[ "$2" == "$(cat "$1" 2>/dev/null)" ]] || printf '%s\n' "$2" >"$1"
}

kafka_java_probe() { # fallback when node/kafkajs is unavailable: a real ApiVersions request
  java -Xmx64m -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS" -cp "$KAFKA_LIBS/*" \
    kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" >/dev/null 2>&1
}

kafka_wait() { # pid timeout_s
  local rc=0
  node_probe kafka "$KAFKA_HOST:$KAFKA_PORT" "$2" "$1" 2>"$KAFKA_ROOT/probe.err" || rc=$?
  if ((rc == 3)); then
    local deadline=$(($(now) + $2))
    rc=1
    while (($(now) < deadline)); do
      kill -0 "$1" 2>/dev/null || { rc=2; break; }
      if port_open "$KAFKA_HOST" "$KAFKA_PORT" && kafka_java_probe; then rc=0; break; fi
      sleep 1
    done
  fi
  return "$rc"
}

kafka_up() {
  local t0 pid rc
  t0=$(now)
  mkdir -p "$RUN_DIR" "$KAFKA_ROOT" "$KAFKA_DATA" "$KAFKA_LOGS"
  if pid="$(our_pid "$KAFKA_PIDFILE")"; then
    if kafka_wait "$pid" 10; then
      say "kafka: healthy (pid $pid, $KAFKA_HOST:$KAFKA_PORT)"
      kafka_libs_current || warn "kafka: $KAFKA_POM changed since the jars were copied; run 'down' then 'up' to apply"
      [[ "$(kafka_props)" == "$(cat "$KAFKA_PROPS" 2>/dev/null)" ]] || warn "kafka: configuration changed; run 'down' then 'up' to apply"
      return 0
    fi
    warn "kafka: pid $pid is running but does not answer; waiting"
  else
    if port_open "$KAFKA_HOST" "$KAFKA_PORT" || port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
      die "kafka: port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is already in use by another process (see: ss -ltnp)"
    fi
    kafka_libs_current || kafka_fetch_libs
    write_if_changed "$KAFKA_PROPS" "$(kafka_props)"
    write_if_changed "$KAFKA_LOG4J" "$(kafka_log4j)"
    local jvm=(java -Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35
      -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
      -Dkafka.logs.dir="$KAFKA_LOGS" -Dlog4j.configuration="file:$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*")
    if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
      # A random UUID in base64url; one in 64 starts with '-', which the storage tool's argument parser
      # takes for an option ("--cluster-id: expected one argument"): draw again.
      while [[ ! -s "$KAFKA_ROOT/cluster.id" || "$(cat "$KAFKA_ROOT/cluster.id")" == -* ]]; do
        head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$KAFKA_ROOT/cluster.id"
      done
      say "kafka: formatting storage (cluster id $(cat "$KAFKA_ROOT/cluster.id"))"
      "${jvm[@]}" kafka.tools.StorageTool format -t "$(cat "$KAFKA_ROOT/cluster.id")" -c "$KAFKA_PROPS" \
        --ignore-formatted >"$KAFKA_LOGS/format.log" 2>&1 || { show_log "$KAFKA_LOGS/format.log"; die "kafka: storage format failed"; }
    fi
    say "kafka: starting on $KAFKA_HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
    spawn "$KAFKA_PIDFILE" "$KAFKA_LOGS/stdout.log" "${jvm[@]}" kafka.Kafka "$KAFKA_PROPS"
    pid="$(head -n 1 "$KAFKA_PIDFILE")"
  fi
  rc=0
  kafka_wait "$pid" "$KAFKA_START_TIMEOUT" || rc=$?
  if ((rc != 0)); then
    cat "$KAFKA_ROOT/probe.err" >&2 2>/dev/null || true
    show_log "$KAFKA_LOGS/server.log"
    show_log "$KAFKA_LOGS/stdout.log"
    ((rc == 2)) && die "kafka: the broker exited during startup"
    die "kafka: no answer on $KAFKA_HOST:$KAFKA_PORT within ${KAFKA_START_TIMEOUT}s (pid $pid left running; 'down' stops it)"
  fi
  say "kafka: up in $(($(now) - t0))s (pid $pid, $KAFKA_HOST:$KAFKA_PORT)"
}

# ---------------------------------------------------------------- Kafka with SASL/SCRAM over TLS (up-secure)
#
# A second single-node broker whose only client listener is SASL_SSL: TLS with a certificate from a local
# CA (openssl), SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN. The SCRAM users are written into the metadata log
# when the storage is formatted (KRaft: kafka-storage format --add-scram). Same jars as the plain broker.

KAFKA_SECURE_USER=pushledger

secure_config() {
  KAFKA_SECURE_PORT="${PUSHLEDGER_KAFKA_SECURE_PORT:-$((KAFKA_PORT + 100))}"
  [[ "$KAFKA_SECURE_PORT" =~ ^[0-9]+$ ]] || die "PUSHLEDGER_KAFKA_SECURE_PORT: expected a port, got '$KAFKA_SECURE_PORT'"
  KAFKA_SECURE_CONTROLLER_PORT=$((KAFKA_SECURE_PORT + 1))
  KS_ROOT="$DATA_DIR/kafka-secure"
  KS_DATA="$KS_ROOT/data"
  KS_LOGS="$KS_ROOT/logs"
  KS_PROPS="$KS_ROOT/server.properties"
  KS_TLS="$KS_ROOT/tls"
  KS_SECRETS="$KS_ROOT/secrets"
  KS_CLIENT_ENV="$KS_ROOT/client.env"
  KS_CLIENT_PROPS="$KS_ROOT/client.properties"
  KS_PIDFILE="$RUN_DIR/kafka-secure.pid"
}

new_secret() { head -c 24 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n'; }

# Passwords and certificates are made once and kept; a new password means new SCRAM credentials, so the
# storage is formatted again.
ks_material() {
  local made=0 f san
  mkdir -p "$KS_TLS" "$KS_SECRETS"
  chmod 700 "$KS_TLS" "$KS_SECRETS"
  for f in client broker keystore; do
    if [[ ! -s "$KS_SECRETS/$f.password" ]]; then
      (umask 077 && new_secret >"$KS_SECRETS/$f.password")
      made=1
    fi
  done
  ((made == 0)) || rm -rf "$KS_DATA"
  san="DNS:localhost,IP:127.0.0.1"
  if [[ "$KAFKA_ADV_HOST" =~ ^[0-9.]+$ ]]; then [[ ",$san," == *",IP:$KAFKA_ADV_HOST,"* ]] || san+=",IP:$KAFKA_ADV_HOST"
  else [[ ",$san," == *",DNS:$KAFKA_ADV_HOST,"* ]] || san+=",DNS:$KAFKA_ADV_HOST"; fi
  if ((made == 1)) || [[ ! -s "$KS_TLS/broker.p12" || "$(cat "$KS_TLS/san" 2>/dev/null)" != "$san" ]]; then
    say "kafka-secure: making a local CA and the broker's certificate ($san) in $KS_TLS"
    (
      set -e
      cd "$KS_TLS"
      umask 077
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 3650 \
        -subj "/CN=Pushledger local Kafka CA" -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout broker.key -out broker.csr -subj "/CN=localhost"
      printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >broker.ext
      openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem -days 825 -sha256 -extfile broker.ext
      openssl pkcs12 -export -in broker.pem -inkey broker.key -certfile ca.pem -name broker -out broker.p12 -passout "file:$KS_SECRETS/keystore.password"
      chmod 644 ca.pem
      printf '%s' "$san" >san
    ) >"$KS_LOGS/tls.log" 2>&1 || { show_log "$KS_LOGS/tls.log"; die "kafka-secure: openssl failed"; }
  fi
}

ks_props() {
  local broker client keystore
  broker="$(cat "$KS_SECRETS/broker.password")"
  client="$(cat "$KS_SECRETS/client.password")"
  keystore="$(cat "$KS_SECRETS/keystore.password")"
  cat <<PROPS
# Written by deploy/local/infra.sh up-secure on every start (only if changed); edit there. Holds passwords.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_SECURE_CONTROLLER_PORT
listeners=SASL_SSL://$KAFKA_HOST:$KAFKA_SECURE_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_SECURE_CONTROLLER_PORT
advertised.listeners=SASL_SSL://$KAFKA_ADV_HOST:$KAFKA_SECURE_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512,PLAIN
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="$broker";
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SECURE_USER="$client";
ssl.keystore.type=PKCS12
ssl.keystore.location=$KS_TLS/broker.p12
ssl.keystore.password=$keystore
ssl.key.password=$keystore
ssl.truststore.type=PEM
ssl.truststore.location=$KS_TLS/ca.pem
ssl.client.auth=none
ssl.endpoint.identification.algorithm=https
log.dirs=$KS_DATA
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=2
group.initial.rebalance.delay.ms=0
# Every topic is created on purpose (the services' ensureTopics), as in production.
auto.create.topics.enable=false
delete.topic.enable=true
log.retention.hours=24
log.segment.bytes=16777216
PROPS
}

ks_client_files() {
  write_if_changed "$KS_CLIENT_ENV" "# Pushledger's settings for the secure local broker (deploy/local/infra.sh up-secure).
KAFKA_BROKERS=$KAFKA_ADV_HOST:$KAFKA_SECURE_PORT
KAFKA_SSL=true
KAFKA_SSL_CA_FILE=$KS_TLS/ca.pem
KAFKA_SASL_MECHANISM=scram-sha-512
KAFKA_SASL_USERNAME=$KAFKA_SECURE_USER
KAFKA_SASL_PASSWORD_FILE=$KS_SECRETS/client.password"
  # For Kafka's own tools: --command-config $KS_CLIENT_PROPS
  (umask 077 && write_if_changed "$KS_CLIENT_PROPS" "security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"$KAFKA_SECURE_USER\" password=\"$(cat "$KS_SECRETS/client.password")\";
ssl.truststore.type=PEM
ssl.truststore.location=$KS_TLS/ca.pem")
}

ks_wait() { # pid timeout_s
  local rc=0
  node_probe kafka "$KAFKA_HOST:$KAFKA_SECURE_PORT" "$2" "$1" "$KS_CLIENT_ENV" 2>"$KS_ROOT/probe.err" || rc=$?
  if ((rc == 3)); then
    local deadline=$(($(now) + $2))
    rc=1
    while (($(now) < deadline)); do
      kill -0 "$1" 2>/dev/null || { rc=2; break; }
      if port_open "$KAFKA_HOST" "$KAFKA_SECURE_PORT" && java -Xmx64m -Dlog4j.configuration="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KS_LOGS" -cp "$KAFKA_LIBS/*" \
        kafka.admin.BrokerApiVersionsCommand --bootstrap-server "$KAFKA_HOST:$KAFKA_SECURE_PORT" --command-config "$KS_CLIENT_PROPS" >/dev/null 2>&1; then
        rc=0; break
      fi
      sleep 1
    done
  fi
  return "$rc"
}

kafka_secure_up() {
  local t0 pid rc b c
  t0=$(now)
  command -v openssl >/dev/null 2>&1 || die "openssl not found (needed for the secure broker's certificates): apt-get install -y openssl"
  mkdir -p "$RUN_DIR" "$KS_ROOT" "$KS_LOGS" "$KAFKA_ROOT"
  if pid="$(our_pid "$KS_PIDFILE")"; then
    if ks_wait "$pid" 10; then
      say "kafka-secure: healthy (pid $pid, SASL_SSL $KAFKA_HOST:$KAFKA_SECURE_PORT; client settings in $KS_CLIENT_ENV)"
      return 0
    fi
    warn "kafka-secure: pid $pid is running but does not answer; waiting"
  else
    if port_open "$KAFKA_HOST" "$KAFKA_SECURE_PORT" || port_open "$KAFKA_HOST" "$KAFKA_SECURE_CONTROLLER_PORT"; then
      die "kafka-secure: port $KAFKA_SECURE_PORT or $KAFKA_SECURE_CONTROLLER_PORT on $KAFKA_HOST is already in use (see: ss -ltnp); set PUSHLEDGER_KAFKA_SECURE_PORT"
    fi
    kafka_libs_current || kafka_fetch_libs
    ks_material
    (umask 077 && write_if_changed "$KS_PROPS" "$(ks_props)")
    write_if_changed "$KAFKA_LOG4J" "$(kafka_log4j)"
    ks_client_files
    local jvm=(java -Xms64m -Xmx384m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
      -Dkafka.logs.dir="$KS_LOGS" -Dlog4j.configuration="file:$KAFKA_LOG4J" -cp "$KAFKA_LIBS/*")
    if [[ ! -f "$KS_DATA/meta.properties" ]]; then
      mkdir -p "$KS_DATA"
      b="$(cat "$KS_SECRETS/broker.password")"
      c="$(cat "$KS_SECRETS/client.password")"
      say "kafka-secure: formatting storage with SCRAM users broker and $KAFKA_SECURE_USER"
      "${jvm[@]}" kafka.tools.StorageTool format -t "$(head -c 16 /dev/urandom | base64 | tr '+/' 'AB' | tr -d '=\n' | cut -c1-22)" -c "$KS_PROPS" --ignore-formatted \
        --add-scram "SCRAM-SHA-512=[name=broker,password=$b]" \
        --add-scram "SCRAM-SHA-256=[name=$KAFKA_SECURE_USER,password=$c]" \
        --add-scram "SCRAM-SHA-512=[name=$KAFKA_SECURE_USER,password=$c]" \
        >"$KS_LOGS/format.log" 2>&1 || { show_log "$KS_LOGS/format.log"; die "kafka-secure: storage format failed"; }
    fi
    say "kafka-secure: starting SASL_SSL on $KAFKA_HOST:$KAFKA_SECURE_PORT (controller $KAFKA_SECURE_CONTROLLER_PORT)"
    spawn "$KS_PIDFILE" "$KS_LOGS/stdout.log" "${jvm[@]}" kafka.Kafka "$KS_PROPS"
    pid="$(head -n 1 "$KS_PIDFILE")"
  fi
  rc=0
  ks_wait "$pid" "$KAFKA_START_TIMEOUT" || rc=$?
  if ((rc != 0)); then
    cat "$KS_ROOT/probe.err" >&2 2>/dev/null || true
    show_log "$KS_LOGS/server.log"
    show_log "$KS_LOGS/stdout.log"
    ((rc == 2)) && die "kafka-secure: the broker exited during startup"
    die "kafka-secure: no answer on $KAFKA_HOST:$KAFKA_SECURE_PORT within ${KAFKA_START_TIMEOUT}s (pid $pid left running; 'down-secure' stops it)"
  fi
  say "kafka-secure: up in $(($(now) - t0))s (pid $pid, SASL_SSL $KAFKA_HOST:$KAFKA_SECURE_PORT; client settings in $KS_CLIENT_ENV)"
}

# ---------------------------------------------------------------- FerretDB

ferretdb_hash() { sha "$FDB_SRC/go.mod" "$FDB_SRC/go.sum" "$FDB_SRC/main.go"; }

ferretdb_bin_current() {
  [[ -x "$FDB_BIN" && -f "$FDB_BIN.sha256" && "$(cat "$FDB_BIN.sha256")" == "$(ferretdb_hash)" ]]
}

ferretdb_build() {
  local go t0
  t0=$(now)
  go="$(find_go)" || die "go not found"
  say "ferretdb: building $FDB_BIN (go build; the first build downloads modules and takes a while)"
  mkdir -p "$(dirname "$FDB_BIN")" "$FDB_ROOT"
  if ! (cd "$FDB_SRC" && CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false" \
    "$go" build -trimpath -ldflags='-s -w' -o "$FDB_BIN.tmp" . >"$FDB_ROOT/build.log" 2>&1); then
    show_log "$FDB_ROOT/build.log"
    die "ferretdb: go build failed"
  fi
  mv -f "$FDB_BIN.tmp" "$FDB_BIN"
  ferretdb_hash >"$FDB_BIN.sha256"
  say "ferretdb: built in $(($(now) - t0))s"
}

ferretdb_wait() { # pid timeout_s
  local rc=0
  node_probe mongo "$MONGO_PROBE_URI" "$2" "$1" 2>"$FDB_ROOT/probe.err" || rc=$?
  if ((rc == 3)); then # no node/mongodb driver: TCP check plus the server's own start line
    local deadline=$(($(now) + $2))
    rc=1
    while (($(now) < deadline)); do
      kill -0 "$1" 2>/dev/null || { rc=2; break; }
      if port_open "$MONGO_HOST" "$MONGO_PORT" && grep -q 'listening on' "$FDB_LOG"; then rc=0; break; fi
      sleep 0.3
    done
  fi
  return "$rc"
}

ferretdb_up() {
  local t0 pid rc
  t0=$(now)
  mkdir -p "$RUN_DIR" "$FDB_ROOT"
  if pid="$(our_pid "$FDB_PIDFILE")"; then
    if ferretdb_wait "$pid" 10; then
      say "ferretdb: healthy (pid $pid, $MONGO_HOST:$MONGO_PORT)"
      ferretdb_bin_current || warn "ferretdb: $FDB_SRC changed since the build; run 'down' then 'up' to apply"
      return 0
    fi
    warn "ferretdb: pid $pid is running but does not answer; waiting"
  else
    port_open "$MONGO_HOST" "$MONGO_PORT" &&
      die "ferretdb: $MONGO_HOST:$MONGO_PORT is already in use by another process (see: ss -ltnp); set MONGODB_URI to another port"
    ferretdb_bin_current || ferretdb_build
    say "ferretdb: starting on $MONGO_HOST:$MONGO_PORT (backend postgresql, database $PG_FERRET_DB)"
    spawn "$FDB_PIDFILE" "$FDB_LOG" "$FDB_BIN" -listen-addr "$MONGO_HOST:$MONGO_PORT" \
      -postgresql-url "$PG_FERRET_URL" -log-level "${PUSHLEDGER_FERRETDB_LOG_LEVEL:-error}"
    pid="$(head -n 1 "$FDB_PIDFILE")"
  fi
  rc=0
  ferretdb_wait "$pid" "$FERRETDB_START_TIMEOUT" || rc=$?
  if ((rc != 0)); then
    cat "$FDB_ROOT/probe.err" >&2 2>/dev/null || true
    show_log "$FDB_LOG"
    ((rc == 2)) && die "ferretdb: exited during startup"
    die "ferretdb: no answer on $MONGO_HOST:$MONGO_PORT within ${FERRETDB_START_TIMEOUT}s (pid $pid left running; 'down' stops it)"
  fi
  say "ferretdb: up in $(($(now) - t0))s (pid $pid, $MONGO_HOST:$MONGO_PORT)"
}

# ---------------------------------------------------------------- commands

# A port in the kernel's ephemeral range can be taken, while an engine starts, by a client's own socket:
# a probe connecting to a port nobody listens on yet may be given that very port and connect to itself,
# and the engine then fails with "Address already in use". Such ports are refused up front.
check_ports() {
  local lo hi p name
  read -r lo hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || return 0
  for name in KAFKA_PORT KAFKA_CONTROLLER_PORT PG_PORT MONGO_PORT; do
    p="${!name}"
    if ((p >= lo && p <= hi)); then
      die "$name $p is in this machine's ephemeral port range ($lo-$hi, /proc/sys/net/ipv4/ip_local_port_range): a readiness probe can connect to itself there; choose ports below $lo (the defaults are 9092, 5432 and 27017)"
    fi
  done
}

cmd_up() {
  local t0 kjob rc_k=0 rc_p=0
  t0=$(now)
  check_prereqs
  check_ports
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/infra.lock"
  flock -w 600 9 || die "another infra.sh is running (lock $RUN_DIR/infra.lock)"
  say "data dir $DATA_DIR"
  # Kafka in parallel with PostgreSQL -> FerretDB (which needs PostgreSQL).
  (kafka_up) 9>&- &
  kjob=$!
  (pg_up && ferretdb_pg_indexes && ferretdb_up) 9>&- || rc_p=$?
  wait "$kjob" || rc_k=$?
  if ((rc_k == 0)) && [[ "${PUSHLEDGER_KAFKA_SECURE:-0}" == 1 ]]; then (kafka_secure_up) 9>&- || rc_k=$?; fi
  if ((rc_p != 0 || rc_k != 0)); then
    die "up failed (see above); 'bash deploy/local/infra.sh down' stops whatever did start"
  fi
  say "all engines up in $(($(now) - t0))s: postgres $PG_HOST:$PG_PORT, ferretdb $MONGO_HOST:$MONGO_PORT, kafka $KAFKA_HOST:$KAFKA_PORT"
}

cmd_down() {
  if [[ -d "$RUN_DIR" ]]; then
    exec 9>"$RUN_DIR/infra.lock"
    flock -w 120 9 || die "another infra.sh is running (lock $RUN_DIR/infra.lock)"
  fi
  stop_pid ferretdb "$FDB_PIDFILE"
  stop_pid kafka-secure "$KS_PIDFILE"
  stop_pid kafka "$KAFKA_PIDFILE"
  pg_down
  # Anything of ours left behind (e.g. a pid file removed by hand)?
  local left
  left="$(pgrep -f -- "$KAFKA_LIBS/|$FDB_BIN|-D $PGDATA_DIR" || true)"
  if [[ -n "$left" ]]; then
    warn "processes from $DATA_DIR still running without a pid file: $(echo $left); stopping them"
    local p
    for p in $left; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $left; do wait_gone "$p" "$STOP_TIMEOUT" || kill -KILL "$p" 2>/dev/null || true; done
  fi
  say "down"
}

cmd_status() {
  local all=0 pid
  PG_BIN="$(find_pg_bin || true)"
  if pid="$(pg_pid)"; then
    if [[ -n "$PG_BIN" ]] && pg_answers; then
      printf '%-9s up        pid %-7s %s:%s\n' postgres "$pid" "$PG_HOST" "$PG_PORT"
    else
      printf '%-9s unhealthy pid %-7s %s:%s (no answer to select 1)\n' postgres "$pid" "$PG_HOST" "$PG_PORT"; all=1
    fi
  else
    printf '%-9s down\n' postgres; all=1
  fi
  if pid="$(our_pid "$FDB_PIDFILE")"; then
    if ferretdb_wait "$pid" 3; then
      printf '%-9s up        pid %-7s %s:%s\n' ferretdb "$pid" "$MONGO_HOST" "$MONGO_PORT"
    else
      printf '%-9s unhealthy pid %-7s %s:%s (no answer to ping)\n' ferretdb "$pid" "$MONGO_HOST" "$MONGO_PORT"; all=1
    fi
  else
    printf '%-9s down\n' ferretdb; all=1
  fi
  if pid="$(our_pid "$KAFKA_PIDFILE")"; then
    if kafka_wait "$pid" 5; then
      printf '%-9s up        pid %-7s %s:%s\n' kafka "$pid" "$KAFKA_HOST" "$KAFKA_PORT"
    else
      printf '%-9s unhealthy pid %-7s %s:%s (no answer to listTopics)\n' kafka "$pid" "$KAFKA_HOST" "$KAFKA_PORT"; all=1
    fi
  else
    printf '%-9s down\n' kafka; all=1
  fi
  return "$all"
}

cmd_up_secure() {
  command -v java >/dev/null 2>&1 || die "java not found: apt-get install -y openjdk-17-jre-headless"
  kafka_libs_current || command -v mvn >/dev/null 2>&1 || die "mvn not found (needed once to fetch the Kafka jars): apt-get install -y maven"
  mkdir -p "$RUN_DIR"
  exec 9>"$RUN_DIR/infra-secure.lock"
  flock -w 600 9 || die "another infra.sh up-secure is running (lock $RUN_DIR/infra-secure.lock)"
  kafka_secure_up
}

cmd_down_secure() {
  if [[ -d "$RUN_DIR" ]]; then
    exec 9>"$RUN_DIR/infra-secure.lock"
    flock -w 120 9 || die "another infra.sh up-secure is running (lock $RUN_DIR/infra-secure.lock)"
  fi
  stop_pid kafka-secure "$KS_PIDFILE"
}

cmd_status_secure() {
  local pid
  if pid="$(our_pid "$KS_PIDFILE")"; then
    if ks_wait "$pid" 5; then
      printf '%-12s up        pid %-7s SASL_SSL %s:%s (client settings: %s)\n' kafka-secure "$pid" "$KAFKA_HOST" "$KAFKA_SECURE_PORT" "$KS_CLIENT_ENV"
      return 0
    fi
    printf '%-12s unhealthy pid %-7s SASL_SSL %s:%s (no answer to listTopics)\n' kafka-secure "$pid" "$KAFKA_HOST" "$KAFKA_SECURE_PORT"
    return 1
  fi
  printf '%-12s down\n' kafka-secure
  return 1
}

parse_config
case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  up-secure) cmd_up_secure ;;
  down-secure) cmd_down_secure ;;
  status-secure) cmd_status_secure ;;
  *) echo "usage: bash deploy/local/infra.sh up|down|status|up-secure|down-secure|status-secure" >&2; exit 64 ;;
esac
