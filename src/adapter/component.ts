// Builds the external metrics adapter for `governor serve`: sources, cache, decisions, provider, authn/authz, HTTPS server.
import { readFile } from 'node:fs/promises';
import type { ComponentFactory, GovernorContext, ServerComponent } from '../server/component.js';
import { createSecureServer, httpsComponent, listen, serverLimits } from '../server/https.js';
import { readTlsMaterial } from '../tls/serving.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { AllowAllAuthorizer, SubjectAccessReviewAuthorizer, type Authorizer } from '../kube/authorization.js';
import { readExtensionAuthConfig } from '../kube/extension-auth.js';
import { displayUrl } from '../sources/source.js';
import { createAdapterListener } from './app.js';
import { RequestAuthenticator, type AuthnConfig } from './authn.js';
import type { ReplicaValues } from './values.js';

/**
 * Resolves the authentication settings: flags first, then the cluster's extension-apiserver-authentication ConfigMap.
 * `fromCluster` is false when the ConfigMap was not consulted or could not be read (the error is in `error`).
 */
async function authnConfig(ctx: GovernorContext, kc: KubeConfig | undefined): Promise<{ config: AuthnConfig; fromCluster: boolean; error?: string }> {
  const o = ctx.options;
  const c: AuthnConfig = {
    ...(o.requestheaderClientCaFile ? { requestheaderClientCa: await readFile(o.requestheaderClientCaFile, 'utf8') } : {}),
    ...(o.clientCaFile ? { clientCa: await readFile(o.clientCaFile, 'utf8') } : {}),
    requestheaderAllowedNames: o.requestheaderAllowedNames,
    requestheaderUsernameHeaders: o.requestheaderUsernameHeaders,
    requestheaderGroupHeaders: o.requestheaderGroupHeaders,
    requestheaderExtraHeadersPrefix: o.requestheaderExtraHeadersPrefix,
  };
  if (!kc || o.requestheaderClientCaFile) return { config: c, fromCluster: false };
  try {
    const cm = await readExtensionAuthConfig(kc);
    return {
      fromCluster: true,
      config: {
        ...(cm.requestheaderClientCa ? { requestheaderClientCa: cm.requestheaderClientCa } : {}),
        ...(c.clientCa ? { clientCa: c.clientCa } : cm.clientCa ? { clientCa: cm.clientCa } : {}),
        requestheaderAllowedNames: o.requestheaderAllowedNames.length ? o.requestheaderAllowedNames : cm.requestheaderAllowedNames,
        requestheaderUsernameHeaders: cm.requestheaderUsernameHeaders,
        requestheaderGroupHeaders: cm.requestheaderGroupHeaders,
        requestheaderExtraHeadersPrefix: cm.requestheaderExtraHeadersPrefix,
      },
    };
  } catch (e) {
    return { config: c, fromCluster: false, error: (e as Error).message };
  }
}

export interface AdapterDeps {
  /** The replica values it publishes (shared with KEDA's external scaler). */
  readonly values: ReplicaValues;
  /** false: every route through express (benches and parity tests only). */
  readonly fastPath?: boolean;
}

/** The adapter component (wired in src/components.ts). */
export function createAdapterComponent(deps: AdapterDeps): ComponentFactory {
  return (ctx, certFiles) => startAdapter(ctx, certFiles, deps);
}

async function startAdapter(ctx: GovernorContext, certFiles: { certFile: string; keyFile: string }, deps: AdapterDeps): Promise<ServerComponent> {
  const o = ctx.options;
  const log = ctx.log.child({ component: 'adapter' });
  const kc = ctx.kubeConfig;
  if (!kc) log.info('no kubeconfig and not in a cluster: no SubjectAccessReview, no scale reads (overload steps from the last decision)');

  let authenticator: RequestAuthenticator | undefined;
  let authSettings = '';
  let authorizer: Authorizer | undefined;
  if (o.insecureDev) {
    log.warn(
      '!!! --insecure-dev: the external metrics API is served WITHOUT authentication or authorization. Local development only; never in a cluster. !!!',
    );
  } else {
    const first = await authnConfig(ctx, kc);
    if (first.error) log.error({ err: first.error }, 'cannot read the request-header CA from the cluster; retrying every refresh interval');
    else if (first.fromCluster) log.info({ allowedNames: first.config.requestheaderAllowedNames, clientCa: Boolean(first.config.clientCa) }, 'authentication settings read from kube-system/extension-apiserver-authentication');
    authenticator = new RequestAuthenticator(first.config);
    authSettings = JSON.stringify(first.config);
    if (!authenticator.configured) {
      log.error(
        'no request-header CA and no client CA: every metrics API request will get 401. Pass --requestheader-client-ca-file, --kubeconfig (in a cluster: automatic), or --insecure-dev for local runs',
      );
    }
    if (kc) authorizer = SubjectAccessReviewAuthorizer.fromKubeConfig(kc);
    else {
      authorizer = new AllowAllAuthorizer();
      log.warn('no Kubernetes API: authenticated requests are not authorized further (no SubjectAccessReview)');
    }
  }

  const app = createAdapterListener({
    fastPath: deps.fastPath !== false,
    provider: deps.values.provider(),
    ...(authenticator ? { authenticate: (req) => authenticator!.authenticate(req) } : {}),
    ...(authorizer ? { authorizer } : {}),
    metrics: ctx.metrics,
    log,
    readyz: (verbose) => ctx.readiness.answer(verbose),
  });

  const tls = await readTlsMaterial(certFiles);
  const server = createSecureServer(app, { tls, ...serverLimits(o), ...(authenticator ? { requestCert: true } : {}), ...(authenticator?.trustBundle ? { clientCA: authenticator.trustBundle } : {}) });
  // The cluster rotates its front-proxy and client CAs in the ConfigMap (and a first read can fail while RBAC or the
  // API server comes up): re-read it, as the Kubernetes apiserver library's ConfigMap CA controller does, and swap the
  // authenticator and the TLS trust for new connections when it changed. A failed read keeps what is in force.
  let refresh: NodeJS.Timeout | undefined;
  let refreshFailing = false;
  if (authenticator && kc && !o.requestheaderClientCaFile) {
    refresh = setInterval(() => {
      void authnConfig(ctx, kc).then(({ config, fromCluster, error }) => {
        if (!fromCluster) {
          // Once when reads start failing, not every interval.
          if (!refreshFailing) log.warn({ err: error }, 'cannot re-read kube-system/extension-apiserver-authentication; keeping the authentication settings in force');
          refreshFailing = true;
          return;
        }
        refreshFailing = false;
        const key = JSON.stringify(config);
        if (key === authSettings) return;
        let next: RequestAuthenticator;
        try {
          next = new RequestAuthenticator(config);
        } catch (e) {
          log.error({ err: (e as Error).message }, 'the new authentication settings are invalid; keeping the ones in force');
          return;
        }
        authenticator = next;
        authSettings = key;
        server.setClientCA(next.trustBundle);
        log.info({ allowedNames: config.requestheaderAllowedNames, clientCa: Boolean(config.clientCa) }, 'authentication settings changed in kube-system/extension-apiserver-authentication; applied to new requests');
      });
    }, o.authRefreshMs ?? 60_000);
    refresh.unref();
  }
  // Requests Node rejects before express sees them (a 1 MB query string overflows the 64 KiB header limit) are
  // answered with a Status by createSecureServer.
  const port = await listen(server.server, o.securePort, o.bindAddress);
  log.info({ port, policies: ctx.store.current().scaling.length, prometheusUrl: displayUrl(o.prometheusUrl), prometheusCredentials: o.prometheusAuth?.bearerTokenFile ? 'bearer-token-file' : o.prometheusAuth?.basicAuth ? 'basic-auth-files' : 'none', auth: o.insecureDev ? 'none' : authenticator?.configured ? 'client-certificates' : 'unconfigured' }, 'external metrics API serving');
  return httpsComponent('adapter', server, port, async () => clearInterval(refresh));
}
