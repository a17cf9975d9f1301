/**
 * A running unit's task label (a training, an attack) as the grid's progress line and log
 * show it, after the unit's id: undefined when it only repeats the id in other words
 * ("warmstart" in unit `warmstart`, "teacher T=30" in `T30/teacher`), so that the line does
 * not say the name twice; kept when it says more (unit `T30/student` training its missing
 * teacher, "teacher T=30").
 */
export function taskLabel(unitId: string, label: string): string | undefined {
  const id = new Set(words(unitId));
  return words(label).some((w) => !id.has(w)) ? label : undefined;
}

/** Letters and digits, in runs of one kind, lowercased: "T=30" and "T30" are both t, 30. */
const words = (s: string): string[] => s.toLowerCase().match(/[a-z]+|[0-9]+/g) ?? [];
