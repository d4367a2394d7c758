import { randomUUID } from "node:crypto";
import type { LocalLambdaRuntime } from "./lambda-runtime.ts";
import { LOCAL_ACCOUNT, LOCAL_REGION, type LocalScheduledRule } from "./template.ts";

/**
 * EventBridge rules on a rate, run as EventBridge runs them: their Lambda targets get a
 * "Scheduled Event" every period. They also run once as the stack starts, since the machine may
 * have been off for many periods (AWS would have run them meanwhile).
 */
export function startScheduledRules(
  rules: readonly LocalScheduledRule[],
  runtime: LocalLambdaRuntime,
  log: (message: string) => void,
): { stop(): void } {
  const fire = (rule: LocalScheduledRule) => {
    const event = {
      version: "0",
      id: randomUUID(),
      "detail-type": "Scheduled Event",
      source: "aws.events",
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
      region: LOCAL_REGION,
      resources: [rule.arn],
      detail: {},
    };
    for (const functionArn of rule.functionArns) {
      runtime.invoke(functionArn, event).catch((error: Error) => {
        log(`scheduled rule ${rule.expression} -> ${functionArn} failed: ${error.message}`);
      });
    }
  };
  const timers = rules.flatMap((rule) => {
    fire(rule);
    if (!rule.everyMs) return [];
    const timer = setInterval(() => fire(rule), rule.everyMs);
    timer.unref();
    return [timer];
  });
  return { stop: () => timers.forEach(clearInterval) };
}
