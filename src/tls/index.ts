// RFC 6962 and static-ct-api wire structures. Pure: bytes in, bytes out.
export { TlsError } from './tls-error.js';
export { TlsReader } from './reader.js';
export { TlsWriter } from './writer.js';
export * from './timestamped-entry.js';
export * from './merkle-tree-leaf.js';
export * from './ct-extensions.js';
export * from './signature-input.js';
export * from './digitally-signed.js';
export * from './sct.js';
export * from './chain-entry.js';
export * from './tile-leaf.js';
export * from './checkpoint.js';
