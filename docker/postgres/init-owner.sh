#!/bin/sh
# Runs once when the postgres container's data volume is new (/docker-entrypoint-initdb.d).
# The schema belongs to a non-superuser owner with CREATEROLE, so migrations need no superuser and
# forced row-level security applies even to the owner.
set -e
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner="${CRM_OWNER:-crm_owner}" -v password="$CRM_OWNER_PASSWORD" -v db="$POSTGRES_DB" <<'SQL'
CREATE ROLE :"owner" LOGIN CREATEROLE NOSUPERUSER NOBYPASSRLS PASSWORD :'password';
ALTER DATABASE :"db" OWNER TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";
-- Lets full-text search use its index under row-level security (see migrations/*_search_under_rls.js).
ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
-- Lets the duplicate search's name match use its trigram index (see migrations/*_merges.js). The extension
-- is created here, by the superuser, so that its function can be marked; the migration's CREATE is then a no-op.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER FUNCTION similarity_op(text, text) LEAKPROOF;
SQL
