// Thin HTTP adapter (plain node:http, no framework on the hot path): routes, body limit, JSON, and errors as Status bodies.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import { AdmissionDecodeError, type AdmissionReviewResponse } from './review.js';

/** The API server never sends more than this (its own request limit is 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

export type ReviewFunction = (body: unknown) => AdmissionReviewResponse;

export interface WebhookHttpOptions {
  readonly mutate: ReviewFunction;
  readonly validate: ReviewFunction;
  /** /readyz answers 503 until this is true (policies loaded, namespace cache synced). */
  readonly ready?: () => boolean;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
  readonly maxBodyBytes?: number;
}

class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function status(res: ServerResponse, code: number, reason: string, message: string, close = false): void {
  const body = JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...(close ? { Connection: 'close' } : {}) });
  res.end(body);
}

/** Reads the body up to `limit` bytes; beyond it the rest is drained and a 400 follows. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    const tooLarge = () => new HttpError(400, 'BadRequest', `request body is larger than ${limit} bytes (3 MiB); the API server never sends more`);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume(); // drain so the connection stays usable
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) chunks.push(c);
    });
    req.on('end', () => (over ? reject(tooLarge()) : resolve(Buffer.concat(chunks, size))));
    req.on('error', reject);
  });
}

export function createWebhookListener(o: WebhookHttpOptions): RequestListener {
  const limit = o.maxBodyBytes ?? MAX_BODY_BYTES;
  const routes: Record<string, ReviewFunction> = { '/mutate': o.mutate, '/validate': o.validate };
  return (req, res) => {
    const started = performance.now();
    // The API server appends ?timeout=10s to the webhook path.
    const q = (req.url ?? '/').indexOf('?');
    const path = q < 0 ? (req.url ?? '/') : req.url!.slice(0, q);
    const observe = (route: string) => res.once('finish', () => o.metrics?.httpRequestDuration.observe({ server: 'webhook', route, code: String(res.statusCode) }, (performance.now() - started) / 1000));
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      const ok = path !== '/readyz' || (o.ready?.() ?? true);
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok' : 'not ready');
      return;
    }
    const review = routes[path];
    if (!review) {
      observe('other');
      status(res, 404, 'NotFound', `no route ${path}; the webhook serves POST /mutate and POST /validate`);
      req.resume();
      return;
    }
    observe(path.slice(1));
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      status(res, 405, 'MethodNotAllowed', `${req.method} is not allowed on ${path}; use POST`);
      req.resume();
      return;
    }
    readBody(req, limit)
      .then((buf) => {
        let body: unknown;
        try {
          body = JSON.parse(buf.toString('utf8'));
        } catch (e) {
          throw new HttpError(400, 'BadRequest', `body is not valid JSON: ${(e as Error).message}`);
        }
        const out = JSON.stringify(review(body));
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(out) });
        res.end(out);
      })
      .catch((e: unknown) => {
        if (e instanceof HttpError || e instanceof AdmissionDecodeError) {
          o.log.warn({ route: path, remote: req.socket.remoteAddress, err: (e as Error).message }, 'malformed admission request');
          status(res, (e as HttpError | AdmissionDecodeError).status, 'BadRequest', (e as Error).message);
          return;
        }
        // Details only in the log; the body stays generic.
        o.log.error({ route: path, err: (e as Error)?.stack ?? String(e) }, 'admission review failed');
        if (!res.headersSent) status(res, 500, 'InternalError', 'internal error');
        else res.destroy();
      });
  };
}
