// The monitor's compact range against the sequencer's appender (itself checked against the
// RFC 6962 reference in test/merkle): the same root at every size, across a JSON round trip.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { CompactRange } from '../../src/cli/monitor/compact-range.js';
import { appendLeaves, emptyEdge, EMPTY_ROOT } from '../../src/merkle/index.js';

const leaf = (i: number) => new Uint8Array(createHash('sha256').update(`leaf ${i}`).digest());

test('CompactRange roots equal the appender roots for sizes 0..600, through toJson/fromJson', () => {
  let range = CompactRange.empty();
  assert.deepEqual(range.root(), EMPTY_ROOT);
  let edge = emptyEdge();
  for (let i = 0; i < 600; i++) {
    range.append(leaf(i));
    const r = appendLeaves(edge, [leaf(i)]);
    edge = r.edge;
    assert.deepEqual(range.root(), r.root, `size ${i + 1}`);
    if (i % 37 === 0) range = CompactRange.fromJson(JSON.parse(JSON.stringify(range.toJson())));
  }
  assert.equal(range.size, 600);
  assert.throws(() => CompactRange.fromJson({ size: 3, nodes: [] }), /needs 2 hashes/);
});
