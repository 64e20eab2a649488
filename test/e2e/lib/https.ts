// Direct HTTPS requests to the adapter's host port, bypassing kube-apiserver: what an attacker inside the network
// could send. The serving certificate is verified for the Service name, as the aggregator verifies it.
import { request } from 'node:https';

export interface DirectResult {
  /** HTTP status, or 0 when the TLS handshake or the connection failed. */
  readonly status: number;
  readonly body: string;
  readonly error?: string;
}

export function directGet(
  port: number,
  path: string,
  o: { ca: string; servername: string; cert?: string; key?: string; headers?: Record<string, string | string[]>; host?: string },
): Promise<DirectResult> {
  return new Promise((resolve) => {
    const req = request(
      {
        // A pod IP on the local node cluster (reachable from the host only); loopback otherwise.
        host: o.host ?? '127.0.0.1',
        port,
        path,
        method: 'GET',
        ca: o.ca,
        servername: o.servername,
        ...(o.cert ? { cert: o.cert, key: o.key } : {}),
        headers: { accept: 'application/json', ...o.headers },
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, body: '', error: e.message }));
    req.end();
  });
}
