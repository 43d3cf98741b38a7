#!/usr/bin/env bash
# Writes the client's types from the OpenAPI document the server serves (built offline, no server needed).
# `--check` writes nothing and fails when packages/client/src/schema.d.ts differs from what would be generated.
set -euo pipefail
cd "$(dirname "$0")/../../.."
target=packages/client/src/schema.d.ts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
npx tsx backend/src/cli/openapi.ts "$work/openapi.json"
npx openapi-typescript "$work/openapi.json" --output "$work/schema.d.ts" >/dev/null
if [ "${1:-}" = "--check" ]; then
  diff -u "$target" "$work/schema.d.ts" || { echo "$target is stale: run npm run client:generate" >&2; exit 1; }
else
  cp "$work/schema.d.ts" "$target"
fi
