// A tiny dispatcher in front of an express app: the few hot routes go straight to framework-agnostic handlers, the rest
// falls through to express untouched: express's per-request machinery costs more than a whole admission review, so
// the routes the API server and the HPA call on every request skip it.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';

export interface FastRoute {
  readonly method: 'GET' | 'POST';
  /** An exact path, or a prefix when `prefix` is set (the handler then parses the rest). */
  readonly path: string;
  readonly prefix?: boolean;
  /**
   * Handles the request, or returns false without touching req/res to let express handle it (e.g. a path shape the
   * fast path does not parse). `path` is the URL path without the query, `query` the text after `?` ('' when none).
   */
  handle(req: IncomingMessage, res: ServerResponse, path: string, query: string): boolean | void;
}

/**
 * The request listener to serve with: fast routes first (exact method and case-sensitive path), then `app`.
 * Anything a fast route does not take (other methods, HEAD, odd casing, trailing slashes) gets express's full routing,
 * so correctness never depends on the fast path covering every form of a URL.
 */
export function withFastPath(routes: readonly FastRoute[], app: RequestListener): RequestListener {
  const exact = new Map<string, FastRoute>();
  const prefixes: FastRoute[] = [];
  for (const r of routes) {
    if (r.prefix) prefixes.push(r);
    else exact.set(`${r.method} ${r.path}`, r);
  }
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const hit = exact.get(`${req.method} ${path}`);
    if (hit && hit.handle(req, res, path, query) !== false) return;
    for (const r of prefixes) {
      if (r.method === req.method && path.startsWith(r.path) && r.handle(req, res, path, query) !== false) return;
    }
    app(req, res);
  };
}
