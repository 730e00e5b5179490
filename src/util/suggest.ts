/** "Did you mean" suggestions: most typos in pipeline files are one or two edits away from a real name. */

export function editDistance(a: string, b: string): number {
  // Damerau (optimal string alignment) distance, so a swapped pair of letters counts as one edit.
  const rows = a.length + 1, cols = b.length + 1;
  const d: number[][] = Array.from(
    { length: rows },
    (_, i) => Array.from({ length: cols }, (_, j) => i || j),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

/** The closest candidate within a distance that grows with the word's length, or undefined. */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** ` (did you mean "x"?)`, or the list of valid names when nothing is close. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const list = [...candidates];
  const match = closestMatch(word, list);
  if (match !== undefined) return ` (did you mean "${match}"?)`;
  if (list.length === 0) return "";
  return ` (expected one of: ${list.join(", ")})`;
}
