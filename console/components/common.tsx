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

/**
 * Back and forth between pages of a list, and where in it this page is. While a page loads the
 * buttons say so and do nothing, and keep the focus (a disabled one would drop it).
 */
export function Pager({
  label,
  position,
  back,
  next,
  loading = false,
  backText = "Previous",
  nextText = "Next",
}: {
  label: string;
  position: string;
  /** Absent where there is no page that way. */
  back: (() => void) | undefined;
  next: (() => void) | undefined;
  /** The page shown is the last one until the new one arrives: it must not be paged from. */
  loading?: boolean;
  backText?: string;
  nextText?: string;
}) {
  const button = (go: (() => void) | undefined, text: string) => (
    <button
      type="button"
      class="secondary"
      disabled={!go}
      aria-disabled={loading}
      onClick={go && (() => !loading && go())}
    >
      {text}
    </button>
  );
  return (
    <nav class="pager" aria-label={label} aria-busy={loading}>
      {button(back, backText)}
      <span>{position}</span>
      {button(next, nextText)}
    </nav>
  );
}

/** The pager of a list read by cursor, shown once there is more than one page. */
export function CursorPager({
  pages,
  nextCursor,
  ...shown
}: {
  pages: CursorPages;
  nextCursor: string | null | undefined;
  loading: boolean;
  label: string;
  backText?: string;
  nextText?: string;
}) {
  const next = pages.next(nextCursor);
  if (!pages.back && !next) return null;
  return <Pager {...shown} position={`page ${pages.page}`} back={pages.back} next={next} />;
}
