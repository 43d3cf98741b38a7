#!/bin/sh
# `entrypoint.sh` (the API): migrations run as DATABASE_URL's user and provision the runtime, platform
# and jobs logins; then the server starts with those logins' own URLs and without DATABASE_URL, so the
# serving process never holds the owner's URL or password. `entrypoint.sh worker`: the same, without
# migrating (the API does). `exec` hands signals (SIGTERM drains) straight to node.
set -e
cd "$(dirname "$0")/.."
# The example passwords of docker-compose's earlier defaults and .env.example are public: refuse them.
case "${DATABASE_URL:-}" in
  *:postgres-change-me@* | *:crm-owner-change-me@* | *:secret@* | *:postgres@* | *:password@* | *:changeme@*)
    echo "Refusing to start: DATABASE_URL uses an example password. Run npm run env:init for generated ones." >&2
    exit 1 ;;
esac
entry=backend/dist/server.js
if [ "${1:-}" = "worker" ]; then
  entry=backend/dist/worker.js
else
  node --enable-source-maps backend/dist/cli/migrate.js
fi
serving_urls="$(node backend/dist/cli/serving-urls.js)"
eval "$serving_urls"
unset DATABASE_URL serving_urls
exec node --enable-source-maps "$entry"
