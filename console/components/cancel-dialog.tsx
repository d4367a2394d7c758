import { useEffect, useState } from "preact/hooks";
import type { BatchView, JobFilter, SelectionPreview } from "../../client/stepbatch-client.ts";
import { isJobTerminal } from "../../functions/core/model.ts";
import { api, messageOf } from "../api.ts";
import { ErrorNote, Modal, StatusBadge } from "./common.tsx";

type BatchJob = BatchView["jobs"][number];

/** What is being cancelled: the whole batch, some of its jobs (ticked rows, or one row), or what a filter chooses. */
export type CancelTarget =
  | { readonly kind: "batch" }
  | { readonly kind: "jobs"; readonly jobs: readonly BatchJob[] }
  | { readonly kind: "filter"; readonly filter: JobFilter };

const MODES = [
  ["now", "Now: running phases stop at their next safe point (within about a second)"],
  ["after-phase", "After the phase: running jobs finish the phase they are in"],
  ["drain", "Drain: running jobs finish all their phases"],
] as const;

/**
 * Cancel, behind a confirmation that shows what will be cancelled: the batch's counts, the ticked
 * jobs, or a filter's dry run (the jobs it chose, cancelled exactly as previewed). Queued jobs
 * never start in any mode; finished jobs and their results are kept.
 */
export function CancelDialog({
  batch,
  target,
  onClose,
  onDone,
}: {
  batch: BatchView;
  target: CancelTarget;
  onClose: () => void;
  onDone: (message: string) => void;
}) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [preview, setPreview] = useState<SelectionPreview>();

  // A filter's jobs are previewed first (the dry run): the confirm cancels exactly those.
  // Previewed once, when the dialog opens.
  useEffect(() => {
    if (target.kind !== "filter") return;
    setBusy(true);
    api
      .previewCancel(batch.batchId, target.filter)
      .then(setPreview, (failure: unknown) => setError(messageOf(failure)))
      .finally(() => setBusy(false));
  }, []);

  const confirm = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const reason = String(form.get("reason") ?? "").trim();
    const options = {
      mode: String(form.get("mode") ?? "now") as (typeof MODES)[number][0],
      ...(reason ? { reason } : {}),
    };
    setBusy(true);
    setError(undefined);
    try {
      if (target.kind === "batch") {
        const answer = await api.cancelBatch(batch.batchId, options);
        onDone(answer.message);
      } else if (target.kind === "jobs" && target.jobs.length === 1) {
        const [job] = target.jobs as [BatchJob];
        const answer = await api.cancelJob(batch.batchId, job.jobId, options);
        onDone(answer.message);
      } else if (target.kind === "jobs") {
        const answer = await api.cancelJobs(
          batch.batchId,
          target.jobs.map((j) => j.jobId),
          options,
        );
        onDone(answer.message);
      } else if (preview) {
        const answer = await api.cancelSelection(batch.batchId, preview.confirmToken, options);
        onDone(answer.message);
      }
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };

  const title =
    target.kind === "batch"
      ? `Cancel batch ${batch.name}`
      : target.kind === "jobs" && target.jobs.length === 1
        ? `Cancel job ${target.jobs[0]?.name}`
        : target.kind === "jobs"
          ? `Cancel ${target.jobs.length} jobs`
          : "Cancel the jobs a filter chooses";

  return (
    <Modal title={title} onClose={onClose}>
      <form onSubmit={confirm}>
        <section aria-label="What will be cancelled" class="cancel-preview">
          <WhatWillStop batch={batch} target={target} preview={preview} />
        </section>
        <fieldset>
          <legend>How running work stops</legend>
          {MODES.map(([mode, text], i) => (
            <label key={mode} class="choice">
              <input type="radio" name="mode" value={mode} defaultChecked={i === 0} /> {text}
            </label>
          ))}
        </fieldset>
        <label for="cancel-reason">Reason (kept in the audit trail)</label>
        <input id="cancel-reason" name="reason" maxLength={500} placeholder="wrong batch" />
        <ErrorNote message={error} />
        <div class="actions">
          <button type="button" class="secondary" onClick={onClose}>
            Keep running
          </button>
          <button
            type="submit"
            class="danger"
            disabled={busy || (target.kind === "filter" && !preview)}
          >
            {busy ? "Cancelling…" : "Confirm cancel"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function WhatWillStop({
  batch,
  target,
  preview,
}: {
  batch: BatchView;
  target: CancelTarget;
  preview: SelectionPreview | undefined;
}) {
  if (target.kind === "batch") {
    const { running, queued, succeeded, failed, cancelled } = batch.progress;
    return (
      <p>
        This stops <strong>{running} running</strong> and <strong>{queued} queued</strong> jobs of{" "}
        {batch.total}. The {succeeded + failed + cancelled} that already ended, and everything the
        running ones saved, are kept.
      </p>
    );
  }
  if (target.kind === "jobs") {
    const ended = target.jobs.filter((j) => isJobTerminal(j.status));
    return (
      <>
        <ul class="job-list">
          {target.jobs.map((job) => (
            <li key={job.jobId}>
              <strong>{job.name}</strong> <code>{job.jobId}</code>{" "}
              <StatusBadge status={job.status} />
              {job.phase && !isJobTerminal(job.status) ? ` in ${job.phase}` : ""}
            </li>
          ))}
        </ul>
        {ended.length > 0 && (
          <p class="hint">
            {ended.length} of these already ended: {ended.length === 1 ? "it is" : "they are"} left
            as {ended.length === 1 ? "it is" : "they are"}.
          </p>
        )}
      </>
    );
  }
  if (!preview) return <p aria-live="polite">Previewing what the filter chooses…</p>;
  return (
    <>
      <p aria-live="polite">
        The filter chooses <strong>{preview.count}</strong> job{preview.count === 1 ? "" : "s"}
        {"; exactly these are cancelled."}
      </p>
      <ul class="job-list">
        {preview.jobs.map((job) => (
          <li key={job.jobId}>
            <strong>{job.name}</strong> <code>{job.jobId}</code> <StatusBadge status={job.status} />
          </li>
        ))}
      </ul>
    </>
  );
}
