#!/usr/bin/env bash
# `npm run backup -- <superuser URL of the CRM database> <backup directory>`
# Writes a consistent snapshot of one CRM database and the cluster's roles:
#   roles.sql     pg_dumpall --roles-only: the schema owner, the runtime and platform groups and logins
#                 (roles are cluster-wide, never in a database's dump)
#   crm.dump      pg_dump --format=custom of the database (every table, RLS policies, grants, the job queue)
#   SHA256SUMS    checksums of both, for the restore to check
# The URL's user must be a superuser (pg_dump turns row security off to read every tenant's rows, which
# forced RLS refuses to the owner and the runtime role; pg_dumpall reads password hashes). The keys
# (ENCRYPTION_KEY, CREDENTIALS_KEYS, JWT_SECRET) and .data/secrets.json are NOT in it: back them up apart
# (docs/OPERATIONS.md, "Backups").
set -euo pipefail
url=${1:?usage: backup.sh <superuser database URL> <backup directory>}
out=${2:?usage: backup.sh <superuser database URL> <backup directory>}
mkdir -p "$out"
umask 077
pg_dumpall --dbname="$url" --roles-only --file="$out/roles.sql"
pg_dump --dbname="$url" --format=custom --compress=6 --file="$out/crm.dump"
(cd "$out" && sha256sum roles.sql crm.dump > SHA256SUMS)
echo "backup written to $out: $(du -sh "$out" | cut -f1)"
