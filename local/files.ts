import { randomBytes } from "node:crypto";
import { chmodSync, lstatSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isMainThread } from "node:worker_threads";

/** Files the local stack writes are readable by their owner only: they hold job data and the token. */
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Writes a file whole or not at all: to a temporary file in the same folder, then renamed over
 * the target (atomic within a folder), so a crash (kill -9) never leaves an empty or half-written
 * file under its name.
 */
export function writeFileAtomic(file: string, data: string): void {
  const temporary = `${file}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    writeFileSync(temporary, data, { mode: PRIVATE_FILE_MODE });
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

/** Makes `dir` and everything in it private: folders 0700, files without group or other bits (symbolic links are left alone). */
export function makePrivate(dir: string): void {
  const stat = lstatSync(dir, { throwIfNoEntry: false });
  if (!stat || stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    if ((stat.mode & 0o777) !== PRIVATE_DIR_MODE) chmodSync(dir, PRIVATE_DIR_MODE);
    for (const entry of readdirSync(dir)) makePrivate(join(dir, entry));
  } else if ((stat.mode & 0o077) !== 0) {
    chmodSync(dir, stat.mode & 0o700); // the owner's bits stay as they were
  }
}

/**
 * While at least one local stack with a data folder runs in this process, everything created in
 * it is private (umask 077): the emulators (dynalite's LevelDB, s3rver, the Step Functions store)
 * create their own files, so a process umask is the one setting that reaches all of them. The
 * previous umask comes back when the last one stops. (Worker threads cannot set it: the modes are
 * then fixed by makePrivate at start-up only.)
 */
let privateHolders = 0;
let umaskBefore: number | undefined;

export function holdPrivateUmask(): () => void {
  if (!isMainThread) return () => undefined;
  if (privateHolders++ === 0) umaskBefore = process.umask(0o077);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--privateHolders === 0 && umaskBefore !== undefined) process.umask(umaskBefore);
  };
}

/** Whether a process is alive: ours, or someone else's (EPERM: it exists, we may not signal it). */
export function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
