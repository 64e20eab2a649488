// What every client-node caller here needs of a failed call: its HTTP status, and reads where 404 means "absent".

/** The HTTP status of a failed client-node call (ApiException.code; statusCode on older errors), when it has one. */
export function apiStatus(e: unknown): number | undefined {
  const x = e as { code?: unknown; statusCode?: unknown } | null | undefined;
  const code = x?.code ?? x?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** The result of a read, or undefined when the API server answers 404; any other failure is thrown as it is. */
export async function readOrAbsent<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e) {
    if (apiStatus(e) === 404) return undefined;
    throw e;
  }
}
