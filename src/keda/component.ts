// KEDA's external scaler as a component of `governor serve` (--keda-scaler-port): the same replica values as the
// external metrics API, so a cluster that runs KEDA keeps its APIService and scales on governor policies through it.
import { readFile } from 'node:fs/promises';
import type { ComponentFactory, ServerComponent } from '../server/component.js';
import type { ReplicaValues } from '../adapter/values.js';
import { readTlsMaterial, PemFileReloader } from '../tls/serving.js';
import { parseCaBundle } from '../tls/certs.js';
import { ExternalScaler } from './scaler.js';
import { startKedaScalerServer } from './server.js';

/** The scaler component (wired, and its grpc-js loaded only when asked for, in src/components.ts). */
export const createKedaScalerComponent = (deps: { readonly values: ReplicaValues }): ComponentFactory => async (ctx, certFiles): Promise<ServerComponent> => {
  const o = ctx.options;
  const log = ctx.log.child({ component: 'keda-scaler' });
  const clientCaFile = o.kedaScalerClientCaFile;
  const tlsOn = Boolean(o.kedaScalerTls || clientCaFile);
  let caReloader: PemFileReloader | undefined;
  try {
    const tls = tlsOn
      ? { ...(await readTlsMaterial(certFiles)), ...(clientCaFile ? { clientCa: parseCaBundle(await readFile(clientCaFile, 'utf8'), clientCaFile) } : {}) }
      : undefined;
    const server = await startKedaScalerServer(
      { scaler: new ExternalScaler(deps.values.provider()), log, metrics: ctx.metrics, ...(tls ? { tls } : {}) },
      o.kedaScalerPort ?? 0,
      o.bindAddress,
    );
    if (clientCaFile) {
      caReloader = new PemFileReloader(clientCaFile, (pem) => server.setClientCa(parseCaBundle(pem, clientCaFile)), log);
      await caReloader.start();
    }
    log.info(
      { port: server.port, tls: tlsOn ? (clientCaFile ? 'client-certificates' : 'server-only') : 'off' },
      tlsOn ? 'KEDA external scaler serving' : 'KEDA external scaler serving without TLS: keep its port to the KEDA namespace (NetworkPolicy)',
    );
    return {
      name: 'keda',
      port: server.port,
      listening: () => server.listening(),
      setTls: (m) => server.setTls(m),
      close: (graceMs) => server.close(graceMs),
      async stop() {
        caReloader?.stop();
      },
    };
  } catch (e) {
    caReloader?.stop();
    throw e;
  }
};
