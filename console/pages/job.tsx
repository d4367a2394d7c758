import type { JobOutputView, JobView } from "../../client/stepbatch-client.ts";
import { api } from "../api.ts";
import { duration, ErrorNote, StatusBadge, when } from "../components/common.tsx";
import { usePolling } from "../hooks.ts";

type PhaseRun = JobView["phases"][number];

/** Each phase as a bar on the job's own time line, from its first start to its end (or now). */
function Timeline({ job }: { job: JobView }) {
  if (job.phases.length === 0) return <p>No phase has started yet.</p>;
  const start = Math.min(...job.phases.map((p) => Date.parse(p.startedAt)));
  const end = Math.max(...job.phases.map((p) => (p.endedAt ? Date.parse(p.endedAt) : Date.now())));
  const span = Math.max(end - start, 1);
  const at = (phase: PhaseRun) => ((Date.parse(phase.startedAt) - start) / span) * 100;
  const width = (phase: PhaseRun) =>
    Math.max(
      (((phase.endedAt ? Date.parse(phase.endedAt) : Date.now()) - Date.parse(phase.startedAt)) /
        span) *
        100,
      0.5,
    );
  return (
    <ol class="timeline">
      {job.phases.map((phase) => (
        <li key={phase.name} data-phase={phase.name}>
          <span class="timeline__name">{phase.name}</span>
          <span class="timeline__track">
            <span
              class={`timeline__bar timeline__bar--${phase.status}`}
              style={{ marginLeft: `${at(phase)}%`, width: `${width(phase)}%` }}
            />
          </span>
          <span class="timeline__text">
            <StatusBadge status={phase.status} /> {duration(phase.startedAt, phase.endedAt)}
            {phase.attempt > 1 ? ` · attempt ${phase.attempt}` : ""}
            {phase.error ? ` · ${phase.error}` : ""}
          </span>
        </li>
      ))}
    </ol>
  );
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

function Outputs({ output }: { output: JobOutputView }) {
  return (
    <>
      {output.phases.map((phase) => (
        <section key={phase.phase} aria-labelledby={`output-${phase.phase}`} class="phase-output">
          <h3 id={`output-${phase.phase}`}>
            {phase.phase} <StatusBadge status={phase.status} />
          </h3>
          {phase.error && <ErrorNote message={`${phase.error.name}: ${phase.error.message}`} />}
          <h4>Output</h4>
          <pre>
            {phase.output === null || phase.output === undefined
              ? "none saved"
              : json(phase.output)}
          </pre>
          <h4>
            Items ({phase.itemCount}
            {phase.items.length < phase.itemCount ? `, first ${phase.items.length} shown` : ""})
          </h4>
          {phase.items.length > 0 ? (
            <pre>{phase.items.map((item) => JSON.stringify(item)).join("\n")}</pre>
          ) : (
            <p>none</p>
          )}
          <h4>Checkpoint</h4>
          <pre>{phase.checkpoint ? json(phase.checkpoint) : "none"}</pre>
        </section>
      ))}
    </>
  );
}

/** One job: its phases on a time line, what each saved (output, items, checkpoint), its error. */
export function JobPage({ batchId, jobId }: { batchId: string; jobId: string }) {
  const job = usePolling(() => api.getJob(batchId, jobId), 1000, [batchId, jobId]);
  const output = usePolling(() => api.getJobOutput(batchId, jobId, { items: 20 }), 3000, [
    batchId,
    jobId,
  ]);
  const view = job.data;
  return (
    <main>
      <p>
        <a href={`#/batches/${encodeURIComponent(batchId)}`}>← Batch {batchId}</a>
      </p>
      <ErrorNote message={job.error} />
      {!view ? (
        !job.error && <p aria-busy="true">Loading job {jobId}…</p>
      ) : (
        <>
          <h1>
            {view.name} <StatusBadge status={view.status} />
          </h1>
          <p class="meta">
            <code>{view.jobId}</code> · {view.phase ? `phase ${view.phase}` : "not started"}
            {view.wasInPhase ? ` · was in ${view.wasInPhase} when cancelled` : ""} · started{" "}
            {when(view.startedAt)}
            {view.endedAt ? ` · ended ${when(view.endedAt)}` : ""}
          </p>
          {view.error && (
            <section aria-labelledby="error-title" class="job-error">
              <h2 id="error-title">Error</h2>
              <pre role="alert">{json(view.error)}</pre>
            </section>
          )}
          {view.cancel && (
            <p class="notice">
              Cancelled by {view.cancel.by}
              {view.cancel.reason ? `: “${view.cancel.reason}”` : ""}
            </p>
          )}
          <section aria-labelledby="timeline-title">
            <h2 id="timeline-title">Phases</h2>
            <Timeline job={view} />
          </section>
          <section aria-labelledby="input-title">
            <h2 id="input-title">Input</h2>
            <pre>{json(view.input)}</pre>
          </section>
          <section aria-labelledby="outputs-title">
            <h2 id="outputs-title">Outputs, items and checkpoints</h2>
            <ErrorNote message={output.error} />
            {output.data ? <Outputs output={output.data} /> : <p aria-busy="true">Loading…</p>}
          </section>
        </>
      )}
    </main>
  );
}
