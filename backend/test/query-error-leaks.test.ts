import { Knex } from 'knex';
import { createAppKnex } from '../src/infra/db';
import { runtimeCredentials } from '../src/infra/db-roles';
import { adminUrl } from './support/test-app';

/** A failed statement's error reaches the logs: it may name the statement, never the values bound to it. */
describe('query errors', () => {
  let knex: Knex;
  beforeAll(() => {
    knex = createAppKnex(runtimeCredentials(adminUrl()).url, { poolMax: 1, statementTimeoutMs: 5000, connectTimeoutMs: 5000 });
  });
  afterAll(() => knex.destroy());

  it('when a statement with bound values fails, then its message holds the placeholders, not the email or the token hash', async () => {
    const email = 'victim@example.com';
    const tokenHash = 'f'.repeat(64);
    const error = (await knex('users').where({ email, passwordHash: tokenHash }).select('noSuchColumn').catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(Error);
    expect(error.message).toMatch(/no_such_column/);
    expect(error.message).not.toContain(email);
    expect(error.message).not.toContain(tokenHash);
  });
});
