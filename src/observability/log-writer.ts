// The log destination of `governor serve`: records gathered in memory and written to a file descriptor in batches,
// asynchronously (a write to a pipe whose reader is slow must not hold up the event loop that answers reviews).
// pino's SonicBoom does the same but measures its buffer on every record (flattening a growing string each time);
// this keeps an array of lines and joins it once per write, which is what lets every denial be logged at load.
import { closeSync, openSync, write, writeSync } from 'node:fs';

export interface LineWriterOptions {
  /** A batch is written once this many characters are waiting (default 16 KiB). */
  readonly batchChars?: number;
  /** A partial batch waits at most this long (ms, default 250). */
  readonly flushMs?: number;
  /** Characters held while the destination does not keep up; beyond, lines are dropped and counted (default 16 MiB). */
  readonly maxPendingChars?: number;
}

const RETRY_MS = 20;

export class LineWriter {
  private pending: string[] = [];
  private pendingChars = 0;
  private writing = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: (() => void)[] = [];
  private broken = false;
  private readonly ownsFd: boolean;
  readonly fd: number;
  /** Lines dropped because the destination did not keep up (reported in a line of their own once it does). */
  dropped = 0;
  private readonly batchChars: number;
  private readonly flushMs: number;
  private readonly maxPendingChars: number;

  /** `dest`: a file descriptor (1: stdout) or a file path, opened for appending. */
  constructor(dest: number | string, o: LineWriterOptions = {}) {
    this.ownsFd = typeof dest === 'string';
    this.fd = typeof dest === 'string' ? openSync(dest, 'a') : dest;
    this.batchChars = o.batchChars ?? 16 * 1024;
    this.flushMs = o.flushMs ?? 250;
    this.maxPendingChars = o.maxPendingChars ?? 16 * 1024 * 1024;
    // Whatever is still gathered when the process exits (process.exit included) is written synchronously.
    process.once('exit', this.onExit);
  }

  private readonly onExit = () => this.flushSync();

  write(line: string): boolean {
    if (this.broken) return true;
    if (this.pendingChars + line.length > this.maxPendingChars) {
      this.dropped++;
      return false;
    }
    this.pending.push(line);
    this.pendingChars += line.length;
    if (!this.writing) {
      if (this.pendingChars >= this.batchChars) this.kick();
      else this.timer ??= setTimeout(this.onTimer, this.flushMs).unref();
    }
    return true;
  }

  private readonly onTimer = () => {
    this.timer = undefined;
    this.kick();
  };

  private take(): Buffer {
    if (this.dropped) {
      this.pending.push(`{"level":"warn","time":"${new Date().toISOString()}","msg":"log lines dropped: the log destination did not keep up","dropped":${this.dropped}}\n`);
      this.dropped = 0;
    }
    const buf = Buffer.from(this.pending.join(''), 'utf8');
    this.pending = [];
    this.pendingChars = 0;
    return buf;
  }

  private kick(): void {
    if (this.writing) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.pending.length || this.broken) return this.drained();
    this.writing = true;
    this.send(this.take(), 0);
  }

  private send(buf: Buffer, offset: number): void {
    write(this.fd, buf, offset, buf.length - offset, null, (err, n) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN' || code === 'EBUSY' || code === 'EINTR') return void setTimeout(() => this.send(buf, offset), RETRY_MS);
        // EPIPE and the like: nobody reads the log any more; logging stops, serving does not.
        this.broken = true;
        this.pending = [];
        this.pendingChars = 0;
      } else if (offset + n < buf.length) return this.send(buf, offset + n);
      this.writing = false;
      if (this.pendingChars >= this.batchChars || this.waiters.length) this.kick();
      else if (this.pending.length) this.timer ??= setTimeout(this.onTimer, this.flushMs).unref();
    });
  }

  private drained(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  /** Writes out everything gathered so far; `cb` once it is written (pino's logger.flush calls this). */
  flush(cb?: (err?: Error) => void): void {
    if (cb) this.waiters.push(() => cb());
    if (!this.writing) this.kick();
  }

  /**
   * Writes what is gathered, synchronously (the exit path). A batch already handed to the operating system
   * asynchronously is not waited for: flush(cb) is the way that waits (see flushLog).
   */
  flushSync(): void {
    if (this.broken || !this.pending.length) return;
    const buf = this.take();
    let offset = 0;
    for (let tries = 0; offset < buf.length && tries < 1000; tries++) {
      try {
        offset += writeSync(this.fd, buf, offset, buf.length - offset);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EAGAIN' && code !== 'EBUSY' && code !== 'EINTR') return;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
      }
    }
  }

  /** Stops the timer and the exit hook, and closes the file if this writer opened it (tests). */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    process.removeListener('exit', this.onExit);
    this.flushSync();
    if (this.ownsFd) closeSync(this.fd);
  }
}
