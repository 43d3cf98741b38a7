'use strict';
/**
 * Names of the database roles a database gets. Roles are cluster-wide, so both names derive from
 * the database name: many databases can share one cluster without colliding or sharing privileges.
 * The server (backend/src/infra/db-roles.ts) reads the same functions.
 */
const { createHash } = require('node:crypto');

function roleFor(database, suffix) {
  const base = database.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (base.length + suffix.length <= 63) return base + suffix;
  const digest = createHash('sha256').update(database).digest('hex').slice(0, 8);
  return `${base.slice(0, 63 - suffix.length - 9)}_${digest}${suffix}`;
}

/** NOLOGIN role that holds the runtime grants. */
const groupRoleFor = (database) => roleFor(database, '_runtime');
/** LOGIN role the server connects as when no APP_DATABASE_URL is given. */
const loginRoleFor = (database) => roleFor(database, '_app');

module.exports = { groupRoleFor, loginRoleFor };
