'use strict';
/** Quoting for the few statements whose names cannot be knex bindings (inside DO blocks, column lists). */

function quoteIdent(name) {
  return `"${String(name).replace(/"/g, '""')}"`;
}

function quoteLiteral(value) {
  return `'${String(value).replace(/'/g, "''")}'`;
}

module.exports = { quoteIdent, quoteLiteral };
