import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Where the fault runs leave their counts: `<os temp dir>/stepbatch-faults/`. */
export const FIGURES_DIR = join(tmpdir(), "stepbatch-faults");

/**
 * Writes a fault run's counts as JSON to `<os temp dir>/stepbatch-faults/<name>.json` (the latest
 * run) and returns the path. Nothing is printed: test output stays results only.
 */
export function writeFigures(name: string, figures: unknown): string {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const file = join(FIGURES_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(figures, null, 2)}\n`);
  return file;
}

/** Writes a text (a process's output, say) next to the counts; returns its path. */
export function writeFaultLog(name: string, text: string): string {
  mkdirSync(FIGURES_DIR, { recursive: true });
  const file = join(FIGURES_DIR, `${name}.log`);
  writeFileSync(file, text);
  return file;
}
