import { useState } from "preact/hooks";
import type { BatchList } from "../../client/stepbatch-client.ts";
import { BATCH_STATUSES, type BatchStatus } from "../../functions/core/model.ts";
import { api } from "../api.ts";
import {
  CursorPager,
  ErrorNote,
  Progress,
  StatusBadge,
  useCursorPages,
  when,
} from "../components/common.tsx";
import { SubmitDialog } from "../components/submit-dialog.tsx";
import { usePolling } from "../hooks.ts";

type Filter = BatchStatus | "";
const PAGE = 50;

function sourceOf(source: BatchList["batches"][number]["source"]): string {
  return source.kind === "schedule"
    ? `schedule${source.scheduleName ? ` ${source.scheduleName}` : ""}`
    : "API";
}

/** Every batch, newest first, a page at a time, following their status live. */
export function BatchesPage() {
  const [status, setStatus] = useState<Filter>("");
  const pages = useCursorPages();
  const cursor = pages.cursor;
  const [submitting, setSubmitting] = useState(false);
  const { data, stale, error } = usePolling(
    () =>
      api.listBatches({
        ...(status ? { status } : {}),
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      }),
    2000,
    [status, cursor],
  );

  return (
    <main>
      <div class="page-head">
        <h1>Batches</h1>
        <button type="button" onClick={() => setSubmitting(true)}>
          Submit a batch
        </button>
      </div>
      <div class="toolbar">
        <label for="status-filter">Status</label>
        <select
          id="status-filter"
          value={status}
          onChange={(event) => {
            setStatus((event.currentTarget as HTMLSelectElement).value as Filter);
            pages.reset();
          }}
        >
          <option value="">all</option>
          {BATCH_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.replace(/_/g, " ")}
            </option>
          ))}
        </select>
      </div>
      <ErrorNote message={error} />
      {!data || (stale && data.batches.length === 0) ? (
        <p aria-busy="true">Loading…</p>
      ) : data.batches.length === 0 ? (
        <p>
          {status
            ? `No batch is ${status.replace(/_/g, " ")}.`
            : "No batches yet. Submit one to see it here."}
        </p>
      ) : (
        <table class="batches" aria-busy={stale}>
          <caption class="visually-hidden">Batches, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Batch</th>
              <th scope="col">Status</th>
              <th scope="col">Jobs ended</th>
              <th scope="col">Source</th>
              <th scope="col">Submitted</th>
              <th scope="col">Ended</th>
            </tr>
          </thead>
          <tbody>
            {data.batches.map((batch) => (
              <tr key={batch.batchId} data-batch={batch.batchId}>
                <td>
                  <a href={`#/batches/${encodeURIComponent(batch.batchId)}`}>{batch.name}</a>
                  <br />
                  <code>{batch.batchId}</code>
                </td>
                <td>
                  <StatusBadge status={batch.status} />
                </td>
                <td>
                  {batch.progress ? (
                    <Progress
                      value={batch.progress.total - batch.progress.queued - batch.progress.running}
                      max={batch.progress.total}
                      label={`Jobs ended of ${batch.name}`}
                    />
                  ) : (
                    batch.total
                  )}
                </td>
                <td>{sourceOf(batch.source)}</td>
                <td>{when(batch.createdAt)}</td>
                <td>{when(batch.endedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <CursorPager
        pages={pages}
        nextCursor={data?.nextCursor}
        loading={stale}
        label="Pages of batches"
        backText="Newer"
        nextText="Older"
      />
      {submitting && <SubmitDialog onClose={() => setSubmitting(false)} />}
    </main>
  );
}
