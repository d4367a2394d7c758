/**
 * Seeded randomness for the fault runs: mulberry32, as in burst.faults.ts, with the few draws
 * the tests need. The seed comes from STEPBATCH_FAULT_SEED, so any run can be replayed.
 */
export class Dice {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number from `min` to `max`, both included. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("Dice.pick: nothing to pick from");
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /**
   * One of `items`, or undefined when there are none. It always draws once, so what comes after
   * is drawn the same whatever `items` holds (a replay stays on the same path).
   */
  maybePick<T>(items: readonly T[]): T | undefined {
    const roll = this.next();
    return items.length === 0 ? undefined : items[Math.floor(roll * items.length)];
  }

  /** One of `choices`, each drawn in proportion to its weight. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T {
    const total = choices.reduce((sum, [weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [weight, value] of choices) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return (choices[choices.length - 1] as readonly [number, T])[1];
  }

  /** A few distinct items of `items`, in random order. */
  some<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    return copy.slice(0, Math.max(0, count));
  }

  /** `length` characters drawn from `alphabet`. */
  text(length: number, alphabet: string): string {
    const chars = [...alphabet];
    let out = "";
    for (let i = 0; i < length; i++) out += this.pick(chars);
    return out;
  }
}

/** STEPBATCH_FAULT_SEED when set (to replay a run), else a fresh seed. */
export function faultSeed(): number {
  const text = process.env.STEPBATCH_FAULT_SEED;
  if (text !== undefined && text !== "") {
    const seed = Number(text);
    if (!Number.isInteger(seed))
      throw new Error(`STEPBATCH_FAULT_SEED '${text}' is not an integer`);
    return seed;
  }
  return Date.now() % 100_000;
}

/** A whole number from the environment variable `name`, or `fallback`. */
export function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} '${text}' is not a count`);
  return value;
}
