import Table from "cli-table3";
import type {
  BatchCancelResponse,
  BatchList,
  BatchView,
  Consolidated,
  JobView,
  ResultsView,
  SubmitResponse,
  SubsetCancelResponse,
} from "../client/stepbatch-client";

/** Human renderings of the API's answers. `--json` prints the answers as they are instead. */

const table = (head: string[]) => new Table({ head, style: { head: [], border: [] } });

export function submitted(answer: SubmitResponse): string {
  return [
    `Batch ${answer.batchId} ${answer.idempotentReplay ? "already existed for this Idempotency-Key" : "started"}: ${answer.total} job${answer.total === 1 ? "" : "s"}, ${answer.concurrency} at a time ("${answer.name}")`,
    `  execution  ${answer.executionArn}`,
    `  watch it   stepbatch watch ${answer.batchId}`,
    `  cancel it  stepbatch cancel ${answer.batchId} --reason "..."`,
  ].join("\n");
}

export function progressLine(view: BatchView): string {
  const p = view.progress;
  const running = view.current
    .map((c) => `${c.name} (${c.phase ?? "?"}${c.inCommit ? ", committing" : ""})`)
    .join(", ");
  return `${p.percent.toFixed(1).padStart(5)}% ${view.status.padEnd(9)} ${p.succeeded} succeeded, ${p.failed} failed, ${p.cancelled} cancelled of ${p.total}${running ? ` | running: ${running}` : ""}`;
}

export function batchStatus(view: BatchView): string {
  const lines = [
    `Batch ${view.batchId} "${view.name}": ${view.status}`,
    `  ${progressLine(view).trim()}`,
    `  created ${view.createdAt}${view.endedAt ? `, ended ${view.endedAt}` : ""}`,
  ];
  if (view.cancel)
    lines.push(
      `  cancelled by ${view.cancel.by} at ${view.cancel.requestedAt}: ${view.cancel.reason}`,
    );
  const jobs = table(["job", "name", "status", "phase"]);
  for (const job of view.jobs)
    jobs.push([
      job.jobId,
      job.name,
      job.status,
      job.wasInPhase ? `stopped in ${job.wasInPhase}` : (job.phase ?? ""),
    ]);
  return `${lines.join("\n")}\n${jobs.toString()}`;
}

export function batchList(list: BatchList): string {
  if (list.batches.length === 0) return "No batches.";
  const rows = table(["batch", "name", "status", "jobs", "created"]);
  for (const b of list.batches)
    rows.push([b.batchId, b.name, b.status, String(b.total), b.createdAt]);
  return `${rows.toString()}${list.nextCursor ? `\nMore: --cursor ${list.nextCursor}` : ""}`;
}

export function results(
  view: Pick<ResultsView, "jobsProcessed" | "partialResults" | "hasResults"> & {
    batchId?: string;
    final?: boolean;
  },
): string {
  const r = view.partialResults;
  const lines = [
    `${view.final === false ? "Results so far" : "Results"}${view.batchId ? ` of ${view.batchId}` : ""}: ${view.jobsProcessed} job${view.jobsProcessed === 1 ? "" : "s"} with results, ${r.pagesProcessed} pages, average score ${r.averageScore ?? "n/a"}`,
  ];
  if (r.totalDuration !== null)
    lines.push(`  from ${r.startTime} to ${r.endTime} (${(r.totalDuration / 1000).toFixed(1)} s)`);
  if (r.jobs.length > 0) {
    const rows = table(["job", "name", "phases", "pages", "avg score"]);
    for (const job of r.jobs)
      rows.push([
        job.jobId,
        job.name,
        job.phases
          .map((p) => `${p.phase}${p.status === "complete" ? "" : ` (${p.status})`}`)
          .join(", "),
        String(job.pagesProcessed),
        String(job.averageScore ?? ""),
      ]);
    lines.push(rows.toString());
  }
  for (const error of r.errors)
    lines.push(`  error in ${error.name} (${error.jobId}), ${error.phase}: ${error.message}`);
  return lines.join("\n");
}

export function batchCancelled(answer: BatchCancelResponse): string {
  const lines = [answer.message];
  if (answer.jobs.length > 0) lines.push(`  cancelled: ${answer.jobs.join(", ")}`);
  if (answer.inCommit.length > 0)
    lines.push(`  completing their final commit: ${answer.inCommit.join(", ")}`);
  if (answer.stopping?.length) {
    lines.push(
      `  stopping and saving their partial output: ${answer.stopping.map((s) => `${s.name} (${s.phase})`).join(", ")}`,
    );
  }
  if (answer.manifest) lines.push(`  manifest: ${answer.manifest}`);
  lines.push(results(answer));
  return lines.join("\n");
}

export function subsetCancelled(answer: SubsetCancelResponse): string {
  const rows = table(["job", "code", "outcome", ""]);
  for (const [item, outcome] of Object.entries(answer.outcomes))
    rows.push([item, String(outcome.code), outcome.outcome, outcome.text]);
  return `${answer.message} (result ${answer.result}: ${["none cancelled", "all cancelled", "some cancelled"][answer.result]})\n${rows.toString()}`;
}

export function job(view: JobView): string {
  const lines = [
    `Job ${view.jobId} "${view.name}" of ${view.batchId}: ${view.status}${view.wasInPhase ? ` (stopped in ${view.wasInPhase})` : ""}`,
  ];
  const rows = table(["phase", "status", "attempt", "pages", "started", "ended"]);
  for (const p of view.phases)
    rows.push([
      p.name,
      p.status,
      String(p.attempt),
      String(p.pages ?? ""),
      p.startedAt,
      p.endedAt ?? "",
    ]);
  if (view.phases.length > 0) lines.push(rows.toString());
  if (view.result)
    lines.push(
      `  result: ${view.result.pagesProcessed} pages, average score ${view.result.averageScore ?? "n/a"}`,
    );
  if (view.error) lines.push(`  error: ${view.error.name}: ${view.error.message}`);
  return lines.join("\n");
}

export function consolidated(answer: Consolidated): string {
  return `Results of ${answer.batchId} (${answer.status}) written to ${answer.uri}: ${answer.jobsProcessed} jobs, ${answer.partialResults.pagesProcessed} pages`;
}
