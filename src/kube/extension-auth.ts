// Reads kube-system/extension-apiserver-authentication: the CAs and header names an extension API server must trust.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

/** Which front-proxy client names and headers to trust: the same settings as flags and in the ConfigMap. */
export interface RequestHeaderSettings {
  readonly requestheaderAllowedNames: readonly string[];
  readonly requestheaderUsernameHeaders: readonly string[];
  readonly requestheaderGroupHeaders: readonly string[];
  readonly requestheaderExtraHeadersPrefix: readonly string[];
}

/** kube-apiserver's defaults for the header names (an empty allowed-names list admits any front-proxy CN). */
export const REQUESTHEADER_DEFAULTS: RequestHeaderSettings = {
  requestheaderAllowedNames: [],
  requestheaderUsernameHeaders: ['X-Remote-User'],
  requestheaderGroupHeaders: ['X-Remote-Group'],
  requestheaderExtraHeadersPrefix: ['X-Remote-Extra-'],
};

export interface ExtensionAuthConfig extends RequestHeaderSettings {
  /** PEM bundle of the front-proxy (request-header) CA; undefined when the cluster has none. */
  readonly requestheaderClientCa?: string;
  /** PEM bundle of the ordinary client CA. */
  readonly clientCa?: string;
}

export class ExtensionAuthConfigError extends Error {
  override name = 'ExtensionAuthConfigError';
}

/** List values in the ConfigMap are JSON arrays inside strings. */
function list(data: Record<string, string>, key: string, fallback: readonly string[]): readonly string[] {
  const raw = data[key];
  if (raw === undefined || raw === '') return fallback;
  try {
    const v = JSON.parse(raw);
    if (Array.isArray(v) && v.every((s) => typeof s === 'string')) return v;
  } catch {
    // fall through
  }
  throw new ExtensionAuthConfigError(`kube-system/extension-apiserver-authentication: ${key} is not a JSON array of strings: ${raw.slice(0, 100)}`);
}

/** Parses the ConfigMap's data (exported for tests). */
export function parseExtensionAuthConfig(data: Record<string, string>): ExtensionAuthConfig {
  const rhCa = data['requestheader-client-ca-file'];
  const clientCa = data['client-ca-file'];
  return {
    ...(rhCa ? { requestheaderClientCa: rhCa } : {}),
    ...(clientCa ? { clientCa } : {}),
    requestheaderAllowedNames: list(data, 'requestheader-allowed-names', REQUESTHEADER_DEFAULTS.requestheaderAllowedNames),
    requestheaderUsernameHeaders: list(data, 'requestheader-username-headers', REQUESTHEADER_DEFAULTS.requestheaderUsernameHeaders),
    requestheaderGroupHeaders: list(data, 'requestheader-group-headers', REQUESTHEADER_DEFAULTS.requestheaderGroupHeaders),
    requestheaderExtraHeadersPrefix: list(data, 'requestheader-extra-headers-prefix', REQUESTHEADER_DEFAULTS.requestheaderExtraHeadersPrefix),
  };
}

export async function readExtensionAuthConfig(kc: KubeConfig): Promise<ExtensionAuthConfig> {
  const core = kc.makeApiClient(CoreV1Api);
  try {
    const cm = await core.readNamespacedConfigMap({ name: 'extension-apiserver-authentication', namespace: 'kube-system' });
    return parseExtensionAuthConfig(cm.data ?? {});
  } catch (e) {
    if (e instanceof ExtensionAuthConfigError) throw e;
    const code = (e as { code?: number }).code;
    throw new ExtensionAuthConfigError(
      `cannot read kube-system/extension-apiserver-authentication${code ? ` (HTTP ${code})` : ''}: ${(e as Error).message?.split('\n')[0]}` +
        ' (the ServiceAccount needs the extension-apiserver-authentication-reader Role in kube-system)',
      { cause: e },
    );
  }
}
