/**
 * Does a value survive a JSON round trip unchanged? `artifacts.memoJson` stores JSON, so a
 * value that JSON would silently change (NaN → null, a Float32Array → {"0": …}, a Map → {})
 * would be one thing on the run that computed it and another on every run that reuses it.
 * Such values are refused with the path of the first offending part.
 *
 * Object properties whose value is undefined are allowed: JSON drops them, and reading a
 * dropped property gives undefined again.
 */
export function jsonProblem(value: unknown, path = 'value'): string | null {
  return check(value, path, new Set());
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === undefined) return 'undefined';
  if (typeof v === 'function') return 'a function';
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'bigint') return `a bigint (${v}n)`;
  const ctor = (v as object).constructor?.name;
  return ctor ? `a ${ctor}` : 'an object with a custom prototype';
}

function check(v: unknown, path: string, seen: Set<object>): string | null {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : `${path} is ${describe(v)}`;
  if (typeof v !== 'object') return `${path} is ${describe(v)}`;
  if (seen.has(v)) return `${path} refers back to itself (a cycle)`;
  seen.add(v);
  try {
    if (Array.isArray(v)) {
      if (Object.getPrototypeOf(v) !== Array.prototype) return `${path} is ${describe(v)}`;
      for (let i = 0; i < v.length; i++) {
        if (!(i in v) || v[i] === undefined) return `${path}[${i}] is ${i in v ? 'undefined' : 'a hole'} (JSON stores null)`;
        const p = check(v[i], `${path}[${i}]`, seen);
        if (p) return p;
      }
      return null;
    }
    const proto = Object.getPrototypeOf(v);
    if ((proto !== Object.prototype && proto !== null) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return `${path} is ${describe(v)}`;
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) continue;
      const p = check(x, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, seen);
      if (p) return p;
    }
    return null;
  } finally {
    seen.delete(v);
  }
}
