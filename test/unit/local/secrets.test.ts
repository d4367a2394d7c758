import { describe, expect, it } from "vitest";
import { generateSecretString, secretValues } from "../../../local/secrets.ts";

describe("the local stack's generated secrets", () => {
  it("generate as many characters as asked, of the types asked, never an excluded one", () => {
    // Act
    const values = Array.from({ length: 20 }, () =>
      generateSecretString({
        PasswordLength: 16,
        ExcludePunctuation: true,
        ExcludeUppercase: true,
        ExcludeCharacters: "aeiou",
      }),
    );
    // Assess
    for (const value of values) {
      expect(value).toMatch(/^[a-z0-9]{16}$/);
      expect(value).not.toMatch(/[aeiou]/);
      expect(value).toMatch(/[0-9]/); // every included type at least once
    }
    expect(new Set(values).size).toBe(20);
  });

  it("put the generated value in the template's JSON under its key", () => {
    // Act
    const value = generateSecretString({
      SecretStringTemplate: JSON.stringify({ username: "app" }),
      GenerateStringKey: "password",
    });
    // Assess
    expect(JSON.parse(value)).toEqual({ username: "app", password: expect.any(String) });
    expect(JSON.parse(value).password).toHaveLength(32);
  });

  it("give the authorizer's secret the API token, and the others their value or one generated once per start in memory", () => {
    // Prepare
    const model = {
      secrets: [
        { logicalId: "Token", name: "Token", arn: "arn:token" },
        { logicalId: "Fixed", name: "Fixed", arn: "arn:fixed", value: "hello" },
        { logicalId: "Made", name: "Made", arn: "arn:made", generate: { PasswordLength: 8 } },
      ],
      apiTokenSecretArns: ["arn:token"],
    };
    // Act
    const values = secretValues(model, "the-token", undefined);
    // Assess
    expect(values.get("arn:token")).toBe("the-token");
    expect(values.get("arn:fixed")).toBe("hello");
    expect(values.get("arn:made")).toHaveLength(8);
  });
});
