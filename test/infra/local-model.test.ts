import { describe, expect, it } from "vitest";
import { LambdaInvocationError, LocalLambdaRuntime } from "../../local/lambda-runtime.ts";
import { readAppModel } from "../../local/template.ts";
import { otherTemplate } from "../helpers/other-stack.ts";

describe("the local stack's reading of a template that is not stepbatch's", () => {
  it("reads every table with its own keys, indexes, billing and TTL, and names it after its logical id", () => {
    // Act
    const { tables } = readAppModel(otherTemplate());
    // Assess
    expect(tables).toHaveLength(2);
    const orders = tables.find((t) => t.logicalId.startsWith("OrdersTable"));
    const audit = tables.find((t) => t.logicalId.startsWith("Audit"));
    expect(orders?.name).toBe(orders?.logicalId.toLowerCase());
    expect(orders?.timeToLiveAttribute).toBe("expires");
    expect(orders?.definition).toMatchObject({
      TableName: orders?.name,
      BillingMode: "PAY_PER_REQUEST",
      KeySchema: [{ AttributeName: "orderId", KeyType: "HASH" }],
      GlobalSecondaryIndexes: [
        {
          IndexName: "byCustomer",
          KeySchema: [{ AttributeName: "customer", KeyType: "HASH" }],
          Projection: { ProjectionType: "KEYS_ONLY" },
        },
      ],
    });
    expect(audit?.definition).toMatchObject({
      BillingMode: "PROVISIONED",
      ProvisionedThroughput: { ReadCapacityUnits: 2, WriteCapacityUnits: 3 },
      KeySchema: [
        { AttributeName: "id", KeyType: "HASH" },
        { AttributeName: "at", KeyType: "RANGE" },
      ],
    });
  });

  it("gives functions the local names and ARNs of what they reference", () => {
    // Act
    const model = readAppModel(otherTemplate());
    // Assess
    const [ship] = [...model.functions.values()];
    const orders = model.tables.find((t) => t.logicalId.startsWith("OrdersTable"));
    const audit = model.tables.find((t) => t.logicalId.startsWith("Audit"));
    const [password, greeting] = ["DbPassword", "Greeting"].map((id) =>
      model.secrets.find((s) => s.logicalId.startsWith(id)),
    );
    expect(ship?.environment).toEqual({
      ORDERS: orders?.name,
      AUDIT_ARN: `arn:aws:dynamodb:us-east-1:000000000000:table/${audit?.name}`,
      INVOICES: model.buckets[0]?.name,
      PASSWORD: password?.arn,
      GREETING: greeting?.arn,
      MACHINE: model.stateMachine.arn,
    });
    expect(model.buckets[0]?.name).toMatch(/^invoices[a-z0-9]+$/);
  });

  it("serves a generated secret from its settings and a fixed one with its value, and reads no API token where no authorizer is", () => {
    // Act
    const model = readAppModel(otherTemplate());
    // Assess
    expect(model.secrets.find((s) => s.logicalId.startsWith("DbPassword"))?.generate).toEqual({
      PasswordLength: 12,
      ExcludePunctuation: true,
    });
    expect(model.secrets.find((s) => s.logicalId === "Greeting")?.value).toBe("hello");
    expect(model.apiTokenSecretArns).toEqual([]);
  });

  it("fails a function whose code is inline when it is invoked, saying why, and never loads it", async () => {
    // Prepare
    const model = readAppModel(otherTemplate());
    const runtime = new LocalLambdaRuntime(model.functions);
    const [ship] = [...model.functions.values()];
    // Act
    const failure = await runtime.invoke(ship?.arn ?? "", {}).catch((error: unknown) => error);
    // Assess
    expect(failure).toBeInstanceOf(LambdaInvocationError);
    expect(failure).toMatchObject({
      errorType: "Runtime.ImportModuleError",
      errorMessage: expect.stringMatching(/cannot run on the local stack: its code is inline/),
    });
  });

  it("refuses a template with two state machines, naming them", () => {
    // Act / Assess
    expect(() => readAppModel(otherTemplate({ secondStateMachine: true }))).toThrow(
      /holds 2 state machines \(Fulfil[0-9A-F]+, Refund[0-9A-F]+\): the local stack runs one/,
    );
  });
});
