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
  local stamp="$SWITCHBOARD_ROOT/.build/.switchboard-built"
  local want
  want="$(cd "$SWITCHBOARD_ROOT" && find src bin/build-server.ts package.json -type f -name '*.ts' -o -name package.json | LC_ALL=C sort |
    xargs sha256sum | sha256sum | cut -c1-16)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  (cd "$SWITCHBOARD_ROOT" && node --disable-warning=ExperimentalWarning bin/build-server.ts) >&2
  echo "$want" >"$stamp"
}
