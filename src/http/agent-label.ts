// The User-Agent as a bounded metrics label: its product token ("certbot/2.1 (...)" ->
// "certbot"), lowercased, at most 32 characters of [a-z0-9._-]. The first `max` distinct
// tokens keep their own label; later ones are "other", so rotating User-Agents cannot grow
// the metrics. Never a key of any limit (src/http/client-address.ts says why).

export class AgentLabels {
  readonly #known = new Set<string>();
  constructor(readonly max = 50) {}

  of(ua: string | undefined): string {
    const m = /^[A-Za-z0-9._-]{1,32}/.exec(ua ?? '');
    if (!m) return 'none';
    const token = m[0].toLowerCase();
    if (this.#known.has(token)) return token;
    if (this.#known.size >= this.max) return 'other';
    this.#known.add(token);
    return token;
  }
}
