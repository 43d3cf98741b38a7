import { Knex } from 'knex';
import { escapeLiteral } from 'pg';

const SETTING_NAME = /^app\.[a-z_]+$/;

/**
 * Sets a transaction-local setting (row-level security reads it) with `SET LOCAL`, alone in its query.
 * Not set_config(): on a Citus coordinator only a `SET LOCAL` statement is forwarded to the workers that
 * run the shard queries (citus.propagate_set_commands = 'local', docs/SCALING.md), and Citus forwards the
 * whole query text, so nothing else may share it. SET takes no bind parameters: the value is quoted as a
 * literal, and a `?` in it is escaped so knex does not read it as a placeholder.
 */
export async function setLocal(trx: Knex.Transaction, name: string, value: string): Promise<void> {
  if (!SETTING_NAME.test(name)) throw new Error(`Not an application setting: ${name}`);
  await trx.raw(`SET LOCAL ${name} = ${escapeLiteral(value).replace(/\?/g, '\\?')}`);
}
