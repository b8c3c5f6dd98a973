import { TlsReader } from './reader.js';
import { TlsWriter } from './writer.js';
import { TlsError } from './tls-error.js';
import { readTimestampedEntry, timestampedEntrySize, writeTimestampedEntry, type TimestampedEntry } from './timestamped-entry.js';

/**
 * One entry of a static-ct-api data tile:
 *   struct { TimestampedEntry timestamped_entry;
 *            select (entry_type) { case x509_entry: Empty; case precert_entry: ASN.1Cert pre_certificate; };
 *            Fingerprint certificate_chain<0..2^16-1>; } TileLeaf;   opaque Fingerprint[32];
 */
export interface TileLeaf {
  entry: TimestampedEntry;
  /** The submitted precertificate DER; present exactly for precert entries. */
  preCertificate?: Uint8Array;
  /** SHA-256 of each issuer in the submitted chain, in order. */
  chainFingerprints: Uint8Array[];
}

/** A decoded TileLeaf with where it sits in the tile, for hashing without re-encoding. */
export interface TileLeafAt {
  leaf: TileLeaf;
  /** Offset of the TimestampedEntry (= of the TileLeaf) in the tile. */
  start: number;
  /** End of the TimestampedEntry: tile[start, entryEnd) is what the leaf hash covers (after 0x00 0x00 0x00). */
  entryEnd: number;
  /** End of the TileLeaf. */
  end: number;
}

export function writeTileLeaf(w: TlsWriter, l: TileLeaf): void {
  writeTimestampedEntry(w, l.entry);
  if (l.entry.entry.type === 'precert') {
    if (l.preCertificate === undefined) throw new TlsError('TileLeaf.pre_certificate', 'missing for a precert entry');
    w.opaque(3, l.preCertificate, 'TileLeaf.pre_certificate', 1);
  } else if (l.preCertificate !== undefined) {
    throw new TlsError('TileLeaf.pre_certificate', 'present for an x509 entry');
  }
  w.vector(2, 'TileLeaf.certificate_chain', (v) => {
    l.chainFingerprints.forEach((f, i) => v.fixed(f, 32, `TileLeaf.certificate_chain[${i}]`));
  });
}

export function encodeTileLeaf(l: TileLeaf): Uint8Array {
  const size = timestampedEntrySize(l.entry) + 3 + (l.preCertificate?.byteLength ?? 0) + 2 + 32 * l.chainFingerprints.length;
  const w = new TlsWriter(size);
  writeTileLeaf(w, l);
  return w.finish();
}

/** Reads one TileLeaf at the reader's position. Fields alias the input. */
export function readTileLeaf(r: TlsReader): TileLeafAt {
  const start = r.offset;
  const entry = readTimestampedEntry(r);
  const entryEnd = r.offset;
  const preCertificate = entry.entry.type === 'precert' ? r.opaque(3, 'TileLeaf.pre_certificate', 1) : undefined;
  const chain = r.opaque(2, 'TileLeaf.certificate_chain');
  if (chain.byteLength % 32 !== 0) throw new TlsError('TileLeaf.certificate_chain', `length ${chain.byteLength} is not a multiple of 32`);
  const chainFingerprints: Uint8Array[] = [];
  for (let i = 0; i < chain.byteLength; i += 32) chainFingerprints.push(chain.subarray(i, i + 32));
  const leaf: TileLeaf = preCertificate === undefined ? { entry, chainFingerprints } : { entry, preCertificate, chainFingerprints };
  return { leaf, start, entryEnd, end: r.offset };
}

/** Decodes a whole data tile (full or partial) with the byte positions of each leaf. */
export function decodeDataTileAt(tile: Uint8Array): TileLeafAt[] {
  const r = new TlsReader(tile, 'data tile');
  const out: TileLeafAt[] = [];
  while (r.remaining > 0) {
    if (out.length === 256) throw new TlsError('data tile', `more than 256 entries (${r.remaining} bytes left)`);
    out.push(readTileLeaf(r));
  }
  return out;
}

/** Decodes a whole data tile: concatenated TileLeafs, at most 256. Fields alias `tile`. */
export function decodeDataTile(tile: Uint8Array): TileLeaf[] {
  return decodeDataTileAt(tile).map((x) => x.leaf);
}
