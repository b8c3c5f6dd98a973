// Who a request comes from, for per-client limits. CT logs key their limits on the network
// a client controls, not on anything it can rewrite per request: an IPv4 address, or an IPv6
// /64 (one subscriber's allocation; keying on the full /128 would give every host 2^64 fresh
// buckets). The User-Agent is free text the client sets, so it is only a metrics label.
//
// Behind proxies the TCP peer is the proxy. X-Forwarded-For is a list each proxy appends the
// address it saw to; only entries appended by a proxy we trust are facts, everything to their
// left was written by the client. So the client is the rightmost address that was not added
// by a trusted proxy, found by walking from the right while the hop is a trusted proxy.
import { BlockList, isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';

/** Most X-Forwarded-For entries looked at (from the right): bounded work whatever is sent. */
const MAX_HOPS = 32;

/** A set of trusted proxy networks, e.g. ["10.0.0.0/8", "fd00::/8", "192.0.2.7"]. */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly size: number;

  /** Throws RangeError naming the entry for anything that is not an address or CIDR. */
  constructor(cidrs: readonly string[]) {
    for (const c of cidrs) {
      const [addr, bits, extra] = c.split('/');
      const family = isIP(addr ?? '');
      const n = bits === undefined ? (family === 4 ? 32 : 128) : Number(bits);
      if (!family || extra !== undefined || !(bits === undefined || /^\d{1,3}$/.test(bits)) || n > (family === 4 ? 32 : 128)) {
        throw new RangeError(`"${c}" is not an IP address or CIDR like 10.0.0.0/8 or fd00::/8`);
      }
      this.#list.addSubnet(addr!, n, family === 4 ? 'ipv4' : 'ipv6');
      // An IPv4 proxy may reach a dual-stack socket as ::ffff:a.b.c.d.
      if (family === 4) this.#list.addSubnet(`::ffff:${addr}`, 96 + n, 'ipv6');
    }
    this.size = cidrs.length;
  }

  has(ip: string): boolean {
    const family = isIP(ip);
    return family !== 0 && this.#list.check(ip, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The client's address: the TCP peer, or, when the peer is a trusted proxy, the rightmost
 * X-Forwarded-For entry not added by a trusted proxy. A malformed entry where the client
 * would be is not trusted: the last trusted hop is used instead (it is at least a fact).
 */
export function clientAddress(req: IncomingMessage, trusted: TrustedProxies | undefined): string {
  const peer = normalize(req.socket.remoteAddress ?? '');
  if (!trusted || trusted.size === 0 || !trusted.has(peer)) return peer;
  const raw = req.headers['x-forwarded-for'];
  if (raw === undefined) return peer;
  // Several X-Forwarded-For headers are one list in order (RFC 9110 §5.3).
  const hops = (Array.isArray(raw) ? raw.join(',') : raw).split(',');
  let client = peer;
  for (let i = hops.length - 1, seen = 0; i >= 0 && seen < MAX_HOPS; i--, seen++) {
    const hop = normalize(hops[i]!.trim());
    if (!isIP(hop)) return client;
    client = hop;
    if (!trusted.has(hop)) return hop;
  }
  return client;
}

/** The key a per-client limit is kept under: an IPv4 address, or the /64 of an IPv6 address. */
export function clientKey(ip: string): string {
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return ip.slice(0, 64);
  return `${ipv6Groups(ip).slice(0, 4).join(':')}::/64`;
}

/** "::ffff:1.2.3.4" -> "1.2.3.4"; IPv6 zone ids dropped; anything else as given. */
function normalize(ip: string): string {
  if (ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4) return ip.slice(7);
  const pct = ip.indexOf('%');
  return pct > 0 ? ip.slice(0, pct) : ip;
}

/** The eight 16-bit groups of a valid IPv6 address, lowercase hex without leading zeros. */
function ipv6Groups(ip: string): string[] {
  let s = ip.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4, 64:ff9b::1.2.3.4) is two groups.
  const dot = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (dot) {
    const [a, b, c, d] = dot.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, dot.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => parseInt(g, 16).toString(16));
}
