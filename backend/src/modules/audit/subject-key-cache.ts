/**
 * Per-person audit keys, unwrapped, kept in this process so that writing about a known person costs no
 * query. Bounded: at most MAX_KEYS keys (least recently used go first), each for at most TTL_MS.
 *
 * A stale key can never encrypt a committed entry after its erasure: the writer's insert checks, in
 * the same statement, that every key it encrypted under still exists with its material, and retries
 * uncached when one does not (audit-store.ts). The TTL bounds how long a key erased by another
 * instance can stay in this process's memory; an erasure on this instance drops its tenant's keys at once.
 */
export const SUBJECT_KEY_TTL_MS = 60_000;
const MAX_KEYS = 10_000;

export interface CachedSubjectKey {
  id: string;
  /** Null once destroyed: destroyed is final, so that too is worth remembering. */
  key: Buffer | null;
}

interface Slot extends CachedSubjectKey {
  expiresAt: number;
}

/** Map keeps insertion order: re-inserting on use makes the first key the least recently used. */
const slots = new Map<string, Slot>();

const slotKey = (tenantId: string, subjectHash: string) => `${tenantId}:${subjectHash}`;

export function cachedSubjectKey(tenantId: string, subjectHash: string, now = Date.now()): CachedSubjectKey | undefined {
  const name = slotKey(tenantId, subjectHash);
  const slot = slots.get(name);
  if (!slot) return undefined;
  slots.delete(name);
  if (slot.expiresAt <= now) return undefined;
  slots.set(name, slot);
  return { id: slot.id, key: slot.key };
}

export function cacheSubjectKey(tenantId: string, subjectHash: string, key: CachedSubjectKey, now = Date.now()): void {
  const name = slotKey(tenantId, subjectHash);
  slots.delete(name);
  slots.set(name, { ...key, expiresAt: now + SUBJECT_KEY_TTL_MS });
  if (slots.size > MAX_KEYS) slots.delete(slots.keys().next().value!);
}

/** Erasure is rare: dropping every key of the tenant is simpler than finding the ones it touched. */
export function forgetTenantSubjectKeys(tenantId: string): void {
  const prefix = `${tenantId}:`;
  for (const name of [...slots.keys()]) if (name.startsWith(prefix)) slots.delete(name);
}

export function forgetSubjectKeys(tenantId: string, subjectHashes: readonly string[]): void {
  for (const hash of subjectHashes) slots.delete(slotKey(tenantId, hash));
}
