import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { mockClient } from "aws-sdk-client-mock";
import { beforeAll, describe, expect, it } from "vitest";
import { tokenFromHeaders, tokensMatch } from "../../../functions/core/token.ts";
import { handler } from "../../../functions/handlers/authorizer.ts";
import { lambdaContext } from "../../helpers/lambda.ts";

const secrets = mockClient(SecretsManagerClient);
const TOKEN = "s3cr3t-token-value";

beforeAll(() => {
  secrets.on(GetSecretValueCommand).resolves({ SecretString: TOKEN });
});

const event = (headers: Record<string, string>): APIGatewayRequestAuthorizerEvent =>
  ({
    type: "REQUEST",
    methodArn: "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/GET/batches",
    headers,
    path: "/batches",
  }) as unknown as APIGatewayRequestAuthorizerEvent;

describe("the authorizer", () => {
  it("refuses a request with no token as Unauthorized (API Gateway answers 401)", async () => {
    await expect(handler(event({}), lambdaContext())).rejects.toThrow("Unauthorized");
  });

  it("denies a wrong token (API Gateway answers 403)", async () => {
    const result = await handler(event({ Authorization: "Bearer wrong" }), lambdaContext());
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: "Deny" });
  });

  it("allows the right token as a bearer token or as X-Admin-Token, for the whole stage", async () => {
    const variants: Record<string, string>[] = [
      { Authorization: `Bearer ${TOKEN}` },
      { "x-admin-token": TOKEN },
    ];
    for (const headers of variants) {
      const result = await handler(event(headers), lambdaContext());
      expect(result.policyDocument.Statement[0]).toMatchObject({
        Effect: "Allow",
        Resource: "arn:aws:execute-api:us-east-1:123456789012:abc123/v1/*",
      });
    }
  });
});

describe("tokens", () => {
  it("are read from either header", () => {
    expect(tokenFromHeaders({ authorization: "Bearer abc" })).toBe("abc");
    expect(tokenFromHeaders({ "X-Admin-Token": " abc " })).toBe("abc");
    expect(tokenFromHeaders({ Authorization: "Basic abc" })).toBeUndefined();
  });

  it("match only when equal, and never against an empty secret", () => {
    expect(tokensMatch("abc", "abc")).toBe(true);
    expect(tokensMatch("abc", "abd")).toBe(false);
    expect(tokensMatch("abc", "abcd")).toBe(false);
    expect(tokensMatch("", "")).toBe(false);
  });
});
