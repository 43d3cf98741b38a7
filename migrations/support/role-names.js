'use strict';
/**
 * Names of the database roles a database gets. Roles are cluster-wide, so all names derive from
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
/** NOLOGIN role that holds the platform (admin console) grants: reads across tenants, writes tenants' status and plan. */
const platformRoleFor = (database) => roleFor(database, '_platform');
/**
 * LOGIN role of the platform pool. Not `_platform_app`: that ends like `_app`, so database `x`'s platform
 * login would be database `x_platform`'s runtime login. No suffix here ends another.
 */
const platformLoginRoleFor = (database) => roleFor(database, '_platform_login');

/**
 * NOLOGIN role of the job engine: graphile-worker's schema, the audit sealer's and pruner's columns, and
 * the purge function (migrations 20261202000100). No suffix here ends another (`_jobs_login` is not
 * `_login` of anything: no role ends in a bare `_login`).
 */
const jobsRoleFor = (database) => roleFor(database, '_jobs');
/** LOGIN role of the job engine's pools (the API process's in-process engine and `npm run worker`). */
const jobsLoginRoleFor = (database) => roleFor(database, '_jobs_login');

module.exports = { groupRoleFor, loginRoleFor, platformRoleFor, platformLoginRoleFor, jobsRoleFor, jobsLoginRoleFor };
