// The plain-HTTP port for Prometheus and the kubelet: /metrics, /readyz (the pod's readiness), /healthz and /livez.
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { wantsVerbose, type Readiness } from '../observability/readiness.js';
import { listen, MAX_CONNECTIONS, serverLimits, timeoutOptions, type ServerLimitOptions } from './https.js';

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  registry: Registry,
  readiness: Readiness,
  o: ServerLimitOptions & { readonly port: number; readonly bindAddress: string },
): Promise<MetricsServer> {
  // The same connection limits as the HTTPS servers: a scraper or a probe never needs more.
  const server: Server = createServer(timeoutOptions(serverLimits(o)), async (req, res) => {
    const path = req.url?.split('?', 1)[0];
    if (path === '/metrics') {
      res.setHeader('Content-Type', registry.contentType);
      res.end(await registry.metrics());
    } else if (path === '/readyz') {
      // The pod's readiness: every server listening, the namespace cache synced, policies read and valid.
      const a = readiness.answer(wantsVerbose(req.url));
      res.writeHead(a.status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
      res.end(a.body);
    } else if (path === '/healthz' || path === '/livez') {
      // Liveness never depends on policies: a bad policy must not get pods restarted.
      res.end('ok');
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  server.maxConnections = o.maxConnections ?? MAX_CONNECTIONS;
  const port = await listen(server, o.port, o.bindAddress);
  return {
    port,
    async close() {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    },
  };
}
