// Renders a DER Name for error messages ("issuer CN=Example CA, O=Example"). Off the hot
// path: only rejections call it, so it favours readability and never throws.
import { DerError, TAG_OID, TAG_SEQUENCE, decodeOid, expectTlv, readTlv, valueOf } from './der.js';

const SHORT = new Map<string, string>([
  ['2.5.4.3', 'CN'], ['2.5.4.6', 'C'], ['2.5.4.7', 'L'], ['2.5.4.8', 'ST'], ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'], ['2.5.4.5', 'serialNumber'], ['2.5.4.97', 'organizationIdentifier'],
  ['1.2.840.113549.1.9.1', 'emailAddress'], ['0.9.2342.19200300.100.1.25', 'DC'],
]);

/**
 * RFC 4514-style string of a Name TLV, most specific RDN first ("CN=…, O=…, C=…").
 * Malformed input yields a placeholder instead of an exception.
 */
export function formatName(name: Uint8Array): string {
  try {
    const seq = expectTlv(name, 0, name.length, TAG_SEQUENCE, 'Name');
    const rdns: string[] = [];
    for (let pos = seq.valueStart; pos < seq.end; ) {
      const set = readTlv(name, pos, seq.end);
      const parts: string[] = [];
      for (let p = set.valueStart; p < set.end; ) {
        const atv = expectTlv(name, p, set.end, TAG_SEQUENCE, 'AttributeTypeAndValue');
        const oidT = expectTlv(name, atv.valueStart, atv.end, TAG_OID, 'type');
        const v = readTlv(name, oidT.end, atv.end);
        const oid = decodeOid(valueOf(name, oidT));
        parts.push(`${SHORT.get(oid) ?? oid}=${valueString(v.tag, valueOf(name, v))}`);
        p = atv.end;
      }
      rdns.push(parts.join('+'));
      pos = set.end;
    }
    return rdns.length ? rdns.reverse().join(', ') : '(empty name)';
  } catch (e) {
    if (e instanceof DerError) return '(malformed name)';
    throw e;
  }
}

function valueString(tag: number, v: Uint8Array): string {
  const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  switch (tag) {
    case 0x0c /* UTF8String */: return b.toString('utf8');
    case 0x13 /* PrintableString */: case 0x16 /* IA5String */: case 0x14 /* T61String */: return b.toString('latin1');
    case 0x1e /* BMPString */: return b.length % 2 === 0 ? Buffer.from(b).swap16().toString('utf16le') : `#${b.toString('hex')}`;
    default: return `#${b.toString('hex')}`;
  }
}
