// Which hosts load sources may contact: policies are written by many teams (and may come from the cluster), so the
// adapter can be limited to known hosts, checked before any DNS lookup or connection (no SSRF through a policy URL).

/** Patterns: `*` (any), an exact host or IP (`127.0.0.1`, `prometheus.monitoring.svc`), or `*.suffix` (`*.svc`). */
export function hostAllowed(host: string, patterns: readonly string[] | undefined): boolean {
  if (!patterns || patterns.length === 0) return true;
  const h = host.toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
  return patterns.some((raw) => {
    const p = raw.trim().toLowerCase();
    if (p === '*') return true;
    if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
    return h === p.replace(/^\[|\]$/g, '');
  });
}

/** The host a URL would contact, or undefined for an unparsable URL. */
export function urlHost(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}
