// The webhook's HTTP layer: an express app for every route, with POST /mutate and /validate served by a fast path in
// front of it (src/server/fast-path.ts). Both call the same framework-agnostic review handler: body limit, JSON, the
// review, errors as Status bodies.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { sendBody } from '../server/send.js';
import { admissionReviewText } from '../wire/admission-review.js';
import { statusResponse } from '../wire/status.js';
import { textBody } from '../wire/text.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import { RequestBudget, type BudgetHolder } from '../server/budget.js';
import { withFastPath } from '../server/fast-path.js';
import { AdmissionDecodeError, type AdmissionReviewResponse } from './review.js';
import { wantsVerbose, type ReadinessAnswer } from '../observability/readiness.js';

/** The API server never sends more than this (its own request limit is 3 MiB). */
export const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Takes the parsed body over: the mutate review fills defaults into its request.object in place. */
export type ReviewFunction = (body: unknown) => AdmissionReviewResponse;

export interface WebhookHttpOptions {
  readonly mutate: ReviewFunction;
  readonly validate: ReviewFunction;
  /** /readyz answers 503 until this is true (policies loaded, namespace cache synced). */
  readonly ready?: () => boolean;
  /** /readyz from the process's aggregated readiness (takes precedence over `ready`). /healthz and /livez never depend on it. */
  readonly readyz?: (verbose: boolean) => ReadinessAnswer;
  readonly log: Logger;
  readonly metrics?: GovernorMetrics;
  readonly maxBodyBytes?: number;
  /**
   * Bodies being received, bounded in bytes and requests for the whole server (src/server/budget.ts); default: one
   * with the default limits, counted in governor_http_requests_shed_total.
   */
  readonly budget?: RequestBudget;
  /** false: every request goes through express (for comparison in benches and tests); default true. */
  readonly fastPath?: boolean;
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

function status(res: ServerResponse, code: number, reason: string, message: string, headers?: Record<string, string>): void {
  sendBody(res, code, 'application/json', statusResponse(code, reason, message), headers);
}

/**
 * What is wrong with a body JSON.parse rejected, without quoting it: V8's messages carry a snippet of the input
 * (`Unexpected token 'S', "{"password": S"... is not valid JSON`), and this text is logged and sent back.
 */
function jsonProblem(e: unknown): string {
  const m = e instanceof Error ? e.message : '';
  const at = /at position (\d+)/.exec(m)?.[1];
  const what = e instanceof RangeError ? 'nested too deeply' : /end of JSON input/.test(m) ? 'it ends too early' : /^Unexpected token/.test(m) ? 'unexpected token' : 'syntax error';
  return at ? `${what} at position ${at}` : what;
}

/**
 * Reads the body up to `limit` bytes, then calls `done` once (error first). Beyond the limit the rest is drained (and
 * what was buffered is dropped at once) so the connection stays usable, and a 400 follows. Every buffered byte counts
 * against the server's budget, which may shed this request (503) to make room; a connection that closes mid-body gives
 * its bytes back at once. Callbacks rather than a Promise: this runs for every review.
 */
function readBody(req: IncomingMessage, limit: number, budget: RequestBudget, done: (err: HttpError | Error | undefined, body?: Buffer) => void): void {
  const declared = Number(req.headers['content-length']);
  const tooLarge = () => new HttpError(400, 'BadRequest', `request body is larger than ${limit} bytes (3 MiB); the API server never sends more`);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    done(tooLarge());
    return;
  }
  let chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  let finished = false;
  const finish = (err: Error | undefined, body?: Buffer) => {
    if (finished) return;
    finished = true;
    budget.leave(holder);
    chunks = [];
    done(err, body);
  };
  const holder: BudgetHolder = { bytes: 0, prev: null, next: null, held: false, shed: () => finish(new HttpError(503, 'ServiceUnavailable', SHED_MESSAGE)) };
  budget.enter(holder);
  if (finished) return; // shed at once: too many requests reading
  req.on('data', (c: Buffer) => {
    if (finished || over) return;
    size += c.length;
    if (size > limit) {
      over = true;
      chunks = [];
      budget.leave(holder);
      return;
    }
    if (budget.add(holder, c.length)) chunks.push(c);
  });
  req.on('end', () => (over ? finish(tooLarge()) : finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size))));
  req.on('error', (e) => finish(e));
}

/** What a shed request is told: generic (no figures an attacker could tune to), and the API server may retry. */
const SHED_MESSAGE = 'the webhook is receiving too many requests at once; retry';

/** One webhook route as a plain node:http handler: the same code whether the fast path or express calls it. */
function reviewHandler(route: 'mutate' | 'validate', review: ReviewFunction, o: WebhookHttpOptions, budget: RequestBudget): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = o.maxBodyBytes ?? MAX_BODY_BYTES;
  const ok = ['webhook', route, '200'] as const;
  const failed = (req: IncomingMessage, res: ServerResponse, e: unknown) => {
    // Recursive code (JSON.parse, the engine's walk of the object) overflows the stack on an object nested a few
    // thousand levels deep; the API server never sends one (its own decoder stops at 10,000 levels).
    if (e instanceof RangeError && /call stack/i.test(e.message)) e = new HttpError(400, 'BadRequest', 'the AdmissionReview is nested too deeply to review');
    if (e instanceof HttpError && e.status === 503) {
      // Shed by the budget: counted in a metric, not logged per request (a flood would flood the log too). The
      // connection closes after the answer, so the rest of the body is never read; a client that does not read the
      // answer either is cut off shortly after.
      status(res, 503, e.reason, e.message, { Connection: 'close', 'Retry-After': '1' });
      setTimeout(() => req.socket.destroy(), 2000).unref();
      return;
    }
    if (!(e instanceof HttpError) && req.destroyed) {
      // The client went away mid-body (reset, timeout): nobody is left to answer; its buffers are already released.
      o.log.debug({ route: `/${route}`, err: (e as Error)?.message }, 'admission request aborted by the client');
      return;
    }
    if (e instanceof HttpError || e instanceof AdmissionDecodeError) {
      o.log.warn({ route: `/${route}`, remote: req.socket.remoteAddress, err: (e as Error).message }, 'malformed admission request');
      status(res, (e as HttpError | AdmissionDecodeError).status, e instanceof HttpError ? e.reason : 'BadRequest', (e as Error).message);
      return;
    }
    // Details only in the log; the body stays generic.
    o.log.error({ route: `/${route}`, err: (e as Error)?.stack ?? String(e) }, 'admission review failed');
    if (!res.headersSent) status(res, 500, 'InternalError', 'internal error');
    else res.destroy();
  };
  return (req, res) => {
    const started = performance.now();
    readBody(req, limit, budget, (err, buf) => {
      try {
        if (err) throw err;
        let body: unknown;
        try {
          body = JSON.parse(buf!.toString('utf8'));
        } catch (e) {
          throw new HttpError(400, 'BadRequest', `body is not valid JSON: ${jsonProblem(e)}`);
        }
        sendBody(res, 200, 'application/json', textBody(admissionReviewText(review(body))));
      } catch (e) {
        failed(req, res, e);
      }
      // Observed when the answer is handed to the socket (not on 'finish': one listener less per request).
      o.metrics?.httpRequestDuration.observe(res.statusCode === 200 ? ok : ['webhook', route, String(res.statusCode)], (performance.now() - started) / 1000);
    });
  };
}

/** The webhook as an express app: probes, the two review routes, 405/404 as Status bodies, one error handler. */
/** Both review routes over one budget. */
function reviewHandlers(o: WebhookHttpOptions) {
  const budget = o.budget ?? new RequestBudget({ onShed: (reason) => o.metrics?.requestsShed.inc({ server: 'webhook', reason }) });
  return { mutate: reviewHandler('mutate', o.mutate, o, budget), validate: reviewHandler('validate', o.validate, o, budget) };
}

export function createWebhookApp(o: WebhookHttpOptions, handlers = reviewHandlers(o)): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false);

  for (const path of ['/healthz', '/livez', '/readyz']) {
    app.all(path, (req, res) => {
      if (path === '/readyz' && o.readyz) {
        const a = o.readyz(wantsVerbose(req.originalUrl));
        res.writeHead(a.status, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void res.end(a.body);
      }
      const ok = path !== '/readyz' || (o.ready?.() ?? true);
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' });
      res.end(ok ? 'ok' : 'not ready');
    });
  }
  for (const route of ['mutate', 'validate'] as const) {
    app.post(`/${route}`, (req, res) => handlers[route](req, res));
    app.all(`/${route}`, (req, res) => {
      observe(o, res, route);
      status(res, 405, 'MethodNotAllowed', `${req.method} is not allowed on /${route}; use POST`, { Allow: 'POST' });
      req.resume();
    });
  }
  app.use((req: Request, res: Response) => {
    observe(o, res, 'other');
    status(res, 404, 'NotFound', `no route ${req.path.slice(0, 200)}; the webhook serves POST /mutate and POST /validate`);
    req.resume();
  });
  // Nothing above throws by design; should anything, the body stays generic and the detail goes to the log.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    o.log.error({ path: req.path.slice(0, 200), err: (err as Error)?.stack ?? String(err) }, 'webhook request failed');
    if (res.headersSent) return void res.destroy();
    status(res, 500, 'InternalError', 'internal error');
  });
  return app;
}

function observe(o: WebhookHttpOptions, res: ServerResponse, route: string) {
  const started = performance.now();
  res.once('finish', () => o.metrics?.httpRequestDuration.observe(['webhook', route, String(res.statusCode)], (performance.now() - started) / 1000));
}

/** What the webhook server serves: the fast path for POST /mutate and /validate, express for everything else. */
export function createWebhookListener(o: WebhookHttpOptions): RequestListener {
  const handlers = reviewHandlers(o);
  const app = createWebhookApp(o, handlers);
  if (o.fastPath === false) return app;
  return withFastPath(
    [
      { method: 'POST', path: '/mutate', handle: (req, res) => handlers.mutate(req, res) },
      { method: 'POST', path: '/validate', handle: (req, res) => handlers.validate(req, res) },
    ],
    app,
  );
}
