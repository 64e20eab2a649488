// hostPath volume paths as a node resolves them, for `when.hostPaths` conditions.

/**
 * The path as the node resolves it, lexically: repeated slashes collapsed, `.` dropped, `..` applied, no trailing
 * slash, so `/var/run//docker.sock` and `/var/run/../run/docker.sock/` are `/var/run/docker.sock` (symlinks on the
 * node cannot be known here). Relative paths stay relative.
 */
export function normalizeHostPath(path: string): string {
  const abs = path.startsWith('/');
  const out: string[] = [];
  for (const seg of path.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length && out[out.length - 1] !== '..') out.pop();
      else if (!abs) out.push('..');
    } else out.push(seg);
  }
  const joined = out.join('/');
  return abs ? `/${joined}` : joined || '.';
}
