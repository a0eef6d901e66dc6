#!/usr/bin/env bash
# The package as a user gets it (issue 16): pack the tarball (prepack builds dist/), install it
# into a plain Node project, import `sluice` and `sluice/testing` there without a TypeScript loader
# (Node 20 and, given NODE22=<path of a node 22 binary>, Node 22), `sluice init` a new project
# (which packs its own copy into vendor/ and runs npm install), then in that project: `npm test`
# (tsc + the harness tests; on Node 22 too), `npx osls package` (the plugin from node_modules),
# and `npm start`: a bounded local run of the scaffolded pipeline on the local Kafka and DynamoDB
# Local that fails unless the expected totals are committed.
#
#   bash .ci/package-check.sh            # from .ci/run, or by hand (starts the local infra if needed)
#
# The local infra is this clone's (SLUICE_HOME=.sluice): started if not up, and left up, like
# `sluice dev` leaves it; .ci/run's exit trap stops what its run started.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo="$PWD"
export SLUICE_HOME="${SLUICE_HOME:-${repo}/.sluice}" SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
work="$(mktemp -d "${TMPDIR:-/tmp}/sluice-package-check.XXXXXX")"
trap 'rm -rf "${work}"' EXIT
step() { printf '\n--- package check: %s (%ss)\n' "$1" "${SECONDS}"; }

step "npm pack"
npm pack --silent --pack-destination "${work}" >/dev/null
tarball="$(ls "${work}"/sluice-*.tgz)"
echo "${tarball}: $(du -h "${tarball}" | cut -f1), $(tar tzf "${tarball}" | wc -l) files"
# Only what a user needs: no sources, tests, examples or benchmarks.
if tar tzf "${tarball}" | grep -E '^package/(framework|test|functions|bench|docs)/'; then
  echo "package check: the tarball ships files a user does not need (above)" >&2
  exit 1
fi

step "install the tarball into a plain Node project"
mkdir "${work}/host"
cd "${work}/host"
printf '{ "name": "host", "private": true, "type": "module" }\n' > package.json
npm install --no-audit --no-fund --loglevel=error "${tarball}"
check_imports='const m = await import("sluice"); const t = await import("sluice/testing");
if (typeof m.pipeline !== "function" || typeof m.stageHandler !== "function" || typeof t.stageHarness !== "function") throw new Error("exports missing");
console.log(`import { pipeline } from "sluice": ok on Node ${process.version}`);'
node --input-type=module -e "${check_imports}"
if [ -n "${NODE22:-}" ]; then "${NODE22}" --input-type=module -e "${check_imports}"; fi

step "sluice init demo"
npx --no-install sluice init demo
cd demo

step "npm test"
npm test
if [ -n "${NODE22:-}" ]; then
  step "npm test on Node 22"
  PATH="$(dirname "${NODE22}"):${PATH}" npm test
fi

step "npx osls package"
npx --no-install osls package
for artifact in orders.zip totals.zip ticker.zip cloudformation-template-update-stack.json; do
  test -s ".serverless/${artifact}" || { echo "package check: osls package wrote no .serverless/${artifact}" >&2; exit 1; }
done

step "npm start (local run, bounded)"
npm start
step "done"
