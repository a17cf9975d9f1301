/**
 * Lookups by a name that comes from a user (a result, a meta key, a claim's result): only the
 * record's own entries count. `record[name]` and `name in record` also see what every object
 * inherits, so `{{result toString}}` showed a function and `verify toString` crashed.
 */
export function has(record: object, name: string): boolean {
  return Object.hasOwn(record, name);
}

export function own<T>(record: Record<string, T>, name: string): T | undefined {
  return Object.hasOwn(record, name) ? record[name] : undefined;
}

/** `record[name] = value` as an own entry, even for `__proto__` (which assignment would take as the prototype). */
export function setOwn<T>(record: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(record, name, { value, enumerable: true, writable: true, configurable: true });
}
