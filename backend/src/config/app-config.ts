import { ConfigOf } from './declaration';
import { variables } from './variables';

type Declared = ConfigOf<typeof variables>;

/**
 * The one configuration object of the process, built from the environment by loadConfig: the shape of
 * variables.ts, where each variable is declared, with the values derived from several variables.
 */
export type AppConfig = Omit<Declared, 'jwt' | 'encryptionKey' | 'credentialKeys'> & {
  jwt: Omit<Declared['jwt'], 'secret'> & {
    secret: string;
    /** True when no JWT_SECRET was given and a random one was made for this process. */
    secretGenerated: boolean;
  };
  /** ENCRYPTION_KEY; outside production it defaults to one derived from the JWT secret. */
  encryptionKey: Buffer;
  /** True when no ENCRYPTION_KEY was given and the key was derived from the JWT secret. */
  encryptionKeyDerived: boolean;
  /** CREDENTIALS_KEYS, current first; by default one key derived from the encryption key. */
  credentialKeys: Array<{ id: string; key: Buffer }>;
};
