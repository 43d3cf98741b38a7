'use strict';

/**
 * Adds permissions (key -> description) to the catalogue and grants them, by role key, to the role matrix
 * and to every tenant's system role of that key.
 */
async function addPermissions(knex, descriptions, granted) {
  await knex('permissions').insert(Object.entries(descriptions).map(([key, description]) => ({ key, description })));
  // The owner updates every tenant's roles at once: forced row-level security is lifted inside this transaction only.
  await knex.raw('ALTER TABLE roles NO FORCE ROW LEVEL SECURITY');
  for (const [role, permissions] of Object.entries(granted)) {
    await knex.raw('UPDATE role_templates SET permissions = permissions || ?::text[] WHERE key = ?', [permissions, role]);
    await knex.raw('UPDATE roles SET permissions = permissions || ?::text[] WHERE key = ? AND is_system', [permissions, role]);
  }
  await knex.raw('ALTER TABLE roles FORCE ROW LEVEL SECURITY');
}

/** Takes permissions out of every role and the matrix, then out of the catalogue. */
async function removePermissions(knex, keys) {
  await knex.raw('ALTER TABLE roles NO FORCE ROW LEVEL SECURITY');
  for (const permission of keys) {
    await knex.raw('UPDATE role_templates SET permissions = array_remove(permissions, ?)', [permission]);
    await knex.raw('UPDATE roles SET permissions = array_remove(permissions, ?)', [permission]);
  }
  await knex.raw('ALTER TABLE roles FORCE ROW LEVEL SECURITY');
  await knex('permissions').whereIn('key', keys).delete();
}

module.exports = { addPermissions, removePermissions };
