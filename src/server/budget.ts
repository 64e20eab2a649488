// The server's budget for request bodies being received: bytes buffered and requests reading, both bounded; the oldest
// reader is shed to make room, so stalled uploads cannot hold the memory a fresh review needs.

/** One request whose body is being buffered. The budget links holders oldest first; the fields are the budget's. */
export interface BudgetHolder {
  /** Bytes this request has buffered and counted. */
  bytes: number;
  prev: BudgetHolder | null;
  next: BudgetHolder | null;
  /** True while linked into a budget. */
  held: boolean;
  /** Called once when the budget sheds this request: answer it (503) and drop what it buffered. */
  shed(reason: ShedReason): void;
}

export type ShedReason = 'bytes' | 'requests';

export interface RequestBudgetOptions {
  /** Bytes of request bodies buffered at once, across every request (default 16 MiB). */
  readonly maxBytes?: number;
  /** Requests reading a body at once (default 400). */
  readonly maxRequests?: number;
  /** Told of every shed request (a metric). */
  readonly onShed?: (reason: ShedReason) => void;
}

export const DEFAULT_MAX_INFLIGHT_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_INFLIGHT_REVIEWS = 400;

/**
 * Counters and an intrusive list, nothing allocated per request: entering, growing and leaving are O(1) (shedding
 * walks from the oldest, and only when over a limit). When a new request or new bytes would go over a limit, the
 * requests that started earliest (holding bytes, for the byte limit) are shed (answered 503) until it fits. Oldest first, because a body the API server sends arrives within milliseconds: a request still reading after
 * every newer one is the one most likely stalled, and a fresh small review always finds room. Memory stays bounded
 * whatever clients do; under a flood, answers degrade to 503s, which the API server treats per failurePolicy.
 */
export class RequestBudget {
  readonly maxBytes: number;
  readonly maxRequests: number;
  bytes = 0;
  requests = 0;
  shedCount = 0;
  private head: BudgetHolder | null = null;
  private tail: BudgetHolder | null = null;
  private readonly onShed: ((reason: ShedReason) => void) | undefined;

  constructor(o: RequestBudgetOptions = {}) {
    this.maxBytes = o.maxBytes ?? DEFAULT_MAX_INFLIGHT_BYTES;
    this.maxRequests = o.maxRequests ?? DEFAULT_MAX_INFLIGHT_REVIEWS;
    if (!(this.maxBytes > 0) || !(this.maxRequests > 0)) throw new Error('the request budget needs positive limits');
    this.onShed = o.onShed;
  }

  /** Links a request in as the newest; sheds the oldest when there are too many. */
  enter(h: BudgetHolder): void {
    h.bytes = 0;
    h.held = true;
    h.next = null;
    h.prev = this.tail;
    if (this.tail) this.tail.next = h;
    else this.head = h;
    this.tail = h;
    this.requests++;
    while (this.requests > this.maxRequests && this.head) this.shed(this.head, 'requests');
  }

  /**
   * Counts n more bytes for h. Returns false when h itself was shed to make room (it was the oldest): the caller must
   * drop the chunk.
   */
  add(h: BudgetHolder, n: number): boolean {
    if (!h.held) return false;
    h.bytes += n;
    this.bytes += n;
    // The oldest holding bytes go first: shedding one that holds none would free nothing.
    let next = this.head;
    while (this.bytes > this.maxBytes && next) {
      const oldest = next;
      next = oldest.next;
      if (oldest.bytes === 0) continue;
      this.shed(oldest, 'bytes');
      if (oldest === h) return false;
    }
    return true;
  }

  /** Unlinks h and gives its bytes back (idempotent). */
  leave(h: BudgetHolder): void {
    if (!h.held) return;
    h.held = false;
    this.bytes -= h.bytes;
    h.bytes = 0;
    this.requests--;
    if (h.prev) h.prev.next = h.next;
    else this.head = h.next;
    if (h.next) h.next.prev = h.prev;
    else this.tail = h.prev;
    h.prev = h.next = null;
  }

  private shed(h: BudgetHolder, reason: ShedReason): void {
    this.leave(h);
    this.shedCount++;
    this.onShed?.(reason);
    h.shed(reason);
  }
}
