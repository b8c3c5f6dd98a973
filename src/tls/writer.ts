import { TlsError } from './tls-error.js';

const TWO_32 = 0x1_0000_0000;
const MAX_LENGTH = { 1: 0xff, 2: 0xffff, 3: 0xff_ffff } as const;

/**
 * Growable buffer for TLS presentation-language encoding (RFC 5246 §4). Length-prefix limits
 * are checked here so encoders never emit a truncated length; errors name the field.
 */
export class TlsWriter {
  private buf: Buffer;
  private pos = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  private reserve(n: number): void {
    if (this.pos + n <= this.buf.byteLength) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.byteLength * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  private uint(v: number, bytes: number, max: number, field: string): this {
    if (!Number.isSafeInteger(v) || v < 0 || v > max) throw new TlsError(field, `${v} is not a uint${bytes * 8}`);
    this.reserve(bytes);
    if (bytes <= 6) this.buf.writeUIntBE(v, this.pos, bytes);
    else {
      this.buf.writeUInt32BE(Math.floor(v / TWO_32), this.pos);
      this.buf.writeUInt32BE(v % TWO_32, this.pos + 4);
    }
    this.pos += bytes;
    return this;
  }

  u8(v: number, field: string): this {
    return this.uint(v, 1, 0xff, field);
  }

  u16(v: number, field: string): this {
    return this.uint(v, 2, 0xffff, field);
  }

  u24(v: number, field: string): this {
    return this.uint(v, 3, 0xff_ffff, field);
  }

  u40(v: number, field: string): this {
    return this.uint(v, 5, 0xff_ffff_ffff, field);
  }

  /** uint64 from a safe integer (timestamps in ms, tree sizes). */
  u64(v: number, field: string): this {
    return this.uint(v, 8, Number.MAX_SAFE_INTEGER, field);
  }

  /** Fixed-size opaque[n]; the size is checked so a wrong-length hash cannot slip through. */
  fixed(b: Uint8Array, n: number, field: string): this {
    if (b.byteLength !== n) throw new TlsError(field, `length ${b.byteLength}, want ${n}`);
    return this.raw(b);
  }

  /** opaque<min..max> with a `prefixBytes`-byte length, max = 2^(8*prefixBytes)-1. */
  opaque(prefixBytes: 1 | 2 | 3, b: Uint8Array, field: string, min = 0): this {
    const max = MAX_LENGTH[prefixBytes];
    if (b.byteLength > max) throw new TlsError(field, `length ${b.byteLength} exceeds ${max}`);
    if (b.byteLength < min) throw new TlsError(field, `length ${b.byteLength} is below the minimum ${min}`);
    this.uint(b.byteLength, prefixBytes, max, field);
    return this.raw(b);
  }

  /**
   * A vector whose body is written by `body`: the length prefix is back-patched, so nested
   * vectors (certificate chains) are encoded in one pass.
   */
  vector(prefixBytes: 1 | 2 | 3, field: string, body: (w: this) => void): this {
    const max = MAX_LENGTH[prefixBytes];
    this.reserve(prefixBytes);
    const at = this.pos;
    this.pos += prefixBytes;
    body(this);
    const n = this.pos - at - prefixBytes;
    if (n > max) throw new TlsError(field, `length ${n} exceeds ${max}`);
    this.buf.writeUIntBE(n, at, prefixBytes);
    return this;
  }

  raw(b: Uint8Array): this {
    this.reserve(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
    return this;
  }

  /** The encoded bytes (a view of the internal buffer; the writer must not be reused). */
  finish(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.pos);
  }
}
