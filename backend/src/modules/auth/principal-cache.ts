import { Credential, TenantPrincipal } from './principal';

/** Who a change concerns: a tenant's every caller, or only those of one user, session or API key. */
export interface PrincipalChange {
  tenantId: string;
  userId?: string;
  sessionId?: string;
  apiKeyId?: string;
}

type TenantCredential = Exclude<Credential, { kind: 'platform_admin' }>;
type ApiKeyCredential = Extract<Credential, { kind: 'api_key' }>;

interface Entry<T> {
  value: T;
  tenantId: string;
  userId?: string;
  sessionId?: string;
  apiKeyId?: string;
  /** ms since the epoch; the entry is not used from then on. */
  until: number;
}

const MAX_ENTRIES = 10_000;
/** docs/API.md: an API key's `lastUsedAt` is updated at most once a minute. */
const API_KEY_USE_INTERVAL_MS = 60_000;

/**
 * An instance's memory of callers it has confirmed against the database: the principal a credential
 * stands for, and the tenant and id an API key's hash names. Entries live at most `ttlMs`, and go at
 * once when a change concerning them is announced (`invalidate`, fed by the change bus). Memory is
 * used only while the bus vouches for delivery (`vouch`, on each heartbeat that comes back); once that
 * lapses nothing is read or kept, and when it resumes everything kept before is forgotten, since a
 * change may have been missed in between.
 *
 * A confirmation that read the database before an invalidation must not be kept after it: callers
 * take `generation` before reading and hand it to `put`, which drops a stale one.
 */
export class PrincipalCache {
  private readonly entries = new Map<string, Entry<unknown>>();
  private readonly keyUses = new Map<string, number>();
  private currentGeneration = 0;
  private trustedUntil = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get generation(): number {
    return this.currentGeneration;
  }

  /** The bus has delivered everything published until now; memory may be trusted until `until` (ms). */
  vouch(until: number): void {
    if (this.now() >= this.trustedUntil) this.clear();
    this.trustedUntil = until;
  }

  /** The bus can no longer vouch (its connection is gone): nothing in memory is used until it can again. */
  distrust(): void {
    this.trustedUntil = 0;
  }

  get trusted(): boolean {
    return this.now() < this.trustedUntil;
  }

  principal(credential: TenantCredential): TenantPrincipal | undefined {
    return this.read<TenantPrincipal>(principalKey(credential));
  }

  putPrincipal(credential: TenantCredential, principal: TenantPrincipal, generation: number): void {
    const ids = principal.kind === 'user' ? { userId: principal.userId, sessionId: principal.sessionId } : { apiKeyId: principal.apiKeyId };
    this.write(principalKey(credential), principal, { tenantId: principal.tenantId, ...ids }, generation);
  }

  apiKey(hash: string): ApiKeyCredential | undefined {
    return this.read<ApiKeyCredential>(`hash:${hash}`);
  }

  /** An API key's hash and what it names; kept no longer than the key is valid. */
  putApiKey(hash: string, credential: ApiKeyCredential, expiresAt: Date | null, generation: number): void {
    this.write(`hash:${hash}`, credential, { tenantId: credential.tenantId, apiKeyId: credential.apiKeyId }, generation, expiresAt?.getTime());
  }

  /** Whether this instance should record an API key's use now: at most once a minute per key. */
  apiKeyUseDue(apiKeyId: string): boolean {
    const now = this.now();
    if ((this.keyUses.get(apiKeyId) ?? -Infinity) > now - API_KEY_USE_INTERVAL_MS) return false;
    if (this.keyUses.size >= MAX_ENTRIES) this.keyUses.clear();
    this.keyUses.set(apiKeyId, now);
    return true;
  }

  invalidate(change: PrincipalChange): void {
    this.currentGeneration += 1;
    for (const [key, entry] of this.entries) {
      if (
        entry.tenantId === change.tenantId &&
        (change.userId === undefined || entry.userId === change.userId) &&
        (change.sessionId === undefined || entry.sessionId === change.sessionId) &&
        (change.apiKeyId === undefined || entry.apiKeyId === change.apiKeyId)
      ) {
        this.entries.delete(key);
      }
    }
  }

  clear(): void {
    this.currentGeneration += 1;
    this.entries.clear();
  }

  private read<T>(key: string): T | undefined {
    if (!this.trusted) return undefined;
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value as T;
  }

  private write<T>(key: string, value: T, ids: Omit<Entry<T>, 'value' | 'until'>, generation: number, notAfter = Infinity): void {
    if (!this.trusted || generation !== this.currentGeneration) return;
    // Oldest first out: a Map iterates in insertion order.
    if (this.entries.size >= MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, { value, ...ids, until: Math.min(this.now() + this.ttlMs, notAfter) });
  }
}

function principalKey(credential: TenantCredential): string {
  if (credential.kind === 'api_key') return `key:${credential.apiKeyId}`;
  return `user:${credential.tenantId}:${credential.userId}:${credential.sessionId}:${credential.jti}:${credential.impersonatorId ?? ''}`;
}
