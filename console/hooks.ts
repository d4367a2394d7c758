import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { StepbatchApiError } from "../client/stepbatch-client.ts";
import { messageOf } from "./api.ts";

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  /** The data is of the read before the last change (another page, another filter) until it arrives. */
  readonly stale: boolean;
  /** Reads again now (after an action), without waiting for the next tick. */
  readonly refresh: () => void;
}

/**
 * Reads `load` now and every `everyMs` while the page is visible: the view follows the batch
 * without a reload, until `done` says what was read no longer changes. A failed read keeps the
 * last data and shows why; so does a new read (another page of jobs), until it arrives. A page
 * of another batch is another component (keyed by its id), so it never shows this one's data.
 */
export function usePolling<T>(
  load: () => Promise<T>,
  everyMs: number,
  deps: unknown[],
  done?: (data: T) => boolean,
): Polled<T> {
  const key = JSON.stringify(deps);
  const [read, setRead] = useState<{ readonly data: T; readonly key: string }>();
  const [error, setError] = useState<string>();
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const doneRef = useRef(done);
  doneRef.current = done;

  // deps name what the read depends on; a new tick reads again at once.
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      if (stopped) return;
      if (document.visibilityState !== "hidden") {
        try {
          const value = await loadRef.current();
          if (!stopped) {
            setRead({ data: value, key });
            setError(undefined);
          }
          if (doneRef.current?.(value)) return;
        } catch (failure) {
          if (!stopped) setError(messageOf(failure));
          // What does not exist will not start to: asking again every second only repeats the 404.
          if (failure instanceof StepbatchApiError && failure.status === 404) return;
        }
      }
      if (!stopped) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [...deps, tick, everyMs]);

  const refresh = useCallback(() => setTick((t) => t + 1), []);
  return { data: read?.data, stale: read !== undefined && read.key !== key, error, refresh };
}

/** The part of the address after `#`, kept in step with the browser's history. */
export function useRoute(): string {
  const [route, setRoute] = useState(() => location.hash.slice(1) || "/");
  useEffect(() => {
    const follow = () => setRoute(location.hash.slice(1) || "/");
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);
  return route;
}
