/** One failed request as the console shows it: no body, no query string, no headers, no credentials. */
export interface RecentError {
  at: string;
  requestId: string | null;
  method: string;
  /** The route template (`/api/v1/leads/:id`), so no identifier or search term from the URL. */
  route: string;
  status: number;
  code: string | null;
  tenantId: string | null;
  durationMs: number;
}

/**
 * The last 5xx answers of this instance, newest first, in a fixed-size ring: memory stays bounded
 * whatever the error rate, and each instance shows only its own (nothing is shared or persisted).
 */
export class RecentErrors {
  private readonly entries: RecentError[] = [];
  private next = 0;

  constructor(readonly capacity = 50) {}

  add(entry: RecentError): void {
    if (this.entries.length < this.capacity) this.entries.push(entry);
    else this.entries[this.next] = entry;
    this.next = (this.next + 1) % this.capacity;
  }

  list(limit = this.capacity): RecentError[] {
    // Until the ring is full, `next` is its length and the first slice is empty.
    const ordered = [...this.entries.slice(this.next), ...this.entries.slice(0, this.next)];
    return ordered.reverse().slice(0, limit);
  }
}
