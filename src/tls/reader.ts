import { TlsError } from './tls-error.js';

const TWO_32 = 0x1_0000_0000;

/**
 * Cursor over TLS presentation-language bytes (RFC 5246 §4). Every length and bounds check of
 * the decoders lives here, so each failure names its field. Byte results are subarrays of the
 * input (no copy): callers that keep them beyond the input's lifetime must copy.
 */
export class TlsReader {
  private pos: number;
  private readonly view: DataView;

  /** `what` names the top-level structure, used in the trailing-bytes error. */
  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
    offset = 0,
  ) {
    this.pos = offset;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.byteLength - this.pos;
  }

  private need(n: number, field: string): void {
    if (this.remaining < n) throw new TlsError(field, `need ${n} bytes, ${this.remaining} left`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u24(field: string): number {
    this.need(3, field);
    const v = this.view.getUint8(this.pos) * 0x1_0000 + this.view.getUint16(this.pos + 1);
    this.pos += 3;
    return v;
  }

  u40(field: string): number {
    this.need(5, field);
    const v = this.view.getUint8(this.pos) * TWO_32 + this.view.getUint32(this.pos + 1);
    this.pos += 5;
    return v;
  }

  /** uint64 as a number; values above 2^53-1 are rejected rather than rounded. */
  u64(field: string): number {
    this.need(8, field);
    const hi = this.view.getUint32(this.pos);
    const lo = this.view.getUint32(this.pos + 4);
    const v = hi * TWO_32 + lo;
    if (!Number.isSafeInteger(v)) throw new TlsError(field, `value ${(BigInt(hi) << 32n) | BigInt(lo)} exceeds 2^53-1`);
    this.pos += 8;
    return v;
  }

  /** Fixed-size opaque[n]. */
  fixed(n: number, field: string): Uint8Array {
    this.need(n, field);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /**
   * Variable-length opaque<min..max> with a `prefixBytes`-byte length (1, 2 or 3).
   * A length beyond the remaining input is reported as such, not as "short input".
   */
  opaque(prefixBytes: 1 | 2 | 3, field: string, min = 0): Uint8Array {
    const n = prefixBytes === 1 ? this.u8(field) : prefixBytes === 2 ? this.u16(field) : this.u24(field);
    if (n < min) throw new TlsError(field, `length ${n} is below the minimum ${min}`);
    if (n > this.remaining) throw new TlsError(field, `length ${n} exceeds the ${this.remaining} bytes left`);
    return this.fixed(n, field);
  }

  /** Requires the input to be fully consumed. */
  end(): void {
    if (this.remaining !== 0) throw new TlsError(this.what, `${this.remaining} trailing bytes`);
  }
}
