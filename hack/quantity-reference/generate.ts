// Writes src/common/testdata/quantities.json: inputs and apimachinery's exact reading of each (ParseQuantity, then
// AsDec), from the Go program beside this file. The quantity tests compare our parser with it, without Go.
// Usage: (cd hack/quantity-reference && go build -o /tmp/qref .) && node --import tsx hack/quantity-reference/generate.ts /tmp/qref
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const fixed = [
  '0', '1', '-1', '+1', '1e309', '-1e309', '1E309', '999999999999999999999999Ei', '-999999999999999999999999Ei', '0.0000000001', '-0.0000000001',
  '1E3', '1e3', '1e-3', '1e+3', '1e4294967297', '1e-4294967297', '1e9223372036854775807', '1e9223372036854775808', '1e', '1E', '1Ei', '1.5Gi',
  '0.5Ki', '.5', '5.', '.', '+', '-', 'k', 'Gi', 'm', '', ' 1', '1 ', '1.1.M', '1+1.0M', '0.1mi', '0.1am', 'aoeu', '.5i', '1i', '-3.01i', '-3.01e-',
  '4500m', '4', '4.0', '4000m', '4000000u', '4000000000n', '8Gi', '8192Mi', '8589934592', '8.589934592G', '64', '512Mi', '100m', '0.1', '1n', '0.5n',
  '1.0000000001', '00000000000000000000001', '1e-9', '1e-10', '9223372036854775807', '9223372036854775808', '9223372036854775808Ki', '8Ei', '7.99999Ei',
  '1Ki5', 'ee5', '1eE5', '1e+', '1e-', '1.e2', '-.5e1', '12345678901234567890123456789012345678901234567890', '0.000000000000000000000001e30',
];
let seed = 17;
// mulberry32: a fixed sequence, so the file only changes when the list does.
const rnd = (n: number) => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return (((t ^ (t >>> 14)) >>> 0) % n);
};
const digits = (n: number) => Array.from({ length: n }, () => String(rnd(10))).join('');
const suffixes = ['', 'n', 'u', 'm', 'k', 'M', 'G', 'T', 'P', 'E', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
const random: string[] = [];
for (let i = 0; i < 1500; i++) {
  const sign = ['', '', '-', '+'][rnd(4)]!;
  const int = digits(rnd(25));
  const frac = rnd(3) === 0 ? '' : `.${digits(rnd(20))}`;
  const suffix = rnd(3) === 0 ? `${['e', 'E'][rnd(2)]}${['', '-', '+'][rnd(3)]}${rnd(80)}` : suffixes[rnd(suffixes.length)]!;
  random.push(`${sign}${int || (frac ? '' : '0')}${frac}${suffix}`);
}
const inputs = [...new Set([...fixed, ...random])].filter((s) => !s.includes('\n'));
const out = execFileSync(process.argv[2]!, { input: inputs.join('\n') + '\n', maxBuffer: 1 << 26 }).toString('utf8').split('\n');
const cases = inputs.map((input, i) => ({ input, exact: out[i] === 'ERR' ? null : out[i] }));
writeFileSync(join(import.meta.dirname, '../../src/common/testdata/quantities.json'), JSON.stringify({ source: 'k8s.io/apimachinery v0.37.2 ParseQuantity(input).AsDec().String(); null: an error', cases }, null, 0) + '\n');
console.log(`${cases.length} cases, ${cases.filter((c) => c.exact === null).length} errors`);
