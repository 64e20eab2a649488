// Test helpers for sources: a loopback server speaking the Prometheus query API and plain JSON, with scripted answers.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ScriptedServer {
  readonly url: string;
  /** Requests received per path + query text. */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

export type PromAnswer = { status?: number; body: unknown; delayMs?: number; raw?: string };

const vector = (...values: string[]) => ({
  status: 'success',
  data: { resultType: 'vector', result: values.map((v, i) => ({ metric: { i: String(i) }, value: [1700000000, v] })) },
});

/** Canned Prometheus answers keyed by the PromQL text. */
export const PROM_ANSWERS: Record<string, PromAnswer> = {
  value: { body: vector('42.5') },
  empty: { body: vector() },
  nan: { body: vector('NaN') },
  inf: { body: vector('+Inf') },
  many: { body: vector('1', '2', '3') },
  scalar: { body: { status: 'success', data: { resultType: 'scalar', result: [1700000000, '7'] } } },
  matrix: { body: { status: 'success', data: { resultType: 'matrix', result: [] } } },
  bad: { status: 400, body: { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unexpected end of input' } },
  'prom-timeout': { status: 503, body: { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' } },
  html: { status: 502, body: undefined, raw: '<html>bad gateway</html>' },
  slow: { body: vector('1'), delayMs: 2000 },
};

/** Canned JSON answers keyed by path. */
export const JSON_ANSWERS: Record<string, PromAnswer> = {
  '/json/value': { body: { data: { rps: 42.5 } } },
  '/json/items': { body: { items: [{ value: '17' }, { value: 3 }] } },
  '/json/missing': { body: { data: {} } },
  '/json/nan': { body: { data: { rps: 'NaN' } } },
  '/json/bool': { body: { data: { rps: true } } },
  '/json/number': { body: 12 },
  '/json/notjson': { raw: 'ok', body: undefined },
  '/json/500': { status: 500, body: { error: 'boom' } },
  '/json/404': { status: 404, body: { error: 'nope' } },
  '/json/slow': { body: { data: { rps: 1 } }, delayMs: 2000 },
};

function answer(res: ServerResponse, a: PromAnswer | undefined, timers: Set<NodeJS.Timeout>) {
  const send = () => {
    if (!a) return res.writeHead(404, { 'content-type': 'application/json' }).end('{"status":"error","error":"unknown"}');
    const body = a.raw ?? JSON.stringify(a.body);
    res.writeHead(a.status ?? 200, { 'content-type': a.raw ? 'text/html' : 'application/json' }).end(body);
  };
  if (a?.delayMs) {
    const t = setTimeout(() => (timers.delete(t), res.destroyed || send()), a.delayMs);
    timers.add(t);
  } else send();
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startScriptedServer(): Promise<ScriptedServer> {
  const hits = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/api/v1/query') {
      const params = req.method === 'POST' ? new URLSearchParams(await bodyOf(req)) : url.searchParams;
      const q = params.get('query') ?? '';
      hits.set(`prom:${q}`, (hits.get(`prom:${q}`) ?? 0) + 1);
      return answer(res, PROM_ANSWERS[q], timers);
    }
    hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
    answer(res, JSON_ANSWERS[url.pathname], timers);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** A loopback port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const addr = s.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
