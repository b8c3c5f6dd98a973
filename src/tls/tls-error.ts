/**
 * A malformed or unencodable TLS structure. The message names the field with its path
 * ("TimestampedEntry.extensions: length 70000 exceeds 65535") so a 4xx answer or a log line
 * says exactly what was wrong; `field` carries the same path for programs.
 */
export class TlsError extends Error {
  override name = 'TlsError';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}
