// The external.metrics.k8s.io/v1beta1 HTTP layer (express): discovery, values, probes, authn/authz; errors via toStatus.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage } from 'node:http';
import { parseSelector, SelectorError } from '../common/labels.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { Authorizer, RequestAttributes, UserInfo } from '../kube/authorization.js';
import type { AuthnResult } from './authn.js';
import {
  BadRequestError,
  ForbiddenError,
  MethodNotAllowedError,
  NotAcceptableError,
  PathNotFoundError,
  UnauthorizedError,
  UriTooLongError,
  toStatus,
} from './errors.js';
import type { ExternalMetricsProvider } from './provider.js';

export const GROUP = 'external.metrics.k8s.io';
export const VERSION = 'v1beta1';
export const GROUP_VERSION = `${GROUP}/${VERSION}`;
/** No metrics client sends a longer request URI; Node's own header limit (64 KiB) stops far longer ones earlier. */
export const MAX_URI_LENGTH = 8192;

export interface AdapterAppOptions {
  readonly provider: ExternalMetricsProvider;
  /** Absent: no authentication and no authorization (--insecure-dev only). */
  readonly authenticate?: (req: IncomingMessage) => AuthnResult;
  /** Absent: every authenticated request is allowed. */
  readonly authorizer?: Authorizer;
  readonly metrics?: GovernorMetrics;
  readonly log: Logger;
}

const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const METRIC_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.:]{0,251}[A-Za-z0-9])?$/;

/**
 * True when the Accept header admits a plain JSON answer. Aggregated discovery asks only for
 * `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`; we answer that with 406 so the aggregator
 * falls back to /apis/<group>/<version>.
 */
export function acceptsPlainJson(accept: string | undefined): boolean {
  if (!accept || accept.trim() === '') return true;
  for (const range of accept.split(',')) {
    const [type, ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const p = Object.fromEntries(params.map((kv) => kv.split('=').map((s) => s.trim())));
    if (p.q !== undefined && Number(p.q) === 0) continue;
    if (type === '*/*' || type === 'application/*') return true;
    if (type === 'application/json' && p.as === undefined && p.g === undefined && p.v === undefined) return true;
  }
  return false;
}

type Route = 'apis' | 'group' | 'version' | 'values' | 'openapi' | 'probe' | 'other';

interface Locals {
  route: Route;
  user?: UserInfo;
}

const locals = (res: Response) => res.locals as Locals;

export function createAdapterApp(o: AdapterAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  const send = (res: Response, code: number, body: unknown) => {
    res.status(code).type('application/json').send(JSON.stringify(body));
  };

  // Request duration by route and code, and the URI length guard, before anything else.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const started = process.hrtime.bigint();
    locals(res).route = 'other';
    res.on('finish', () => {
      const s = Number(process.hrtime.bigint() - started) / 1e9;
      o.metrics?.httpRequestDuration.observe({ server: 'adapter', route: locals(res).route, code: String(res.statusCode) }, s);
    });
    if (req.originalUrl.length > MAX_URI_LENGTH) {
      return next(new UriTooLongError(`request URI is ${req.originalUrl.length} bytes; the limit is ${MAX_URI_LENGTH}`));
    }
    next();
  });

  // Probes answer without a client certificate (kubelet has none).
  for (const path of ['/healthz', '/livez', '/readyz']) {
    app.get(path, (_req, res) => {
      locals(res).route = 'probe';
      res.type('text/plain').send('ok');
    });
  }

  // Authentication for everything else.
  app.use((req: Request, res: Response, next: NextFunction) => {
    if (!o.authenticate) return next();
    const r = o.authenticate(req);
    if (!r.ok) {
      o.log.info({ path: req.path, reason: r.reason, remote: req.socket.remoteAddress }, 'request not authenticated');
      return next(new UnauthorizedError(`Unauthorized: ${r.reason}`));
    }
    locals(res).user = r.user;
    next();
  });

  const authorize = async (res: Response, attrs: RequestAttributes) => {
    const user = locals(res).user;
    if (!o.authorizer || !user) return;
    const d = await o.authorizer.authorize(user, attrs);
    if (!d.allowed) {
      const what =
        attrs.kind === 'resource'
          ? `${attrs.verb} resource "${attrs.resource}" in API group "${attrs.group}" in the namespace "${attrs.namespace}"`
          : `${attrs.verb} path "${attrs.path}"`;
      throw new ForbiddenError(`${user.username} cannot ${what}${d.reason ? `: ${d.reason}` : ''}`);
    }
  };

  const discovery = (route: Route, body: () => unknown) => async (req: Request, res: Response) => {
    locals(res).route = route;
    if (!acceptsPlainJson(req.get('accept'))) {
      throw new NotAcceptableError(`only application/json is served here (no aggregated discovery); asked for ${JSON.stringify(req.get('accept')).slice(0, 300)}`);
    }
    await authorize(res, { kind: 'nonResource', verb: 'get', path: req.path });
    send(res, 200, body());
  };

  const groupVersion = { groupVersion: GROUP_VERSION, version: VERSION };
  const group = { name: GROUP, versions: [groupVersion], preferredVersion: groupVersion };

  app.get('/apis', discovery('apis', () => ({ kind: 'APIGroupList', apiVersion: 'v1', groups: [group] })));
  app.get(`/apis/${GROUP}`, discovery('group', () => ({ kind: 'APIGroup', apiVersion: 'v1', ...group })));
  app.get(
    `/apis/${GROUP_VERSION}`,
    discovery('version', () => ({
      kind: 'APIResourceList',
      apiVersion: 'v1',
      groupVersion: GROUP_VERSION,
      resources: o.provider.listMetrics().map((m) => ({ name: m.metric, singularName: '', namespaced: true, kind: 'ExternalMetricValueList', verbs: ['get'] })),
    })),
  );

  // No OpenAPI document: the aggregator skips a 404 gracefully.
  app.get(['/openapi/v2', '/openapi/v3', '/openapi/v3/*rest'], (_req, res) => {
    locals(res).route = 'openapi';
    throw new PathNotFoundError('this server publishes no OpenAPI document');
  });

  app.get(`/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`, async (req: Request, res: Response) => {
    locals(res).route = 'values';
    const namespace = String(req.params.namespace);
    const metric = String(req.params.metric);
    if (!NAMESPACE_RE.test(namespace)) throw new BadRequestError(`invalid namespace name ${JSON.stringify(namespace.slice(0, 100))}`);
    if (!METRIC_RE.test(metric)) throw new BadRequestError(`invalid metric name ${JSON.stringify(metric.slice(0, 100))}`);
    if (!acceptsPlainJson(req.get('accept'))) throw new NotAcceptableError('only application/json is served');
    const raw = req.query.labelSelector;
    if (raw !== undefined && typeof raw !== 'string') throw new BadRequestError('labelSelector must be given once');
    const selectorText = raw ?? '';
    let selector;
    try {
      selector = parseSelector(selectorText);
    } catch (e) {
      if (e instanceof SelectorError) throw new BadRequestError(`invalid labelSelector: ${e.message}`);
      throw e;
    }
    await authorize(res, { kind: 'resource', verb: 'list', group: GROUP, version: VERSION, resource: metric, namespace });
    const items = await o.provider.getValues(namespace, metric, selector, selectorText);
    send(res, 200, { kind: 'ExternalMetricValueList', apiVersion: GROUP_VERSION, metadata: {}, items });
  });

  // Known paths with another method: 405; anything else: 404.
  app.all(['/apis', `/apis/${GROUP}`, `/apis/${GROUP_VERSION}`, `/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`], (req) => {
    throw new MethodNotAllowedError(`method ${req.method} is not supported; this API is read-only (GET)`);
  });
  app.use((req: Request) => {
    throw new PathNotFoundError(`the server could not find the requested resource (${req.method} ${req.path.slice(0, 200)})`);
  });

  // The one place errors become responses.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, internal } = toStatus(err);
    const user = locals(res).user?.username;
    if (internal) o.log.error({ err: (err as Error)?.stack ?? String(err), path: req.path, user }, 'request failed');
    else if (status.code >= 500) o.log.debug({ path: req.path, code: status.code, user, msg: status.message }, 'value unavailable'); // the evaluation already logged why
    else o.log.debug({ path: req.path.slice(0, 200), code: status.code, user, msg: status.message }, 'request rejected');
    if (res.headersSent) return;
    send(res, status.code, status);
  });

  return app;
}
