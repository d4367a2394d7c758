import { useState } from "preact/hooks";
import type { BatchView, JobFilter, Receipt } from "../../client/stepbatch-client.ts";
import { isBatchTerminal, isJobTerminal } from "../../functions/core/model.ts";
import type { ReceiptOutcome } from "../../functions/core/receipts.ts";
import { api, getExecution, messageOf, resultsDownloadUrl } from "../api.ts";
import { CancelDialog, type CancelTarget } from "../components/cancel-dialog.tsx";
import {
  CursorPager,
  duration,
  ErrorNote,
  Pager,
  Progress,
  StatusBadge,
  useCursorPages,
  when,
} from "../components/common.tsx";
import { ExecutionGraph } from "../components/execution-graph.tsx";
import { usePolling } from "../hooks.ts";

type BatchJob = BatchView["jobs"][number];
const PAGE = 50;

/** What each receipt outcome means, as a person says it. */
const OUTCOMES: Readonly<Record<ReceiptOutcome, string>> = {
  cancelled_before_start: "cancelled before it started",
  stopped_at_safe_point: "stopped at a safe point",
  finished_phase_then_stopped: "finished its phase, then stopped",
  drained: "finished all its phases (drain)",
  completed_before_cancel: "had already ended before this cancel",
  in_commit_completed: "was in its final phase, which completed",
  ignored_signal: "did not stop within the grace period",
  failed: "failed after the cancel",
  pending: "still settling",
};

/** One batch: its progress, execution, jobs, cancels and results, following it live. */
export function BatchPage({ batchId }: { batchId: string }) {
  const [offset, setOffset] = useState(0);
  // Ticked jobs, kept across pages of jobs: "Cancel selected" cancels every one of them.
  const [selected, setSelected] = useState<ReadonlyMap<string, BatchJob>>(new Map());
  const [target, setTarget] = useState<CancelTarget>();
  const [notice, setNotice] = useState<string>();
  const batch = usePolling(
    () => api.getBatch(batchId, { jobsOffset: offset, jobsLimit: PAGE }),
    1000,
    [batchId, offset],
  );
  const view = batch.data;
  const ended = view ? isBatchTerminal(view.status) : false;

  if (!view)
    return (
      <main>
        <p>
          <a href="#/">← Batches</a>
        </p>
        {batch.error ? (
          <ErrorNote message={batch.error} />
        ) : (
          <p aria-busy="true">Loading batch {batchId}…</p>
        )}
      </main>
    );

  const toggle = (job: BatchJob) =>
    setSelected((now) => {
      const next = new Map(now);
      if (!next.delete(job.jobId)) next.set(job.jobId, job);
      return next;
    });
  // Each ticked job as the last read shows it, when it is on this page of jobs.
  const selectedJobs = [...selected.values()].map(
    (ticked) => view.jobs.find((job) => job.jobId === ticked.jobId) ?? ticked,
  );
  const counts = view.progress;
  const nextOffset = view.jobsPage.nextOffset;

  return (
    <main>
      <p>
        <a href="#/">← Batches</a>
      </p>
      <div class="page-head">
        <h1>
          {view.name} <StatusBadge status={view.status} />
        </h1>
        <div class="actions">
          <button
            type="button"
            class="danger"
            disabled={ended}
            onClick={() => setTarget({ kind: "batch" })}
          >
            Cancel batch
          </button>
          <button
            type="button"
            class="danger secondary"
            disabled={selectedJobs.length === 0}
            onClick={() => setTarget({ kind: "jobs", jobs: selectedJobs })}
          >
            Cancel selected ({selectedJobs.length})
          </button>
        </div>
      </div>
      <p class="meta">
        <code>{view.batchId}</code> ·{" "}
        {view.source.kind === "schedule" ? `schedule ${view.source.scheduleName ?? ""}` : "API"} ·
        submitted {when(view.createdAt)}
        {view.endedAt
          ? ` · ended ${when(view.endedAt)} after ${duration(view.startedAt, view.endedAt)}`
          : ""}
      </p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <ErrorNote message={batch.error} />

      <section aria-labelledby="progress-title">
        <h2 id="progress-title">Progress</h2>
        <Progress
          value={counts.succeeded + counts.failed + counts.cancelled}
          max={counts.total}
          label="Jobs ended"
        />{" "}
        <span class="percent">{Math.floor(counts.percent)} %</span>
        <ul class="counts" aria-label="Jobs by status">
          {(["queued", "running", "succeeded", "failed", "cancelled"] as const).map((status) => (
            <li key={status} data-count={status}>
              <StatusBadge status={status} /> {counts[status]}
            </li>
          ))}
        </ul>
      </section>

      <ExecutionSection
        key={view.executionArn}
        executionArn={view.executionArn}
        batchEnded={ended}
      />

      <section aria-labelledby="jobs-title">
        <h2 id="jobs-title">Jobs</h2>
        <FilterCancel
          disabled={ended}
          onPreview={(filter) => setTarget({ kind: "filter", filter })}
        />
        <JobsTable
          batchId={batchId}
          jobs={view.jobs}
          selected={selected}
          onToggle={toggle}
          onCancel={(job) => setTarget({ kind: "jobs", jobs: [job] })}
        />
        <Pager
          label="Pages of jobs"
          position={
            view.jobsPage.total === 0
              ? "no jobs"
              : `jobs ${view.jobsPage.offset + 1}–${view.jobsPage.offset + view.jobs.length} of ${view.jobsPage.total}`
          }
          back={offset === 0 ? undefined : () => setOffset(Math.max(0, offset - PAGE))}
          next={nextOffset === null ? undefined : () => setOffset(nextOffset)}
        />
      </section>

      <CancelsSection batchId={batchId} audit={view.audit} />
      <ResultsSection batchId={batchId} />

      {target && (
        <CancelDialog
          batch={view}
          target={target}
          onClose={() => setTarget(undefined)}
          onDone={(message) => {
            setTarget(undefined);
            setSelected(new Map());
            setNotice(message);
            batch.refresh();
          }}
        />
      )}
    </main>
  );
}

function JobsTable({
  batchId,
  jobs,
  selected,
  onToggle,
  onCancel,
}: {
  batchId: string;
  jobs: readonly BatchJob[];
  selected: ReadonlyMap<string, BatchJob>;
  onToggle: (job: BatchJob) => void;
  onCancel: (job: BatchJob) => void;
}) {
  return (
    <table class="jobs">
      <caption class="visually-hidden">
        Jobs of this batch; tick jobs to cancel them together
      </caption>
      <thead>
        <tr>
          <th scope="col">
            <span class="visually-hidden">Select</span>
          </th>
          <th scope="col">Job</th>
          <th scope="col">Status</th>
          <th scope="col">Phase</th>
          <th scope="col">Phase progress</th>
          <th scope="col">Duration</th>
          <th scope="col">Was in phase</th>
          <th scope="col">
            <span class="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((job) => {
          const ended = isJobTerminal(job.status);
          return (
            <tr key={job.jobId} data-job={job.name}>
              <td>
                <input
                  type="checkbox"
                  aria-label={`Select ${job.name}`}
                  checked={selected.has(job.jobId)}
                  disabled={ended && !selected.has(job.jobId)}
                  onChange={() => onToggle(job)}
                />
              </td>
              <td>
                <a
                  href={`#/batches/${encodeURIComponent(batchId)}/jobs/${encodeURIComponent(job.jobId)}`}
                >
                  {job.name}
                </a>
              </td>
              <td>
                <StatusBadge status={job.status} />
              </td>
              <td>{job.phase ?? "—"}</td>
              <td>
                {job.progress && !ended ? (
                  job.progress.total ? (
                    <Progress
                      value={job.progress.done}
                      max={job.progress.total}
                      label={`${job.name} in ${job.phase}`}
                    />
                  ) : (
                    `${job.progress.done} done`
                  )
                ) : (
                  "—"
                )}
              </td>
              <td>{job.startedAt ? duration(job.startedAt, job.endedAt) : "—"}</td>
              <td>{job.wasInPhase ?? "—"}</td>
              <td>
                <button
                  type="button"
                  class="danger small"
                  disabled={ended}
                  aria-label={`Cancel ${job.name}`}
                  onClick={() => onCancel(job)}
                >
                  Cancel
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** Choose jobs by what they are; the dialog previews them (dry run) before anything is cancelled. */
function FilterCancel({
  disabled,
  onPreview,
}: {
  disabled: boolean;
  onPreview: (filter: JobFilter) => void;
}) {
  const [error, setError] = useState<string>();
  const choose = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const status = String(form.get("status") ?? "");
    const phase = String(form.get("phase") ?? "").trim();
    const name = String(form.get("name") ?? "").trim();
    const filter: JobFilter = {
      ...(status ? { status: [status as "queued"] } : {}),
      ...(phase ? { phase } : {}),
      ...(name ? { name } : {}),
    };
    if (Object.keys(filter).length === 0)
      return setError("Say which jobs: a status, a phase or a name pattern.");
    setError(undefined);
    onPreview(filter);
  };
  return (
    <details class="filter">
      <summary>Cancel jobs by filter</summary>
      <form onSubmit={choose} class="fields">
        <div>
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status">
            <option value="">any</option>
            <option value="queued">queued</option>
            <option value="running">running</option>
          </select>
        </div>
        <div>
          <label for="filter-phase">Phase</label>
          <input id="filter-phase" name="phase" placeholder="Digest" />
        </div>
        <div>
          <label for="filter-name">Name pattern (* and ?)</label>
          <input id="filter-name" name="name" placeholder="RY*" />
        </div>
        <div class="actions">
          <button type="submit" class="secondary" disabled={disabled}>
            Preview
          </button>
        </div>
      </form>
      <ErrorNote message={error} />
    </details>
  );
}

/** The batch's execution, read until it has ended (or the batch ended without one). */
function ExecutionSection({
  executionArn,
  batchEnded,
}: {
  executionArn: string;
  batchEnded: boolean;
}) {
  const execution = usePolling(
    () => getExecution(executionArn),
    1500,
    [executionArn],
    (read) => read.status !== "RUNNING" && (read.status !== "NOT_STARTED" || batchEnded),
  );
  return (
    <section aria-labelledby="execution-title">
      <h2 id="execution-title">Execution</h2>
      <ErrorNote message={execution.error} />
      {execution.data ? (
        <ExecutionGraph execution={execution.data} batchEnded={batchEnded} />
      ) : (
        <p aria-busy="true">Loading the execution…</p>
      )}
    </section>
  );
}

function CancelsSection({ batchId, audit }: { batchId: string; audit: BatchView["audit"] }) {
  const [open, setOpen] = useState<string>();
  return (
    <section aria-labelledby="cancels-title">
      <h2 id="cancels-title">Cancels and audit trail</h2>
      {audit.length === 0 ? (
        <p>Nothing has been cancelled.</p>
      ) : (
        <ol class="audit">
          {audit.map((entry) => {
            const cancellationId = entry.detail?.cancellationId as string | undefined;
            return (
              <li key={`${entry.at}-${entry.action}`}>
                <strong>{entry.action}</strong> by {entry.by}
                {entry.claimedBy ? ` (${entry.claimedBy})` : ""} at {when(entry.at)}
                {entry.reason ? `: “${entry.reason}”` : ""}
                {cancellationId && (
                  <>
                    {" "}
                    <button
                      type="button"
                      class="link"
                      aria-expanded={open === cancellationId}
                      onClick={() => setOpen(open === cancellationId ? undefined : cancellationId)}
                    >
                      {open === cancellationId ? "Hide receipt" : "Receipt"}
                    </button>
                    {open === cancellationId && (
                      <ReceiptView batchId={batchId} cancellationId={cancellationId} />
                    )}
                  </>
                )}
              </li>
            );
          })}
        </ol>
      )}
    </section>
  );
}

/** A cancel's receipt, a page of jobs at a time, read until every job on the page has settled. */
function ReceiptView({ batchId, cancellationId }: { batchId: string; cancellationId: string }) {
  const pages = useCursorPages();
  const cursor = pages.cursor;
  const receipt = usePolling<Receipt>(
    () => api.getCancellation(batchId, cancellationId, cursor ? { cursor } : {}),
    2000,
    [cancellationId, cursor],
    (page) => page.pending === 0,
  );
  if (!receipt.data) return <ErrorNote message={receipt.error} />;
  const { jobs, pending, nextCursor } = receipt.data;
  return (
    <div class="receipt">
      <table>
        <caption>
          Receipt {cancellationId}
          {pages.page > 1 || nextCursor ? `, page ${pages.page}` : ""}:{" "}
          {pending > 0 ? `${pending} still settling` : "settled"}
        </caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Outcome</th>
          </tr>
        </thead>
        <tbody>
          {jobs.map((job) => (
            <tr key={job.jobId}>
              <td>{job.name}</td>
              <td>{OUTCOMES[job.outcome] ?? job.outcome}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <CursorPager
        pages={pages}
        nextCursor={nextCursor}
        loading={receipt.stale}
        label={`Pages of receipt ${cancellationId}`}
      />
    </div>
  );
}

function ResultsSection({ batchId }: { batchId: string }) {
  const results = usePolling(() => api.getResults(batchId, { limit: 1, items: 0 }), 3000, [
    batchId,
  ]);
  const summary = results.data?.partialResults;
  const shown = summary
    ? Object.entries(summary).filter(
        ([key, value]) => key !== "processedJobs" && typeof value !== "object",
      )
    : [];
  return (
    <section aria-labelledby="results-title">
      <h2 id="results-title">Results so far</h2>
      <ErrorNote message={results.error ? messageOf(results.error) : undefined} />
      {results.data && (
        <>
          <p>
            {results.data.jobsProcessed} job{results.data.jobsProcessed === 1 ? "" : "s"} processed
            {results.data.final ? " (final)" : " so far"}.{" "}
            <a href={resultsDownloadUrl(batchId)} download>
              Download results (JSON)
            </a>
          </p>
          {shown.length > 0 && (
            <dl class="summary">
              {shown.map(([key, value]) => (
                <div key={key}>
                  <dt>{key}</dt>
                  <dd>{String(value)}</dd>
                </div>
              ))}
            </dl>
          )}
        </>
      )}
    </section>
  );
}
