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
