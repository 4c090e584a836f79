/** Errors of the running system (`unpinned up` and its control verbs). */
export class SystemError extends Error {
  readonly code: string;
  readonly statusCode: number;

  constructor(code: string, message: string, options: { cause?: unknown; statusCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SystemError';
    this.code = code;
    this.statusCode = options.statusCode ?? 500;
  }
}

export function unknownServer(name: string, known: string[]): SystemError {
  return new SystemError(
    'UNPINNED_ERR_UNKNOWN_SERVER',
    `No app server named "${name}". Servers: ${known.join(', ') || 'none'} (see \`unpinned status\`).`,
    { statusCode: 404 },
  );
}

/**
 * `error` from listening on `port` as UNPINNED_ERR_PORT_IN_USE when the port is taken (another
 * `unpinned up`, most often); any other error unchanged.
 */
export function portInUse(error: unknown, port: number, what: string, flag: string): unknown {
  if ((error as { code?: string }).code !== 'EADDRINUSE') return error;
  return new SystemError(
    'UNPINNED_ERR_PORT_IN_USE',
    `Port ${port} (${what}) is already in use, perhaps by another \`unpinned up\`: stop it, or pass ${flag} <another port> (0 picks a free one).`,
    { cause: error, statusCode: 409 },
  );
}
