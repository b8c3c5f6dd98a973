import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';

// RFC 6962 §3.1 / §4.6: get-entries extra_data is, for an x509_entry, the certificate_chain
// vector of X509ChainEntry (the leaf itself is in leaf_input); for a precert_entry, the whole
// PrecertChainEntry. ASN.1Cert is opaque<1..2^24-1>, chains are ASN.1Cert<0..2^24-1>.

function writeChain(w: TlsWriter, chain: Uint8Array[], field: string): void {
  w.vector(3, field, (v) => {
    chain.forEach((c, i) => v.opaque(3, c, `${field}[${i}]`, 1));
  });
}

function readChain(r: TlsReader, field: string): Uint8Array[] {
  const body = r.opaque(3, field);
  const cr = new TlsReader(body, field);
  const out: Uint8Array[] = [];
  while (cr.remaining > 0) out.push(cr.opaque(3, `${field}[${out.length}]`, 1));
  return out;
}

function chainSize(chain: Uint8Array[]): number {
  return chain.reduce((n, c) => n + 3 + c.byteLength, 3);
}

/** extra_data of an x509_entry: `ASN.1Cert certificate_chain<0..2^24-1>` (issuers, leaf excluded). */
export function encodeX509ChainEntry(chain: Uint8Array[]): Uint8Array {
  const w = new TlsWriter(chainSize(chain));
  writeChain(w, chain, 'X509ChainEntry.certificate_chain');
  return w.finish();
}

/** Strict inverse of encodeX509ChainEntry. Certificates alias `b`. */
export function decodeX509ChainEntry(b: Uint8Array): Uint8Array[] {
  const r = new TlsReader(b, 'X509ChainEntry');
  const chain = readChain(r, 'X509ChainEntry.certificate_chain');
  r.end();
  return chain;
}

/** extra_data of a precert_entry: `ASN.1Cert pre_certificate; ASN.1Cert precertificate_chain<0..2^24-1>`. */
export function encodePrecertChainEntry(preCertificate: Uint8Array, chain: Uint8Array[]): Uint8Array {
  const w = new TlsWriter(3 + preCertificate.byteLength + chainSize(chain));
  w.opaque(3, preCertificate, 'PrecertChainEntry.pre_certificate', 1);
  writeChain(w, chain, 'PrecertChainEntry.precertificate_chain');
  return w.finish();
}

/** Strict inverse of encodePrecertChainEntry. Certificates alias `b`. */
export function decodePrecertChainEntry(b: Uint8Array): { preCertificate: Uint8Array; chain: Uint8Array[] } {
  const r = new TlsReader(b, 'PrecertChainEntry');
  const preCertificate = r.opaque(3, 'PrecertChainEntry.pre_certificate', 1);
  const chain = readChain(r, 'PrecertChainEntry.precertificate_chain');
  r.end();
  return { preCertificate, chain };
}
