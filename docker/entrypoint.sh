#!/bin/sh
# Migrations run as DATABASE_URL's user and provision the runtime role; the server then logs in as
# that role, under row-level security. `exec` hands signals (SIGTERM drains) straight to node.
set -e
cd "$(dirname "$0")/.."
node --enable-source-maps backend/dist/cli/migrate.js
exec node --enable-source-maps backend/dist/server.js
