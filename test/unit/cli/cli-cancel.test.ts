import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../helpers/cli";
import { type FakeApi, startFakeApi } from "../../helpers/fake-api";

// The CLI as a real process, against a fake API that records every request it gets.

let api: FakeApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

describe("stepbatch cancel-job with an id that cannot be a job id", () => {
  it.each(["..", ".", ""])(
    "refuses cancel-job b-1 %j with exit 2 and one line, and cancels nothing",
    async (jobId) => {
      // Prepare: an API that would accept any cancel.
      api = await startFakeApi(() => ({ status: 200, body: { message: "Batch b-1 cancelled" } }));
      // Act
      const run = await runCli(api, ["cancel-job", "b-1", jobId]);
      // Assess
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(
        `stepbatch: job id '${jobId}' is not a job id: it cannot be empty, "." or "..", or contain "/" or control characters\n`,
      );
      expect(run.stdout).toBe("");
      expect(api.requests).toEqual([]);
    },
  );
});
