// knex's PostgreSQL dialect classes, which its typings do not declare; infra/db.ts extends them so that a
// transaction can bind its tenant in the round trip that begins it.
declare module 'knex/lib/dialects/postgres' {
  import { Knex } from 'knex';

  class ClientPG extends Knex.Client {
    constructor(config: Knex.Config);
  }
  export = ClientPG;
}

declare module 'knex/lib/dialects/postgres/execution/pg-transaction' {
  class TransactionPG {
    constructor(client: unknown, container: unknown, config?: object, outerTx?: unknown);
    /** The knex client (dialect) the transaction was made by. */
    client: unknown;
    isolationLevel?: string;
    readOnly?: boolean;
    begin(connection: unknown): Promise<unknown>;
    query(connection: unknown, sql: string): Promise<unknown>;
  }
  export = TransactionPG;
}
