#!/usr/bin/env bash
# `npm run restore -- <superuser URL of the target server's postgres database> <backup directory> [database name]`
# Restores a backup made by backup.sh: checks its checksums, creates the roles that do not exist yet
# (an existing role, e.g. the superuser, is kept as it is), creates the database (default: crm; it must
# not exist) and restores into it. Then run `npm run migrate` with DATABASE_URL naming the restored
# database as its owner: it checks the roles, resets the derived logins' passwords and applies any newer
# migrations. Restore under the database's original name: its role names derive from it.
set -euo pipefail
server=${1:?usage: restore.sh <superuser server URL> <backup directory> [database name]}
dir=${2:?usage: restore.sh <superuser server URL> <backup directory> [database name]}
name=${3:-crm}
(cd "$dir" && sha256sum --check --quiet SHA256SUMS)
# CREATE ROLE of a role the server already has fails: that one statement is skipped, anything else stops.
errors=$(psql --dbname="$server" --quiet --no-psqlrc --file="$dir/roles.sql" 2>&1 >/dev/null | grep -v 'already exists' || true)
if [ -n "$errors" ]; then echo "restoring roles failed: $errors" >&2; exit 1; fi
[[ $name =~ ^[a-z_][a-z0-9_]*$ ]] || { echo "database name must be lower-case letters, digits and _" >&2; exit 2; }
psql --dbname="$server" --quiet --no-psqlrc -v ON_ERROR_STOP=1 --command="create database \"$name\""
target=$(node -e 'const u = new URL(process.argv[1]); u.pathname = "/" + process.argv[2]; console.log(u.toString())' "$server" "$name")
pg_restore --dbname="$target" --exit-on-error --no-password "$dir/crm.dump"
echo "restored into database $name; now run npm run migrate with DATABASE_URL naming it"
