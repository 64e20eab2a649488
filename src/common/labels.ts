// Kubernetes label selectors: the string form (?labelSelector=a=b,c in (x)) and the object form (matchLabels/matchExpressions).

export type Labels = Readonly<Record<string, string>>;

export type Operator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
export interface Requirement {
  readonly key: string;
  readonly operator: Operator;
  readonly values: readonly string[];
}
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: Operator; values?: string[] }[];
}

export class SelectorError extends Error {
  override name = 'SelectorError';
}

const NAME = '[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const PREFIX = '[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*';
const KEY_RE = new RegExp(`^(${PREFIX}/)?${NAME}$`);
const VALUE_RE = new RegExp(`^(${NAME})?$`);

export function isValidLabelKey(key: string): boolean {
  if (!KEY_RE.test(key)) return false;
  const slash = key.indexOf('/');
  return slash < 0 || slash <= 253;
}
export function isValidLabelValue(value: string): boolean {
  return value.length <= 63 && VALUE_RE.test(value);
}

const MAX_SELECTOR_LENGTH = 4096;

/** Parses the string form of a label selector, as kubectl and the HPA send it. Throws SelectorError with the reason. */
export function parseSelector(input: string): Requirement[] {
  if (input.length > MAX_SELECTOR_LENGTH) throw new SelectorError(`label selector is longer than ${MAX_SELECTOR_LENGTH} characters`);
  const out: Requirement[] = [];
  let i = 0;
  const s = input;
  const ws = () => {
    while (i < s.length && s[i] === ' ') i++;
  };
  const ident = (): string => {
    ws();
    const start = i;
    while (i < s.length && !' ,=!()'.includes(s[i]!)) i++;
    return s.slice(start, i);
  };
  const checkKey = (key: string) => {
    if (!isValidLabelKey(key)) throw new SelectorError(`invalid label key "${key}" in selector "${input}"`);
  };
  const checkValue = (v: string) => {
    if (!isValidLabelValue(v)) throw new SelectorError(`invalid label value "${v}" in selector "${input}"`);
  };
  ws();
  if (i >= s.length) return out;
  for (;;) {
    ws();
    if (s[i] === '!') {
      i++;
      const key = ident();
      checkKey(key);
      out.push({ key, operator: 'DoesNotExist', values: [] });
    } else {
      const key = ident();
      checkKey(key);
      ws();
      if (s.startsWith('==', i) || s.startsWith('!=', i) || s[i] === '=') {
        const neg = s[i] === '!';
        i += s.startsWith('==', i) || neg ? 2 : 1;
        const value = ident();
        checkValue(value);
        out.push({ key, operator: neg ? 'NotIn' : 'In', values: [value] });
      } else if (/^(in|notin)\s*\(/.test(s.slice(i))) {
        const op: Operator = s.startsWith('notin', i) ? 'NotIn' : 'In';
        i += op === 'In' ? 2 : 5;
        ws();
        i++; // '('
        ws();
        if (s[i] === ')') throw new SelectorError(`"${key} ${op === 'In' ? 'in' : 'notin'} ()" needs at least one value`);
        const values: string[] = [];
        for (;;) {
          const v = ident();
          checkValue(v);
          values.push(v);
          ws();
          if (s[i] === ',') {
            i++;
            continue;
          }
          if (s[i] === ')') {
            i++;
            break;
          }
          throw new SelectorError(`expected "," or ")" at position ${i} in selector "${input}"`);
        }
        out.push({ key, operator: op, values });
      } else if (i >= s.length || s[i] === ',') {
        out.push({ key, operator: 'Exists', values: [] });
      } else {
        throw new SelectorError(`unexpected "${s[i]}" at position ${i} in selector "${input}"`);
      }
    }
    ws();
    if (i >= s.length) return out;
    if (s[i] !== ',') throw new SelectorError(`expected "," at position ${i} in selector "${input}"`);
    i++;
  }
}

/** Converts the object form into requirements (validated by the policy schema beforehand). */
export function selectorRequirements(sel: LabelSelector | undefined): Requirement[] {
  if (!sel) return [];
  const reqs: Requirement[] = Object.entries(sel.matchLabels ?? {}).map(([key, v]) => ({ key, operator: 'In', values: [v] }));
  for (const e of sel.matchExpressions ?? []) reqs.push({ key: e.key, operator: e.operator, values: e.values ?? [] });
  return reqs;
}

export function matches(reqs: readonly Requirement[], labels: Labels | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = has ? l[r.key] : undefined;
    switch (r.operator) {
      case 'In':
        if (!has || !r.values.includes(v!)) return false;
        break;
      case 'NotIn':
        if (has && r.values.includes(v!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}

/** The single value a selector pins a key to (`key=value` or `key in (value)`), if any. */
export function pinnedValue(reqs: readonly Requirement[], key: string): string | undefined {
  const r = reqs.find((q) => q.key === key && q.operator === 'In' && q.values.length === 1);
  return r?.values[0];
}
