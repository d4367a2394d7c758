import { join } from "node:path";
import { type App, Stack } from "aws-cdk-lib";
import * as apigateway from "aws-cdk-lib/aws-apigateway";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import * as tasks from "aws-cdk-lib/aws-stepfunctions-tasks";
import { PROJECT_ROOT } from "../../local/stack.ts";

/**
 * A stack built without stepbatch's construct and with none of its names: a table keyed by a
 * number, a secret, one bundled function behind a REST API (stage `prod`, no authorizer) and a
 * state machine that invokes it. For `startLocalStack({ stack: ordersStack })`.
 */
export function ordersStack(app: App): Stack {
  const stack = new Stack(app, "Orders");
  const table = new dynamodb.Table(stack, "OrdersTable", {
    partitionKey: { name: "orderId", type: dynamodb.AttributeType.NUMBER },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
  });
  const greeting = new secretsmanager.CfnSecret(stack, "Greeting", { secretString: "hello" });
  const fn = new NodejsFunction(stack, "TakeOrder", {
    entry: join(PROJECT_ROOT, "test/fixtures/orders/handler.ts"),
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: join(PROJECT_ROOT, "package-lock.json"),
    runtime: lambda.Runtime.NODEJS_24_X,
    environment: { ORDERS: table.tableName, GREETING: greeting.ref },
    bundling: { format: OutputFormat.ESM, minify: true, sourceMap: true },
  });
  // What the function needs, granted as on AWS: the local stack refuses anything else.
  table.grantWriteData(fn);
  fn.addToRolePolicy(
    new iam.PolicyStatement({
      actions: ["secretsmanager:GetSecretValue"],
      resources: [greeting.ref],
    }),
  );
  const api = new apigateway.RestApi(stack, "Api", { deployOptions: { stageName: "prod" } });
  api.root.addResource("orders").addMethod("POST", new apigateway.LambdaIntegration(fn));
  new sfn.StateMachine(stack, "Fulfil", {
    definitionBody: sfn.DefinitionBody.fromChainable(
      new tasks.LambdaInvoke(stack, "Take the order", {
        lambdaFunction: fn,
        payloadResponseOnly: true,
      }),
    ),
  });
  return stack;
}
