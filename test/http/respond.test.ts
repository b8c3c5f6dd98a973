// How any error becomes an answer: CtErrors keep their status and Retry-After, a database
// that is away is a 503 the client retries (a real connection-refused error from knex), and
// anything else is a 500 that says nothing of our internals.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { sendError } from '../../src/http/respond.js';
import { openDatabase } from '../../src/storage/database.js';
import { CtError, unavailable } from '../../src/util/errors.js';
import { MYSQL_BASE } from '../helpers/services.js';

async function answer(err: unknown): Promise<{ status: number; retryAfter: string | null; body: { error: string } }> {
  const server = createServer((_req, res) => sendError(res, err));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { error: string } };
  } finally {
    server.close();
  }
}

test('errors become answers', async (t) => {
  const knex = openDatabase({ url: 'mysql://root@127.0.0.1:1/nothing_listens_here', dataDir: '/tmp' });
  const refused = await knex.raw('SELECT 1').catch((e: unknown) => e);
  await knex.destroy();
  // A replica that has not applied the schema yet: a real MariaDB error.
  const shared = openDatabase({ url: `${MYSQL_BASE}/mysql`, dataDir: '/tmp' });
  const noTable = await shared.raw('SELECT * FROM no_such_table_here').catch((e: unknown) => e);
  await shared.destroy();
  const rows: Array<{ scenario: string; err: unknown; status: number; retryAfter: string | null; message: RegExp }> = [
    { scenario: 'a 400 CtError', err: new CtError(400, 'bad', 'chain[1] did not sign chain[0]'), status: 400, retryAfter: null, message: /chain\[1\] did not sign/ },
    { scenario: 'a 429 with Retry-After', err: unavailable(429, 'queue_full', 'too many in flight', 1), status: 429, retryAfter: '1', message: /too many/ },
    { scenario: "a sequencer's 503 relayed without Retry-After still carries one", err: new CtError(503, 'commit_failed', "couldn't commit batch; retry"), status: 503, retryAfter: '1', message: /retry/ },
    { scenario: 'the database refuses connections (real knex error)', err: refused, status: 503, retryAfter: '5', message: /database is unavailable/ },
    { scenario: 'a table the database does not have yet (a replica behind on the schema)', err: noTable, status: 503, retryAfter: '5', message: /database is unavailable/ },
    { scenario: 'a bug', err: new TypeError("Cannot read properties of undefined (reading 'idx')"), status: 500, retryAfter: null, message: /^internal error$/ },
  ];
  for (const r of rows) {
    await t.test(r.scenario, async () => {
      const a = await answer(r.err);
      assert.equal(a.status, r.status);
      assert.equal(a.retryAfter, r.retryAfter);
      assert.match(a.body.error, r.message);
    });
  }
});
