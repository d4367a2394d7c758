/** What a resume answers: the new run, its execution, and where each job starts again. */
import type { ResumeResult } from "../core/resume.ts";

export function resumeView(result: ResumeResult) {
  const jobs = result.jobs.length;
  return {
    batchId: result.batchId,
    status: "queued",
    run: result.run,
    executionArn: result.executionArn,
    resumed: jobs,
    jobs: result.jobs,
    runs: result.runs,
    message: `run ${result.run} of batch ${result.batchId} started with ${jobs} job${jobs === 1 ? "" : "s"}: each starts again at the phase it stopped in, from its last checkpoint; phases it finished are not run again`,
    ...(result.completedEarlierResume ? { completedEarlierResume: true } : {}),
  };
}
