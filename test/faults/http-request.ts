// One HTTP exchange for the fault battery's clients, over a keep-alive agent (node:http: a
// CA-like client at hundreds of requests per second costs less than fetch here).
import { request, type Agent } from 'node:http';

export interface Answer {
  status: number;
  text: string;
  retryAfter: string | undefined;
}

/** One HTTP request over a keep-alive agent; rejects with the error code on a transport error or timeout. */
export function httpRequest(agent: Agent, url: string, method: 'GET' | 'POST', body: string | undefined, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string | number> = body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const ra = res.headers['retry-after'];
        resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), retryAfter: Array.isArray(ra) ? ra[0] : ra });
      });
      res.on('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code ?? 'response error')));
    });
    // The whole exchange, agent queueing included: what a client's own deadline measures.
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code ?? err.message));
    });
    req.end(body);
  });
}

