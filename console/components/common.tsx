import type { ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";

/** A date as a person reads it in their own time zone, or a dash. */
export function when(iso: string | null | undefined): string {
  return iso ? new Date(iso).toLocaleString() : "—";
}

/** How long from `from` to `to` (or now), e.g. "2 min 05 s". */
export function duration(from: string | null | undefined, to?: string | null): string {
  if (!from) return "—";
  const ms = Math.max(0, (to ? Date.parse(to) : Date.now()) - Date.parse(from));
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A status as a coloured word: colour is never the only sign, the word is always there. */
export function StatusBadge({ status }: { status: string }) {
  return (
    <span class={`badge badge--${status.replace(/[^a-z_-]/gi, "")}`}>
      {status.replace(/_/g, " ")}
    </span>
  );
}

export function Progress({ value, max, label }: { value: number; max: number; label: string }) {
  return (
    <span class="progress">
      <progress value={value} max={Math.max(max, 1)} aria-label={label} />
      <span class="progress__text">
        {value} / {max}
      </span>
    </span>
  );
}

export function ErrorNote({ message }: { message: string | undefined }) {
  return message ? (
    <p class="error" role="alert">
      {message}
    </p>
  ) : null;
}

/**
 * A modal dialog (the browser's own <dialog>: focus is held inside it, Escape closes it), open
 * while it is rendered.
 */
export function Modal({
  title,
  onClose,
  children,
}: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} class="modal" aria-labelledby="modal-title" onClose={onClose}>
      <h2 id="modal-title">{title}</h2>
      {children}
    </dialog>
  );
}

/** Pages read by cursor: the cursors of the later pages opened, so that one can go back. */
export interface CursorPages {
  readonly cursor: string | undefined;
  readonly page: number;
  readonly back: (() => void) | undefined;
  readonly next: (cursor: string | null | undefined) => (() => void) | undefined;
  readonly reset: () => void;
}

export function useCursorPages(): CursorPages {
  const [cursors, setCursors] = useState<readonly string[]>([]);
  return {
    cursor: cursors.at(-1),
    page: cursors.length + 1,
    back: cursors.length > 0 ? () => setCursors(cursors.slice(0, -1)) : undefined,
    next: (cursor) => (cursor ? () => setCursors([...cursors, cursor]) : undefined),
    reset: () => setCursors([]),
  };
}

/** Back and forth between pages, shown once there is more than one; still while a page loads. */
export function CursorPager({
  pages,
  nextCursor,
  loading,
  label,
  backText = "Previous",
  nextText = "Next",
}: {
  pages: CursorPages;
  nextCursor: string | null | undefined;
  /** The cursor shown is the last page's until the new one arrives: it must not be followed. */
  loading: boolean;
  label: string;
  backText?: string;
  nextText?: string;
}) {
  const back = pages.back;
  const next = pages.next(nextCursor);
  if (!back && !next) return null;
  // While a page loads the buttons say so and do nothing, and keep the focus (a disabled one drops it).
  const unlessLoading = (go: () => void) => () => {
    if (!loading) go();
  };
  return (
    <nav class="pager" aria-label={label} aria-busy={loading}>
      <button
        type="button"
        class="secondary"
        disabled={!back}
        aria-disabled={loading}
        onClick={back && unlessLoading(back)}
      >
        {backText}
      </button>
      <span>page {pages.page}</span>
      <button
        type="button"
        class="secondary"
        disabled={!next}
        aria-disabled={loading}
        onClick={next && unlessLoading(next)}
      >
        {nextText}
      </button>
    </nav>
  );
}
