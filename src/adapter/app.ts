// The external.metrics.k8s.io/v1beta1 HTTP layer (express): discovery, values, probes, authn/authz; errors via toStatus.
// The value route the HPA polls is also served by a fast path in front of express (createAdapterListener), which calls
// the same handler.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { parse as parseQuery } from 'node:querystring';
import { parseSelector, SelectorError, type Requirement } from '../common/labels.js';
import type { Logger } from '../observability/log.js';
import type { GovernorMetrics } from '../observability/metrics.js';
import type { Authorizer, RequestAttributes, UserInfo } from '../kube/authorization.js';
import { withFastPath } from '../server/fast-path.js';
import type { AuthnResult } from './authn.js';
import {
  BadRequestError,
  ForbiddenError,
  MethodNotAllowedError,
  NotAcceptableError,
  PathNotFoundError,
  UnauthorizedError,
  UriTooLongError,
  ValueUnavailableError,
  toStatus,
} from './errors.js';
import type { Status } from '../wire/status.js';
import { jsonBody, textBody, type Body } from '../wire/text.js';
import { sendBody } from '../server/send.js';
import type { ExternalMetricsProvider, ExternalMetricValue } from './provider.js';
import { wantsVerbose, type ReadinessAnswer } from '../observability/readiness.js';

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
  /** createAdapterListener only: false sends every request through express (benches, parity tests); default true. */
  readonly fastPath?: boolean;
  /** /readyz: the process's aggregated readiness (absent: always ok). /healthz and /livez never depend on it. */
  readonly readyz?: (verbose: boolean) => ReadinessAnswer;
}

const NAMESPACE_RE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const METRIC_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.:]{0,251}[A-Za-z0-9])?$/;

/**
 * True when the Accept header admits a plain JSON answer. Aggregated discovery asks only for
 * `application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`; we answer that with 406 so the aggregator
 * falls back to /apis/<group>/<version>.
 */
export function acceptsPlainJson(accept: string | undefined): boolean {
  if (!accept) return true;
  // Every HPA sends the same few Accept headers: the answer is remembered per header (bounded; headers vary freely).
  const known = acceptMemo.get(accept);
  if (known !== undefined) return known;
  const r = acceptsPlainJsonUncached(accept);
  if (accept.length <= 256) {
    if (acceptMemo.size >= MEMO_ENTRIES) acceptMemo.clear();
    acceptMemo.set(accept, r);
  }
  return r;
}
const MEMO_ENTRIES = 256;
const acceptMemo = new Map<string, boolean>();

function acceptsPlainJsonUncached(accept: string): boolean {
  if (accept.trim() === '') return true;
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

const JSON_TYPE = 'application/json; charset=utf-8';

/** Writes a JSON body exactly as express's res.type('application/json').send(string) does (no ETag, no x-powered-by). */
function sendJson(res: ServerResponse, code: number, body: unknown): void {
  sendBody(res, code, JSON_TYPE, jsonBody(body));
}

const UNAVAILABLE_RELOG_MS = 10 * 60_000;
const SELECTOR_MEMO_ENTRIES = 4096;
/** JSON.stringify({ kind, apiVersion, metadata: {}, items }) up to the items. */
const LIST_PREFIX = `{"kind":"ExternalMetricValueList","apiVersion":${JSON.stringify(GROUP_VERSION)},"metadata":{},"items":[`;
const MAX_UNAVAILABLE_CAUSES = 1000;

/** What both the express app and the fast path need: authorization and the value lookup, errors in one place. */
function adapterCore(o: AdapterAppOptions) {
  const authorize = async (user: UserInfo | undefined, attrs: RequestAttributes) => {
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

  /** Authentication for everything but the probes; throws UnauthorizedError. */
  const authenticate = (req: IncomingMessage, path: string): UserInfo | undefined => {
    if (!o.authenticate) return undefined;
    const r = o.authenticate(req);
    if (!r.ok) {
      o.log.info({ path: path.slice(0, 200), reason: r.reason, remote: req.socket.remoteAddress }, 'request not authenticated');
      throw new UnauthorizedError(`Unauthorized: ${r.reason}`);
    }
    return r.user;
  };

  /** GET …/namespaces/{namespace}/{metric}: the ExternalMetricValueList, or an AdapterError. */
  const values = async (accept: string | undefined, user: UserInfo | undefined, namespace: string, metric: string, raw: unknown) => {
    if (!NAMESPACE_RE.test(namespace)) throw new BadRequestError(`invalid namespace name ${JSON.stringify(namespace.slice(0, 100))}`);
    if (!METRIC_RE.test(metric)) throw new BadRequestError(`invalid metric name ${JSON.stringify(metric.slice(0, 100))}`);
    if (!acceptsPlainJson(accept)) throw new NotAcceptableError('only application/json is served');
    if (raw !== undefined && typeof raw !== 'string') throw new BadRequestError('labelSelector must be given once');
    const selectorText = raw ?? '';
    const selector = selectorOf(selectorText);
    await authorize(user, { kind: 'resource', verb: 'list', group: GROUP, version: VERSION, resource: metric, namespace });
    const items = await o.provider.getValues(namespace, metric, selector, selectorText);
    // A provider that hands back the same items array for the same answer (one policy, one decision per interval) has
    // its answer written once; the text is what JSON.stringify of the whole list gives.
    let body = answers.get(items);
    if (!body) {
      body = textBody(`${LIST_PREFIX}${items.map((i) => JSON.stringify(i)).join(',')}]}`);
      answers.set(items, body);
    }
    return body;
  };
  const answers = new WeakMap<readonly ExternalMetricValue[], Body>();

  // Parsed selectors by text (the HPA sends the same one every 15 s per metric); bounded, since selectors vary.
  const selectors = new Map<string, readonly Requirement[]>();
  const selectorOf = (text: string): readonly Requirement[] => {
    const known = selectors.get(text);
    if (known) return known;
    let selector: readonly Requirement[];
    try {
      selector = Object.freeze(parseSelector(text));
    } catch (e) {
      if (e instanceof SelectorError) throw new BadRequestError(`invalid labelSelector: ${e.message}`);
      throw e;
    }
    if (text.length <= 1024) {
      if (selectors.size >= SELECTOR_MEMO_ENTRIES) selectors.clear();
      selectors.set(text, selector);
    }
    return selector;
  };

  // 5xx causes already logged (message → when): a warning once per distinct cause, not per request (every HPA polls
  // every 15 s), again after UNAVAILABLE_RELOG_MS while it lasts; bounded, since selectors vary.
  const unavailableLogged = new Map<string, number>();
  const logUnavailable = (err: unknown, status: Status, path: string, username: string | undefined) => {
    const now = Date.now();
    const fields = { path: path.slice(0, 200), code: status.code, user: username, msg: status.message, ...(err instanceof ValueUnavailableError && err.detail ? { detail: err.detail } : {}) };
    const last = unavailableLogged.get(status.message);
    if (last !== undefined && now - last < UNAVAILABLE_RELOG_MS) return o.log.debug(fields, 'value unavailable');
    if (unavailableLogged.size >= MAX_UNAVAILABLE_CAUSES) unavailableLogged.clear();
    unavailableLogged.set(status.message, now);
    o.log.warn(fields, 'value unavailable');
  };

  /** The one place errors become responses. */
  const answerError = (err: unknown, path: string, res: ServerResponse, user: UserInfo | undefined) => {
    const { status, internal } = toStatus(err);
    const username = user?.username;
    if (internal) o.log.error({ err: (err as Error)?.stack ?? String(err), path: path.slice(0, 200), user: username }, 'request failed');
    else if (status.code >= 500) logUnavailable(err, status, path, username);
    else o.log.debug({ path: path.slice(0, 200), code: status.code, user: username, msg: status.message }, 'request rejected');
    if (res.headersSent) return;
    sendJson(res, status.code, status);
  };

  /** 414 for a request URI longer than MAX_URI_LENGTH, before routing; true when it answered. */
  const refuseLongUri = (req: IncomingMessage, res: ServerResponse): boolean => {
    const length = req.url?.length ?? 0;
    if (length <= MAX_URI_LENGTH) return false;
    observe(res, () => 'other');
    answerError(new UriTooLongError(`request URI is ${length} bytes; the limit is ${MAX_URI_LENGTH}`), req.url!.split('?', 1)[0]!, res, undefined);
    return true;
  };

  const observe = (res: ServerResponse, route: () => Route) => {
    if (!o.metrics) return;
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const s = Number(process.hrtime.bigint() - started) / 1e9;
      o.metrics!.httpRequestDuration.observe(['adapter', route(), String(res.statusCode)], s);
    });
  };

  return { authorize, authenticate, values, answerError, observe, refuseLongUri };
}

/** The express app; the URI length limit is checked in front of it, by createAdapterListener. */
function createAdapterApp(o: AdapterAppOptions, core: ReturnType<typeof adapterCore>): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', 'simple');

  const send = (res: Response, code: number, body: unknown) => sendJson(res, code, body);

  // Request duration by route and code, before anything else.
  app.use((_req: Request, res: Response, next: NextFunction) => {
    locals(res).route = 'other';
    core.observe(res, () => locals(res).route);
    next();
  });

  // Probes answer without a client certificate (kubelet has none).
  for (const path of ['/healthz', '/livez', '/readyz']) {
    app.get(path, (req, res) => {
      locals(res).route = 'probe';
      const a = path === '/readyz' && o.readyz ? o.readyz(wantsVerbose(req.originalUrl)) : { status: 200, body: 'ok' };
      res.status(a.status).type('text/plain').send(a.body);
    });
  }

  // Authentication for everything else.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const user = core.authenticate(req, req.path);
    if (user) locals(res).user = user;
    next();
  });

  const discovery = (route: Route, body: () => unknown) => async (req: Request, res: Response) => {
    locals(res).route = route;
    if (!acceptsPlainJson(req.get('accept'))) {
      throw new NotAcceptableError(`only application/json is served here (no aggregated discovery); asked for ${JSON.stringify(req.get('accept')).slice(0, 300)}`);
    }
    await core.authorize(locals(res).user, { kind: 'nonResource', verb: 'get', path: req.path });
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
    sendBody(res, 200, JSON_TYPE, await core.values(req.get('accept'), locals(res).user, String(req.params.namespace), String(req.params.metric), req.query.labelSelector));
  });

  // Known paths with another method: 405; anything else: 404.
  app.all(['/apis', `/apis/${GROUP}`, `/apis/${GROUP_VERSION}`, `/apis/${GROUP_VERSION}/namespaces/:namespace/:metric`], (req) => {
    throw new MethodNotAllowedError(`method ${req.method} is not supported; this API is read-only (GET)`);
  });
  app.use((req: Request) => {
    throw new PathNotFoundError(`the server could not find the requested resource (${req.method} ${req.path.slice(0, 200)})`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => core.answerError(err, req.path, res, locals(res).user));

  return app;
}

const VALUES_PREFIX = `/apis/${GROUP_VERSION}/namespaces/`;

/**
 * What the adapter server serves: a request URI over MAX_URI_LENGTH gets 414 first; then GET
 * …/namespaces/{namespace}/{metric} (what the HPA polls) on the fast path, through the same authentication, checks,
 * provider and error mapping as the express route; everything else through express. URL shapes the fast path does not
 * parse (extra segments, bad percent-encoding, HEAD) fall through to express.
 */
export function createAdapterListener(o: AdapterAppOptions): RequestListener {
  const core = adapterCore(o);
  const app = createAdapterApp(o, core);
  const serve = o.fastPath === false ? app : withFastPath([{ method: 'GET', path: VALUES_PREFIX, prefix: true, handle: fastValues(core) }], app);
  return (req, res) => {
    if (!core.refuseLongUri(req, res)) serve(req, res);
  };
}

const SELECTOR_PARAM = 'labelSelector=';

/**
 * `labelSelector` of a query string, as node:querystring's parse gives it (a string, an array when repeated, or
 * undefined). The HPA's query is that one parameter, percent-encoded: it is decoded directly; any other query (more
 * parameters, '+' for spaces, bad percent-encoding) goes through querystring.
 */
export function labelSelectorOf(query: string): string | string[] | undefined {
  if (query.startsWith(SELECTOR_PARAM) && !query.includes('&') && !query.includes('+')) {
    try {
      return decodeURIComponent(query.slice(SELECTOR_PARAM.length));
    } catch {
      // querystring decodes what it can of bad percent-encoding
    }
  }
  return parseQuery(query).labelSelector;
}

/** The fast path's value route: the express route's work, without express. */
function fastValues(core: ReturnType<typeof adapterCore>) {
  const values = (req: IncomingMessage, res: ServerResponse, path: string, query: string): boolean => {
    const rest = path.slice(VALUES_PREFIX.length);
    const slash = rest.indexOf('/');
    if (slash <= 0 || slash === rest.length - 1 || rest.includes('/', slash + 1)) return false;
    let namespace: string;
    let metric: string;
    try {
      namespace = decodeURIComponent(rest.slice(0, slash));
      metric = decodeURIComponent(rest.slice(slash + 1));
    } catch {
      return false;
    }
    let user: UserInfo | undefined;
    core.observe(res, () => 'values');
    const serve = async () => {
      user = core.authenticate(req, path);
      const selector = query === '' ? undefined : labelSelectorOf(query);
      sendBody(res, 200, JSON_TYPE, await core.values(req.headers.accept, user, namespace, metric, selector));
    };
    serve().catch((err: unknown) => core.answerError(err, path, res, user));
    return true;
  };
  return values;
}
