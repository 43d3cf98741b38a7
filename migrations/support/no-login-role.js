'use strict';
const { quoteIdent, quoteLiteral } = require('./sql-quote');

/**
 * Creates a NOLOGIN role with no attribute above a plain role's, unless it exists, so that a rerun is safe;
 * a concurrent creation of the same name is caught as well.
 */
async function createNoLoginRole(knex, role) {
  await knex.raw(
    `DO $$ BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${quoteLiteral(role)}) THEN
         CREATE ROLE ${quoteIdent(role)} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
       END IF;
     EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
     END $$`,
  );
}

module.exports = { createNoLoginRole };
