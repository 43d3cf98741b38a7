#!/bin/sh
# Migrations run as DATABASE_URL's user and provision the runtime role; the server then logs in as
# that role, under row-level security. `exec` hands signals (SIGTERM drains) straight to node.
set -e
cd "$(dirname "$0")/.."
# The example passwords of docker-compose's earlier defaults and .env.example are public: refuse them.
case "${DATABASE_URL:-}" in
  *:postgres-change-me@* | *:crm-owner-change-me@* | *:secret@* | *:postgres@* | *:password@* | *:changeme@*)
    echo "Refusing to start: DATABASE_URL uses an example password. Run npm run env:init for generated ones." >&2
    exit 1 ;;
esac
node --enable-source-maps backend/dist/cli/migrate.js
exec node --enable-source-maps backend/dist/server.js
