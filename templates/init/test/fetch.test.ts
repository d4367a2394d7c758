import assert from "node:assert/strict";
import { test } from "node:test";
import { runPhase } from "stepbatch/testing";
import fetch from "../phases/fetch.ts";

test("Fetch emits one item per page and resumes from its checkpoint", async () => {
  // Prepare: an earlier attempt got through page 1.
  const options = { input: { pages: 3 }, checkpoint: { nextPage: 2 } };
  // Act
  const run = await runPhase(fetch, options);
  // Assess
  assert.deepEqual(run.output, { pagesFetched: 3 });
  assert.equal(run.emitted.length, 2);
  assert.deepEqual(run.saved.at(-1), { nextPage: 4 });
});
