import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineWriter } from './log-writer.js';

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'kg-linewriter-'));
  return { file: join(dir, 'log'), done: () => rmSync(dir, { recursive: true, force: true }) };
}

test('lines go out in order, in batches; flush calls back once every line written so far is in the file', async () => {
  const { file, done } = scratch();
  const w = new LineWriter(file, { batchChars: 1000, flushMs: 60_000 });
  try {
    for (let i = 0; i < 500; i++) w.write(`line ${i}\n`);
    const before = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
    assert.ok(before < 500, 'written asynchronously, not line by line');
    await new Promise<void>((r) => w.flush(() => r()));
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(lines, Array.from({ length: 500 }, (_, i) => `line ${i}`));
  } finally {
    w.close();
    done();
  }
});

test('a partial batch is written after flushMs without a flush', async () => {
  const { file, done } = scratch();
  const w = new LineWriter(file, { batchChars: 1_000_000, flushMs: 30 });
  try {
    w.write('one\n');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(readFileSync(file, 'utf8'), 'one\n');
  } finally {
    w.close();
    done();
  }
});

test('memory is bounded: lines beyond maxPendingChars are dropped, counted, and reported in a line of their own', async () => {
  const { file, done } = scratch();
  const w = new LineWriter(file, { batchChars: 1_000_000, flushMs: 60_000, maxPendingChars: 100 });
  try {
    let accepted = 0;
    for (let i = 0; i < 10; i++) if (w.write(`${String(i).padStart(29, '-')}\n`)) accepted++;
    assert.equal(accepted, 3);
    await new Promise<void>((r) => w.flush(() => r()));
    const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 4);
    const report = JSON.parse(lines[3]!);
    assert.equal(report.dropped, 7);
    assert.equal(report.level, 'warn');
  } finally {
    w.close();
    done();
  }
});

test('flushSync writes what is gathered at once (the exit path)', () => {
  const { file, done } = scratch();
  const w = new LineWriter(file, { batchChars: 1_000_000, flushMs: 60_000 });
  try {
    w.write('a\n');
    w.write('b\n');
    w.flushSync();
    assert.equal(readFileSync(file, 'utf8'), 'a\nb\n');
  } finally {
    w.close();
    done();
  }
});
