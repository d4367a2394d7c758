import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { z } from "zod";
import {
  type CancelOptions,
  StepbatchApiError,
  type StepbatchClient,
  StepbatchTimeoutError,
} from "../client/stepbatch-client.ts";
import { BATCH_STATUSES, JOB_STATUSES, STOP_MODES } from "../functions/core/model.ts";
import { type CancelTarget, readBackCancel } from "./cancel-readback.ts";

const jobSchema = z.union([
  z.string().describe('a job name, e.g. "RY.TO"'),
  z.object({
    name: z.string(),
    input: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "the job's input: a JSON object whose fields the pipeline defines (a bad one is refused, naming the field)",
      ),
  }),
]);

/** How many items a results tool shows per phase: bounded, so an answer never floods the assistant. */
const itemsCount = (description: string) =>
  z.number().int().min(0).max(100).optional().describe(description);

type ToolAnswer = { content: { type: "text"; text: string }[]; isError?: boolean };

const reply = (success: boolean, body: Record<string, unknown>): ToolAnswer => ({
  content: [{ type: "text", text: JSON.stringify({ success, ...body }, null, 2) }],
  ...(success ? {} : { isError: true }),
});
const ok = (body: Record<string, unknown>): ToolAnswer => reply(true, body);

/** Errors come back as `success: false` with one clear message, e.g. "Job X not found". */
function failed(error: unknown): ToolAnswer {
  const message = error instanceof StepbatchApiError ? error.message : (error as Error).message;
  const extra =
    error instanceof StepbatchApiError ? { status: error.status, code: error.code } : {};
  return reply(false, { message, ...extra });
}

async function answer(
  run: () => Promise<Record<string, unknown> | ToolAnswer>,
): Promise<ToolAnswer> {
  try {
    const body = await run();
    return isToolAnswer(body) ? body : ok(body);
  } catch (error) {
    return failed(error);
  }
}

const isToolAnswer = (body: Record<string, unknown> | ToolAnswer): body is ToolAnswer =>
  Array.isArray(body.content);

/** The stepbatch MCP server: nine tools over the same typed client the CLI uses. */
export function createMcpServer(client: StepbatchClient): McpServer {
  const server = new McpServer(
    { name: "stepbatch", version: "0.1.0" },
    {
      instructions:
        "stepbatch runs batches of long jobs on AWS Step Functions and stops them safely. Start with list_bulk_jobs or start_bulk_job; follow a batch with check_job_status; stop it with cancel_job, which returns the results collected so far.",
    },
  );

  server.registerTool(
    "start_bulk_job",
    {
      title: "Start a batch",
      description:
        "Start a batch of jobs (at most 1,000; names unique). Returns the batchId. Next: call check_job_status with it to follow progress; cancel_job stops it.",
      inputSchema: {
        jobs: z.array(jobSchema).min(1).describe("the jobs: names or {name, input}"),
        name: z.string().optional().describe("a name for the batch"),
        concurrency: z
          .number()
          .int()
          .min(1)
          .max(40)
          .optional()
          .describe("jobs running at once (default 10)"),
      },
    },
    ({ jobs, name, concurrency }) =>
      answer(async () => {
        const submitted = await client.submit({
          jobs,
          ...(name ? { name } : {}),
          ...(concurrency ? { concurrency } : {}),
        });
        return {
          message: `Batch ${submitted.batchId} started with ${submitted.total} jobs`,
          ...submitted,
        };
      }),
  );

  server.registerTool(
    "check_job_status",
    {
      title: "Check a batch's status",
      description:
        "Status of a batch: progress (counts and percent, running jobs counted by their phases' progress), the jobs and phases running now with their progress, the first 100 jobs' states, and the cancel audit. Call it again to follow a running batch; when it has ended, call get_bulk_job_results.",
      inputSchema: {
        batchId: z.string().describe("the batchId from start_bulk_job or list_bulk_jobs"),
      },
    },
    ({ batchId }) =>
      answer(async () => {
        const view = await client.getBatch(batchId);
        return {
          message: `Batch ${batchId} is ${view.status}: ${view.progress.percent}% done`,
          ...view,
        };
      }),
  );

  /** The paging inputs of the results tools: bounded, so an answer never floods the assistant. */
  const resultsPage = {
    batchId: z.string(),
    limit: z
      .number()
      .int()
      .min(1)
      .max(50)
      .optional()
      .describe("jobs per page (default 10, at most 50)"),
    cursor: z.string().optional().describe("nextCursor of the previous page, for the next jobs"),
    items: itemsCount("items shown per phase of each job (default 10, at most 100)"),
  };
  const pageOfResults = async (
    batchId: string,
    limit: number | undefined,
    cursor: string | undefined,
    items: number | undefined,
  ) => {
    const view = await client.getResults(batchId, {
      limit: limit ?? 10,
      items: items ?? 10,
      ...(cursor ? { cursor } : {}),
    });
    const shown = view.partialResults.processedJobs.length;
    return {
      message: `${view.jobsProcessed} job(s) with results in batch ${batchId} (${view.status}); this page shows ${shown}${view.nextCursor ? "; pass nextCursor for more" : ""}`,
      ...view,
    };
  };

  server.registerTool(
    "get_bulk_job_results",
    {
      title: "Get a batch's results",
      description:
        "The results of a batch: jobsProcessed, hasResults, and partialResults with the pipeline's summary fields, errors, and processedJobs (each job's phases with their output and first items). Paged: pass nextCursor for more jobs; a phase with itemsNext has more items (get_job_output). Final once the batch has ended; partial before.",
      inputSchema: resultsPage,
    },
    ({ batchId, limit, cursor, items }) =>
      answer(() => pageOfResults(batchId, limit, cursor, items)),
  );

  server.registerTool(
    "get_job_output",
    {
      title: "Get one job's outputs and items",
      description:
        "One job's phases: each one's status (complete, partial, error), output, items (from itemsOffset, at most items) and last checkpoint. Use it for a job named in get_bulk_job_results, or to page through a phase's items with its itemsNext.",
      inputSchema: {
        batchId: z.string(),
        jobId: z.string().describe("the job's id, e.g. job-00001"),
        phase: z.string().optional().describe("only this phase"),
        itemsOffset: z.number().int().min(0).optional(),
        items: itemsCount("at most this many (default 20, at most 100)"),
      },
    },
    ({ batchId, jobId, phase, itemsOffset, items }) =>
      answer(async () => {
        const view = await client.getJobOutput(batchId, jobId, {
          items: items ?? 20,
          ...(phase ? { phase } : {}),
          ...(itemsOffset !== undefined ? { itemsOffset } : {}),
        });
        return { message: `Job ${jobId} (${view.name}) is ${view.status}`, ...view };
      }),
  );

  /** What a cancel of some jobs or one job reports beside its outcomes: the results kept so far. */
  const resultsSoFar = async (batchId: string) => {
    const { jobsProcessed, partialResults, hasResults } = await client.getResults(batchId, {
      limit: 10,
      items: 5,
    });
    return { jobsProcessed, partialResults, hasResults };
  };

  /** Sends the cancel request (and nothing else) and shapes its answer. */
  const sendCancel = async (
    target: CancelTarget,
    options: CancelOptions,
  ): Promise<Record<string, unknown>> => {
    if (target.scope === "job") {
      const one = await client.cancelJob(target.batchId, target.jobId, options);
      // As the batch cancel does: name the phase that is stopping and saving its partial output.
      const stopping =
        one.wasInPhase && !one.alreadyCancelled
          ? [{ jobId: one.jobId, name: one.name, phase: one.wasInPhase }]
          : [];
      return {
        message:
          stopping.length > 0
            ? `${one.message}; its ${one.wasInPhase} phase is stopping and saving its partial output (get_job_output shows it within about a second)`
            : one.message,
        status: one.status,
        wasInPhase: one.wasInPhase,
        stopping,
        ...(one.cancellationId ? { cancellationId: one.cancellationId } : {}),
      };
    }
    if (target.scope === "subset") {
      const subset = await client.cancelJobs(target.batchId, target.jobs, options);
      return {
        message: subset.message,
        status: ["none_cancelled", "cancelled", "partially_cancelled"][subset.result],
        result: subset.result,
        outcomes: subset.outcomes,
        ...(subset.cancellationId ? { cancellationId: subset.cancellationId } : {}),
      };
    }
    return { ...(await client.cancelBatch(target.batchId, options)) };
  };

  server.registerTool(
    "cancel_job",
    {
      title: "Cancel a batch, some jobs, or one job",
      description:
        "Stop work safely. With only batchId: cancel the whole batch (running phases stop within about a second; jobs in their final commit complete). With jobs: cancel those jobs (ids or names) and get an outcome per job. With jobId: cancel one job. mode chooses how running work stops: now (default), drain (running jobs finish all their phases) or after-phase (running jobs finish the phase they are in); queued jobs never start in any mode. To cancel jobs by what they are (status, phase, name pattern, an input field), ALWAYS preview first: call with filter and dryRun true, show the user the count and the jobs, and only after they agree call again with the confirmToken it gave (it cancels exactly that snapshot, and says which of those jobs ended in between). Returns a cancellationId (call get_cancel_receipt with it to follow each job's outcome) and the results kept so far; call consolidate_temporary_results to keep them permanently. If the cancel request times out, the batch is read back: timedOut is true, success says whether the cancel shows as applied, and message says what the batch shows.",
      inputSchema: {
        batchId: z.string(),
        jobs: z.array(z.string()).optional().describe("job ids or names to cancel (a subset)"),
        jobId: z.string().optional().describe("one job id to cancel (not with jobs)"),
        reason: z.string().optional().describe("why; kept in the audit trail"),
        filter: z
          .object({
            status: z.array(z.enum(JOB_STATUSES)).optional(),
            phase: z.string().optional(),
            name: z.string().optional().describe("a name pattern: * any characters, ? one"),
            input: z
              .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
              .optional()
              .describe("input fields and the values they must have"),
          })
          .optional()
          .describe("choose jobs by what they are; preview with dryRun first"),
        dryRun: z
          .boolean()
          .optional()
          .describe("with filter: cancel nothing, answer the jobs it chooses and a confirmToken"),
        confirmToken: z
          .string()
          .optional()
          .describe("cancel exactly the jobs a dry run chose (after the user agreed)"),
        mode: z
          .enum(STOP_MODES)
          .optional()
          .describe(
            "now (default): stop running phases at a safe point; drain: let running jobs finish; after-phase: let them finish their current phase",
          ),
        graceSeconds: z
          .number()
          .int()
          .min(1)
          .max(900)
          .optional()
          .describe(
            "with mode now: a phase still running after this long is reported as ignoring its signal",
          ),
      },
    },
    ({ batchId, jobs, jobId, reason, mode, graceSeconds, filter, dryRun, confirmToken }) =>
      answer(async () => {
        if ([jobs, jobId, filter, confirmToken].filter((x) => x !== undefined).length > 1)
          throw new Error(
            jobs !== undefined && jobId !== undefined
              ? "give jobs (a subset) or jobId (one job), not both"
              : "give one of jobs, jobId, filter and confirmToken",
          );
        if (dryRun && !filter) throw new Error("dryRun previews a filter: give filter too");
        if (filter && dryRun) {
          const preview = await client.previewCancel(batchId, filter);
          return {
            ...preview,
            message: `${preview.count} job(s) match and nothing was cancelled; show them to the user, and if they agree call cancel_job with confirmToken ${preview.confirmToken}`,
          };
        }
        if (filter || confirmToken) {
          const options: CancelOptions = {
            ...(reason ? { reason } : {}),
            ...(mode ? { mode } : {}),
            ...(graceSeconds !== undefined ? { graceSeconds } : {}),
          };
          const chosen = confirmToken
            ? await client.cancelSelection(batchId, confirmToken, options)
            : await client.cancelMatching(batchId, filter ?? {}, options);
          return { ...chosen, ...(await resultsSoFar(batchId)) };
        }
        // An empty jobs list must not fall through to cancelling the whole batch.
        if (jobs?.length === 0)
          throw new Error("jobs names no job; to cancel the whole batch, leave jobs out");
        const options: CancelOptions = {
          ...(reason ? { reason } : {}),
          ...(mode ? { mode } : {}),
          ...(graceSeconds !== undefined ? { graceSeconds } : {}),
        };
        const target: CancelTarget =
          jobId !== undefined
            ? { scope: "job", batchId, jobId }
            : jobs
              ? { scope: "subset", batchId, jobs }
              : { scope: "batch", batchId };
        let sent: Record<string, unknown>;
        try {
          sent = await sendCancel(target, options);
        } catch (error) {
          if (!(error instanceof StepbatchTimeoutError)) throw error;
          // The cancel may have taken effect all the same: say what the batch shows.
          const readBack = await readBackCancel(client, target, error);
          const applied =
            readBack.outcome === "took_effect" || readBack.outcome === "nothing_to_cancel";
          return reply(applied, {
            ...readBack,
            message: applied
              ? `${readBack.message}; call get_bulk_job_results for the results kept so far`
              : readBack.outcome === "unconfirmed"
                ? `${readBack.message}; call check_job_status with batchId ${batchId} to see whether it was, or cancel_job again (a cancel is idempotent)`
                : readBack.message,
          });
        }
        // A batch cancel answers with its results; a job or subset cancel gets them here.
        return target.scope === "batch" ? sent : { ...sent, ...(await resultsSoFar(batchId)) };
      }),
  );

  server.registerTool(
    "get_cancel_receipt",
    {
      title: "Follow a cancel",
      description:
        "The receipt of a cancel (the cancellationId cancel_job answered with): each affected job's outcome as it settles (cancelled_before_start, stopped_at_safe_point, finished_phase_then_stopped, drained, completed_before_cancel, in_commit_completed, ignored_signal, failed, or pending). pending 0 means everything on the page has settled.",
      inputSchema: {
        batchId: z.string(),
        cancellationId: z.string(),
        cursor: z.string().optional().describe("nextCursor of the previous page"),
      },
    },
    ({ batchId, cancellationId, cursor }) =>
      answer(async () => client.getCancellation(batchId, cancellationId, cursor ? { cursor } : {})),
  );

  server.registerTool(
    "resume_batch",
    {
      title: "Run a batch's cancelled jobs again",
      description:
        "Resume an ended batch: its cancelled jobs (or those named in jobs, by id or name) run again in a new run of the same batch. Each starts at the phase it stopped in, from its last checkpoint; phases it finished and jobs that succeeded or failed never run again. A batch still running or still stopping cannot be resumed yet: check_job_status shows quiescedAt once its last phase has stopped. Confirm with the user which jobs to resume before calling it; it starts real work.",
      inputSchema: {
        batchId: z.string(),
        jobs: z
          .array(z.string())
          .min(1)
          .optional()
          .describe("job ids or names; default: every cancelled job"),
        reason: z.string().max(500).optional(),
      },
    },
    ({ batchId, jobs, reason }) =>
      answer(async () =>
        client.resume(batchId, { ...(jobs ? { jobs } : {}), ...(reason ? { reason } : {}) }),
      ),
  );

  server.registerTool(
    "list_bulk_jobs",
    {
      title: "List batches",
      description:
        "Batches, newest first, optionally by status. Use a batchId from here with check_job_status, get_bulk_job_results or cancel_job.",
      inputSchema: {
        status: z.enum(BATCH_STATUSES).optional(),
        limit: z.number().int().min(1).max(100).optional(),
        cursor: z.string().optional().describe("nextCursor of the previous page"),
      },
    },
    ({ status, limit, cursor }) =>
      answer(async () => {
        const list = await client.listBatches({
          ...(status ? { status } : {}),
          ...(limit ? { limit } : {}),
          ...(cursor ? { cursor } : {}),
        });
        return { message: `${list.batches.length} batch(es)`, ...list };
      }),
  );

  server.registerTool(
    "get_temporary_results",
    {
      title: "Get the results saved so far",
      description:
        "The outputs and items saved so far for a batch, running or not, a page of jobs at a time (temporary storage, expires after 30 days; pass nextCursor for more). To keep them, call consolidate_temporary_results.",
      inputSchema: resultsPage,
    },
    ({ batchId, limit, cursor, items }) =>
      answer(async () => ({
        temporary: true,
        ...(await pageOfResults(batchId, limit, cursor, items)),
      })),
  );

  server.registerTool(
    "consolidate_temporary_results",
    {
      title: "Keep a batch's results permanently",
      description:
        "Write the results collected so far (also of a cancelled batch) to permanent storage, and say where (an s3:// URI).",
      inputSchema: { batchId: z.string() },
    },
    ({ batchId }) =>
      answer(async () => {
        const written = await client.consolidate(batchId);
        return { message: `Results of ${batchId} written to ${written.uri}`, ...written };
      }),
  );

  return server;
}

/** Serves the MCP server over stdio until the client disconnects. */
export async function serveMcp(client: StepbatchClient): Promise<void> {
  const server = createMcpServer(client);
  await server.connect(new StdioServerTransport());
}
