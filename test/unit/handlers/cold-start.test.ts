import { afterEach, describe, expect, it, vi } from "vitest";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  vi.resetModules();
});

describe("a function deployed without a setting it needs", () => {
  it("fails when it is loaded (its cold start), naming the missing setting and why it is needed", async () => {
    // Prepare: the cancel route is given no state machine.
    delete process.env.STATE_MACHINE_ARN;
    vi.resetModules();
    // Act
    const loading = import("../../../functions/handlers/api/cancel-batch.ts");
    // Assess
    await expect(loading).rejects.toThrow(
      "stepbatch configuration is invalid: STATE_MACHINE_ARN is not set, and it starts and stops batch executions",
    );
  });

  it("loads without it when it never starts or stops an execution", async () => {
    // Prepare: the reconciler is given no state machine, as the construct deploys it.
    delete process.env.STATE_MACHINE_ARN;
    vi.resetModules();
    // Act
    const module = await import("../../../functions/handlers/tasks/reconcile.ts");
    // Assess
    expect(module.handler).toBeTypeOf("function");
  });

  it("fails when it is loaded without its table, naming it", async () => {
    // Prepare
    delete process.env.TABLE_NAME;
    vi.resetModules();
    // Act
    const loading = import("../../../functions/handlers/api/get-batch.ts");
    // Assess
    await expect(loading).rejects.toThrow(/configuration is invalid: TABLE_NAME/);
  });
});
