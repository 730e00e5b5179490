/**
 * The seeds axis: `seeds: 3` (seeds 1, 2, 3) or `seeds: [1, 7]` runs every stage that depends on randomness
 * once per seed. For one seed the arms of a matrix share initialisation and data order (the seed is the only
 * source of randomness a stage gets), so arm differences measured per seed are paired.
 */

/** The largest `seeds: N` accepted: a typo like 1000 should not queue a thousand trainings. */
export const MAX_SEEDS = 100;

/** The axis name instance ids and directories use for the seed: `train[lrn=on,seed=2]`. */
export const SEED_AXIS = "seed";

/** Seeds from a `seeds` value: N -> 1..N, or the list itself. Returns a problem text when the value is bad. */
export function readSeeds(value: unknown): number[] | string {
  if (Number.isInteger(value)) {
    const n = value as number;
    if (n < 1 || n > MAX_SEEDS) return `seeds: N must be between 1 and ${MAX_SEEDS}, got ${n}`;
    return Array.from({ length: n }, (_, i) => i + 1);
  }
  if (Array.isArray(value)) {
    if (value.length === 0) return "seeds must not be an empty list";
    if (value.length > MAX_SEEDS) return `at most ${MAX_SEEDS} seeds, got ${value.length}`;
    const bad = value.find((seed) => !Number.isInteger(seed) || (seed as number) < 0);
    if (bad !== undefined) return `every seed must be an integer >= 0, got ${JSON.stringify(bad)}`;
    const duplicate = value.find((seed, i) => value.indexOf(seed) !== i);
    if (duplicate !== undefined) return `seed ${duplicate} is listed twice`;
    return value as number[];
  }
  return `seeds must be a count N (seeds 1..N) or a list of integers, got ${JSON.stringify(value)}`;
}
