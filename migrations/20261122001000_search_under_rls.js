'use strict';
/**
 * Under row-level security PostgreSQL only uses an index for a condition whose function is LEAKPROOF:
 * the full-text match `search @@ query` (ts_match_vq) is not marked so, and every `q` search read all of
 * a tenant's rows. The function compares a tsvector with an already parsed tsquery and raises no error
 * that depends on the data, so it reveals nothing the policy hides. Marking it needs a superuser: when
 * migrations run as the schema owner, docker/postgres/init-owner.sh does it instead, and without either
 * search still works, only without its index.
 */
const MARK = "ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF";
const UNMARK = "ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) NOT LEAKPROOF";

async function asSuperuser(knex, statement) {
  const { rows } = await knex.raw('select rolsuper from pg_roles where rolname = current_user');
  if (rows[0]?.rolsuper) await knex.raw(statement);
}

exports.up = (knex) => asSuperuser(knex, MARK);
exports.down = (knex) => asSuperuser(knex, UNMARK);
