import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LambdaInvocationError, LocalLambdaRuntime } from "../../local/lambda-runtime.ts";
import { PROJECT_ROOT } from "../../local/stack.ts";
import type { LocalFunction } from "../../local/template.ts";

const fn = (
  name: string,
  environment: Record<string, string>,
  module = "test/helpers/sandbox-handler.ts",
): LocalFunction => ({
  logicalId: name,
  name,
  arn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
  code: { file: join(PROJECT_ROOT, module), exportPath: ["handler"] },
  timeoutSeconds: 1,
  memoryMb: 128,
  environment,
});
const first = fn("First", { OWN_SETTING: "first's" });
const second = fn("Second", { OWN_SETTING: "second's" });
const third = fn("Third", {});
const fourth = fn("Fourth", {});
const neverLoads = fn("NeverLoads", {}, "test/helpers/never-loads-handler.ts");
const runtime = new LocalLambdaRuntime(
  new Map([first, second, third, fourth, neverLoads].map((f) => [f.arn, f])),
);
afterAll(() => runtime.close());

type Seen = { invocations: number; own: string | null; host: string | null; functionName: string };
const invoke = (target: LocalFunction, event: object = {}) =>
  runtime.invoke(target.arn, event) as Promise<Seen>;

describe("a function on the local runtime", () => {
  it("sees only its own environment from the template, never another function's or this process's", async () => {
    // Prepare
    process.env.STEPBATCH_TEST_HOST_ONLY = "the test process's";
    // Act
    const [one, two] = await Promise.all([invoke(first), invoke(second)]);
    // Assess
    delete process.env.STEPBATCH_TEST_HOST_ONLY;
    expect(one).toMatchObject({ own: "first's", host: null, functionName: "First" });
    expect(two).toMatchObject({ own: "second's", host: null, functionName: "Second" });
  });

  it("keeps its module state to itself: a warm sandbox is reused, a concurrent invocation gets its own", async () => {
    // Prepare
    const warm = await invoke(second);
    // Act
    const again = await invoke(second);
    const together = await Promise.all([
      invoke(second, { do: "wait" }),
      invoke(second, { do: "wait" }),
    ]);
    // Assess
    expect(again.invocations).toBe(warm.invocations + 1);
    expect(together.map((seen) => seen.invocations).sort()).toEqual([1, warm.invocations + 2]);
  });

  it("is really ended past its timeout, even busy, and the next invocation starts cold", async () => {
    // Prepare
    await invoke(first);
    // Act
    const timedOut = await invoke(first, { do: "spin" }).catch((error: unknown) => error);
    const next = await invoke(first);
    // Assess
    expect(timedOut).toBeInstanceOf(LambdaInvocationError);
    expect(timedOut).toMatchObject({
      errorType: "Sandbox.Timedout",
      errorMessage: "Task timed out after 1.00 seconds",
    });
    expect(next.invocations).toBe(1);
  });

  it("fails the invocation that ends its runtime, and starts a fresh one for the next", async () => {
    // Prepare
    await invoke(third);
    // Act
    const exited = await invoke(third, { do: "exit" }).catch((error: unknown) => error);
    const next = await invoke(third);
    // Assess
    expect(exited).toMatchObject({ errorType: "Runtime.ExitError" });
    expect(next.invocations).toBe(1);
  });

  it("waits for a sandbox to be free past the function's limit, rather than starting more", async () => {
    // Prepare
    const limited = new LocalLambdaRuntime(new Map([[third.arn, third]]), {
      maxSandboxesPerFunction: 1,
    });
    try {
      // Act
      const together = await Promise.all(
        [1, 2, 3].map(() => limited.invoke(third.arn, { do: "wait" }) as Promise<Seen>),
      );
      // Assess: one sandbox ran all three, one after another
      expect(together.map((seen) => seen.invocations).sort()).toEqual([1, 2, 3]);
      expect(limited.usage.coldStarts).toBe(1);
    } finally {
      await limited.close();
    }
  });

  it("never hands out a sandbox that died while warm: the next invocation starts cold and answers", async () => {
    // Prepare
    await invoke(fourth, { do: "crash-later" });
    await new Promise((resolve) => setTimeout(resolve, 300)); // its timer has thrown by now
    // Act
    const next = await invoke(fourth);
    // Assess
    expect(next.invocations).toBe(1);
  });

  it("ends a cold start that never finishes loading at the invocation's timeout", async () => {
    // Act
    const failed = await invoke(neverLoads).catch((error: unknown) => error);
    // Assess
    expect(failed).toMatchObject({
      errorType: "Sandbox.Timedout",
      errorMessage: "Task timed out after 1.00 seconds (while its code loaded)",
    });
  });
});
