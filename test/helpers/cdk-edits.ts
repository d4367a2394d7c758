import type { Stack } from "aws-cdk-lib";
import { CfnPolicy } from "aws-cdk-lib/aws-iam";
import { CfnFunction } from "aws-cdk-lib/aws-lambda";

type Statement = { Action?: string | string[] } & Record<string, unknown>;

/** The constructs of `stack` of a type whose path names `owner` (e.g. `Api/CancelBatch`). */
function ownedBy<T>(stack: Stack, owner: string, type: abstract new (...args: never[]) => T): T[] {
  const found = stack.node
    .findAll()
    .filter((c) => c instanceof type && c.node.path.includes(`/${owner}/`)) as T[];
  if (found.length === 0) throw new Error(`no ${type.name} under ${owner} in ${stack.stackName}`);
  return found;
}

/**
 * Takes `action` out of every policy of `owner`'s role, as if its grant had been left out of the
 * CDK code (a statement left with no action goes). Throws if the role was never granted it.
 */
export function withoutGrant(stack: Stack, owner: string, action: string): void {
  let removed = false;
  for (const policy of ownedBy(stack, owner, CfnPolicy)) {
    const document = stack.resolve(policy.policyDocument) as { Statement: Statement[] };
    const statements = document.Statement.flatMap((statement) => {
      const actions = [statement.Action ?? []].flat();
      const kept = actions.filter((a) => a !== action);
      if (kept.length === actions.length) return [statement];
      removed = true;
      if (kept.length === 0) return [];
      return [{ ...statement, Action: kept.length === 1 ? kept[0] : kept }];
    });
    policy.addPropertyOverride("PolicyDocument.Statement", statements);
  }
  if (!removed) throw new Error(`${owner}'s role is not granted ${action}`);
}

/** Takes the variable `name` out of `owner`'s function environment, as if the CDK code had never set it. */
export function withoutVariable(stack: Stack, owner: string, name: string): void {
  for (const fn of ownedBy(stack, owner, CfnFunction)) {
    const environment = stack.resolve(fn.environment) as { variables?: Record<string, unknown> };
    if (!environment?.variables || !(name in environment.variables))
      throw new Error(`${owner}'s function has no variable ${name}`);
    fn.addPropertyDeletionOverride(`Environment.Variables.${name}`);
  }
}
