import Table from "cli-table3";
import type {
  BatchCancelResponse,
  BatchList,
  BatchView,
  Consolidated,
  JobOutputView,
  JobView,
  Receipt,
  Resumed,
  SelectionPreview,
  SubmitResponse,
  SubsetCancelResponse,
} from "../client/stepbatch-client.ts";

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
  if (view.quiescedAt) lines.push(`  quiesced at ${view.quiescedAt}: nothing of it runs any more`);
  if (view.runs.length > 1)
    for (const run of view.runs)
      lines.push(
        `  run ${run.run}: ${run.jobs} job${run.jobs === 1 ? "" : "s"}, started ${run.startedAt}${run.by ? ` by ${run.by}` : ""}${run.status ? `, ended ${run.status}` : ""}`,
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

/** Fields of `partialResults` that are not the pipeline's own summary fields. */
const RESULT_FIELDS = new Set([
  "processedJobs",
  "startTime",
  "endTime",
  "totalDuration",
  "totalDurationText",
  "items",
  "errors",
]);

interface ResultLine {
  readonly jobId: string;
  readonly name: string;
  readonly status?: string;
  readonly numbers?: Readonly<Record<string, number>>;
  readonly phases?: readonly { phase: string; status: string; itemCount: number }[];
}

export function results(view: {
  batchId?: string;
  final?: boolean;
  jobsProcessed: number;
  nextCursor?: string | null;
  partialResults: Readonly<Record<string, unknown>> & {
    processedJobs?: readonly ResultLine[];
    totalDurationText?: string | null;
    startTime?: string | null;
    endTime?: string | null;
    items?: number;
    errors?: readonly { jobId: string; name: string; phase: string; message: string }[];
  };
}): string {
  const r = view.partialResults;
  const shown = r.processedJobs ?? [];
  const fields = Object.entries(r)
    .filter(([key]) => !RESULT_FIELDS.has(key))
    .map(([key, value]) => `${key} ${value ?? "n/a"}`);
  const lines = [
    `${view.final === false ? "Results so far" : "Results"}${view.batchId ? ` of ${view.batchId}` : ""}: ${view.jobsProcessed} job${view.jobsProcessed === 1 ? "" : "s"} with results, ${r.items ?? 0} items${fields.length > 0 ? `; ${fields.join(", ")}` : ""}`,
  ];
  if (r.totalDurationText)
    lines.push(`  from ${r.startTime} to ${r.endTime ?? "now"} (${r.totalDurationText})`);
  if (shown.length > 0) {
    lines.push(
      `  showing ${shown.length} of ${view.jobsProcessed} job${view.jobsProcessed === 1 ? "" : "s"} with results${view.nextCursor ? ` (more: --cursor ${view.nextCursor})` : ""}`,
    );
    const rows = table(["job", "name", "status", "phases", "items"]);
    for (const job of shown)
      rows.push([
        job.jobId,
        job.name,
        job.status ?? "",
        (job.phases ?? [])
          .map((p) => `${p.phase}${p.status === "complete" ? "" : ` (${p.status})`}`)
          .join(", "),
        String(job.phases?.reduce((total, p) => total + p.itemCount, 0) ?? job.numbers?.items ?? 0),
      ]);
    lines.push(rows.toString());
  }
  for (const error of r.errors ?? [])
    lines.push(`  error in ${error.name} (${error.jobId}), ${error.phase}: ${error.message}`);
  return lines.join("\n");
}

/** One job's outputs: each phase's status, output and first items, and its checkpoint. */
export function jobOutput(view: JobOutputView): string {
  const lines = [
    `Output of job ${view.jobId} "${view.name}" of ${view.batchId}: ${view.status}${view.wasInPhase ? ` (stopped in ${view.wasInPhase})` : ""}`,
  ];
  for (const phase of view.phases) {
    lines.push(
      `${phase.phase}: ${phase.status}, attempt ${phase.attempt}, ${phase.itemCount} item${phase.itemCount === 1 ? "" : "s"}${phase.error ? ` (error: ${phase.error.message})` : ""}`,
      `  output: ${JSON.stringify(phase.output)}`,
    );
    for (const item of phase.items) lines.push(`  - ${JSON.stringify(item)}`);
    if (phase.itemsNext !== undefined)
      lines.push(`  ... more items: --phase ${phase.phase} --items-offset ${phase.itemsNext}`);
    if (phase.checkpoint)
      lines.push(
        `  checkpoint (${phase.checkpoint.savedAt}): ${JSON.stringify(phase.checkpoint.checkpoint)}`,
      );
  }
  if (view.error) lines.push(`  error: ${view.error.name}: ${view.error.message}`);
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
  if (answer.stoppingAfterPhase?.length)
    lines.push(
      `  stopping once their phase ends: ${answer.stoppingAfterPhase.map((s) => `${s.name} (${s.phase})`).join(", ")}`,
    );
  if (answer.draining?.length)
    lines.push(
      `  finishing all their phases: ${answer.draining.map((s) => `${s.name} (${s.phase})`).join(", ")}`,
    );
  if (answer.manifest) lines.push(`  manifest: ${answer.manifest}`);
  if (answer.cancellationId)
    lines.push(`  receipt: stepbatch receipt ${answer.batchId} ${answer.cancellationId}`);
  lines.push(results(answer));
  return lines.join("\n");
}

export function selectionPreview(preview: SelectionPreview): string {
  const rows = table(["job", "status", "phase"]);
  for (const job of preview.jobs)
    rows.push([`${job.name} (${job.jobId})`, job.status, job.phase ?? ""]);
  return [
    `Dry run: ${preview.count} job${preview.count === 1 ? "" : "s"} of ${preview.batchId} match; nothing was cancelled`,
    rows.toString(),
    `  cancel exactly these: stepbatch cancel ${preview.batchId} --confirm ${preview.confirmToken}   (until ${preview.expiresAt})`,
  ].join("\n");
}

export function resumed(answer: Resumed): string {
  const rows = table(["job", "starts again at", "not run again"]);
  for (const job of answer.jobs)
    rows.push([
      `${job.name} (${job.jobId})`,
      job.stoppedIn ?? "its first phase",
      job.phasesDone.join(", "),
    ]);
  return [answer.message, rows.toString(), `  follow it: stepbatch watch ${answer.batchId}`].join(
    "\n",
  );
}

export function receipt(answer: Receipt): string {
  const rows = table(["job", "outcome", "at", "phase"]);
  for (const job of answer.jobs)
    rows.push([
      `${job.name} (${job.jobId})`,
      job.resumedInRun ? `${job.outcome} (resumed in run ${job.resumedInRun})` : job.outcome,
      job.at ?? "",
      job.phase ?? "",
    ]);
  const counts = Object.entries(answer.counts)
    .map(([outcome, n]) => `${n} ${outcome}`)
    .join(", ");
  return [
    `Cancel ${answer.cancellationId} of ${answer.batchId} (${answer.scope}, mode ${answer.mode}) by ${answer.by} at ${answer.requestedAt}: ${answer.reason}`,
    `  ${counts || "no jobs"}${answer.pending > 0 ? `; ${answer.pending} still settling` : ""}`,
    rows.toString(),
    ...(answer.nextCursor ? [`  more: --cursor ${answer.nextCursor}`] : []),
  ].join("\n");
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
  const rows = table(["phase", "status", "attempt", "items", "started", "ended"]);
  for (const p of view.phases)
    rows.push([
      p.name,
      p.status,
      String(p.attempt),
      String(p.items ?? ""),
      p.startedAt,
      p.endedAt ?? "",
    ]);
  if (view.phases.length > 0) lines.push(rows.toString());
  if (view.progress && view.status === "running")
    lines.push(
      `  progress in ${view.progress.phase}: ${view.progress.done}${view.progress.total !== undefined ? ` of ${view.progress.total}` : ""}`,
    );
  if (view.error) lines.push(`  error: ${view.error.name}: ${view.error.message}`);
  return lines.join("\n");
}

export function consolidated(answer: Consolidated): string {
  return `Results of ${answer.batchId} (${answer.status}) written to ${answer.uri}: ${answer.jobsWritten} jobs with results, ${answer.partialResults.items} items`;
}
