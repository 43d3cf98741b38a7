import createClient, { type Client } from 'openapi-fetch';
import type { components, operations, paths } from './schema';

export type { components, operations, paths };

/** Every call is typed by the OpenAPI document: paths carry `/api/v1`, so `baseUrl` is the server's origin. */
export type CrmClient = Client<paths>;

/** Who calls: a user's access token, an integrator's API key, or nobody (sign-up, sign-in, refresh). */
export type CrmCredentials =
  | { accessToken: string; apiKey?: never }
  | { apiKey: string; accessToken?: never }
  | { accessToken?: undefined; apiKey?: undefined };

export type CrmClientOptions = CrmCredentials & {
  /** For example `http://localhost:3000`. */
  baseUrl: string;
  /** Another fetch implementation (tests, older runtimes); the global one by default. */
  fetch?: typeof fetch;
};

export function createCrmClient(options: CrmClientOptions): CrmClient {
  const headers: Record<string, string> = {};
  if (options.accessToken) headers.Authorization = `Bearer ${options.accessToken}`;
  if (options.apiKey) headers['X-API-Key'] = options.apiKey;
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}
