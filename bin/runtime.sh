# shellcheck shell=bash
# Sourced by bin/switchboard and bin/test. Puts Node.js >= 24 first in PATH, fetching it from the
# npm registry (package node-linux-<arch>, binary and headers) into .runtime/ when the system Node
# is older, and installs node_modules with native modules built against that Node. The system
# Node is never touched. Needs: bash, npm, python3, make and g++ (for the native modules).

NODE_MAJOR=24

node_major() {
  "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

ensure_node() {
  if command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge "$NODE_MAJOR" ]; then
    return
  fi
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "switchboard: no Node.js $NODE_MAJOR package for $(uname -m); install Node.js >= $NODE_MAJOR" >&2; exit 1 ;;
  esac
  local package="node-linux-$arch"
  local dir="$SWITCHBOARD_ROOT/.runtime"
  local home="$dir/node_modules/$package"
  if [ ! -x "$home/bin/node" ] || [ "$(node_major "$home/bin/node")" -lt "$NODE_MAJOR" ]; then
    echo "switchboard: fetching Node.js $NODE_MAJOR ($package@$NODE_MAJOR) from the npm registry into .runtime/" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "$package@$NODE_MAJOR" >&2
  fi
  export PATH="$home/bin:$PATH"
  # node-gyp builds isolated-vm and better-sqlite3 against these headers, not the system Node's.
  export npm_config_nodedir="$home"
}

ensure_deps() {
  local stamp="$SWITCHBOARD_ROOT/node_modules/.switchboard-installed"
  local want
  want="node-abi-$(node -p 'process.versions.modules') lock-$(sha256sum "$SWITCHBOARD_ROOT/package-lock.json" | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  echo "switchboard: installing dependencies with Node $(node -v) (native modules compile: about a minute)" >&2
  (cd "$SWITCHBOARD_ROOT" && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$want" >"$stamp"
}

# The admin console (ui/) is built with Vite into ui/dist/, which the server serves at /ui. It is
# rebuilt when its sources, the script API declarations or the dependencies change.
ensure_console() {
  local stamp="$SWITCHBOARD_ROOT/ui/dist/.switchboard-built"
  local want
  want="$(cd "$SWITCHBOARD_ROOT" && find ui -path ui/dist -prune -o -type f -print | LC_ALL=C sort |
    xargs sha256sum docs/switchboard-script.d.ts package-lock.json | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  echo "switchboard: building the admin console (ui/ → ui/dist/)" >&2
  (cd "$SWITCHBOARD_ROOT" && node_modules/.bin/vite build --config ui/vite.config.ts) >&2
  echo "$want" >"$stamp"
}

# The server runs as plain JavaScript built from src/ into .build/ (bin/build-server.ts): a process
# that loads TypeScript also loads Node's type stripper, and a node runs several processes. Rebuilt
# when the sources change.
ensure_build() {
  # Parallel callers (the tests start many `bin/switchboard`s) take turns: two builds at once
  # share the staging directory, and one removes the .build/ the other's process is loading.
  mkdir -p "$SWITCHBOARD_ROOT/.runtime"
  (
    flock 9
    local stamp="$SWITCHBOARD_ROOT/.build/.switchboard-built"
    local want
    want="$(cd "$SWITCHBOARD_ROOT" && find src bin/build-server.ts docs/switchboard-script.d.ts package.json -type f -name '*.ts' -o -name package.json | LC_ALL=C sort |
      xargs sha256sum | sha256sum | cut -c1-16)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
      exit 0
    fi
    (cd "$SWITCHBOARD_ROOT" && node --disable-warning=ExperimentalWarning bin/build-server.ts) >&2
    echo "$want" >"$stamp"
  ) 9>"$SWITCHBOARD_ROOT/.runtime/build.lock"
}

# ---------------------------------------------------------------------------------------------
# What bin/test needs besides Node, made ready the way `serve` makes Node ready: installed from
# Debian's packages when missing, started when nothing answers. A server is started only for a
# loopback URL (127.0.0.1 or localhost); any other is the caller's to run.

TEST_DATABASE_URL_DEFAULT=postgres://postgres@127.0.0.1:5432/test
TEST_NATS_URL_DEFAULT=nats://127.0.0.1:4222
TEST_CHROMIUM_DEFAULT=/usr/bin/chromium
# Where Debian keeps its PostgreSQL clusters' configuration.
PG_ETC="${SWITCHBOARD_PG_ETC:-/etc/postgresql}"

say() { echo "switchboard: $*" >&2; }

# True when something accepts TCP connections on 127.0.0.1:<port>.
answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port="$1" what="$2"
  for _ in $(seq 1 120); do answers "$port" && return 0; sleep 0.25; done
  say "$what does not answer on 127.0.0.1:$port"
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root (or sudo) to run: $*"; exit 1
  fi
}

APT_UPDATED=""
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "cannot install $* here (no apt-get): install it, or point bin/test elsewhere (README.md, Development)"
    exit 1
  fi
  say "installing Debian's $* (apt-get install)"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq >&2; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The console's browser tests drive Debian's Chromium (playwright-core never downloads one).
ensure_chromium() {
  local path="${SWITCHBOARD_TEST_CHROMIUM:-$TEST_CHROMIUM_DEFAULT}"
  [ -x "$path" ] && return
  if [ "$path" != "$TEST_CHROMIUM_DEFAULT" ]; then say "SWITCHBOARD_TEST_CHROMIUM=$path is not an executable"; exit 1; fi
  apt_install chromium
}

LOOPBACK_URL='^[a-z]+://([^@/]*@)?(127\.0\.0\.1|localhost):([0-9]+)(/([^?]*))?'

# PostgreSQL answering at SWITCHBOARD_TEST_DATABASE_URL, with its database (`test`) created and
# reachable by its user without a password. When nothing answers: the machine's newest cluster
# is started, and Debian's postgresql package installed first when there is none.
ensure_postgres() {
  local url="${SWITCHBOARD_TEST_DATABASE_URL:-$TEST_DATABASE_URL_DEFAULT}"
  [[ "$url" =~ $LOOPBACK_URL ]] || return 0
  local port="${BASH_REMATCH[3]}" database="${BASH_REMATCH[5]:-postgres}"
  if ! answers "$port"; then
    local installed=""
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls "$PG_ETC" 2>/dev/null)" ]; then
      apt_install postgresql
      installed=1
    fi
    local version
    version="$(ls "$PG_ETC" | sort -V | tail -1)"
    if [ -n "$installed" ]; then
      # A cluster installed for the tests: its users may reach it over loopback without a
      # password (Debian's default asks for one on TCP). Nothing else is opened.
      as_root sed -i '1i host all all 127.0.0.1/32 trust' "$PG_ETC/$version/main/pg_hba.conf"
    fi
    say "starting PostgreSQL $version (pg_ctlcluster $version main start)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    wait_for "$port" PostgreSQL
  fi
  command -v psql >/dev/null 2>&1 || apt_install postgresql-client
  local base="${url%%\?*}"
  base="${base%/*}"
  if psql -w "$url" -Atc 'select 1' >/dev/null 2>&1; then return; fi
  if psql -w "$base/postgres" -Atc 'select 1' >/dev/null 2>&1; then
    say "creating database $database"
    psql -w "$base/postgres" -qc "create database \"$database\"" >/dev/null
    return
  fi
  say "PostgreSQL at $url refuses its user without a password. Allow it for the tests (pg_hba.conf:" \
    "'host all all 127.0.0.1/32 trust'), or point SWITCHBOARD_TEST_DATABASE_URL at a server the tests may use"
  exit 1
}

# NATS with JetStream answering at SWITCHBOARD_TEST_NATS_URL. When nothing answers, nats-server is
# started in the background, in a session of its own (so it outlives this run), with its store,
# log and pid file under $TMPDIR; Debian's nats-server package is installed first when it is missing.
ensure_nats() {
  local url="${SWITCHBOARD_TEST_NATS_URL:-$TEST_NATS_URL_DEFAULT}"
  [[ "$url" =~ $LOOPBACK_URL ]] || return 0
  local port="${BASH_REMATCH[3]}"
  answers "$port" && return
  command -v nats-server >/dev/null 2>&1 || apt_install nats-server
  local dir="${TMPDIR:-/tmp}/switchboard-test-nats-$port"
  mkdir -p "$dir"
  say "starting nats-server with JetStream on 127.0.0.1:$port (store $dir, log $dir.log, pid $dir.pid)"
  setsid nohup nats-server -a 127.0.0.1 -p "$port" -js -sd "$dir" >"$dir.log" 2>&1 </dev/null &
  echo "$!" >"$dir.pid"
  wait_for "$port" nats-server
}
