/** commander's collector for an option given several times (`--param a=1 --param b=2`): every value, in order. */
export function repeatable(value: string, previous: string[]): string[] {
  return [...previous, value];
}
