import { App, Stack } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import type { CloudFormationTemplate } from "../../local/template.ts";

/**
 * A stack that is not stepbatch's, with none of its names: two tables of other shapes, a bucket,
 * two secrets, a state machine and a function with inline code that is given all of them. With
 * `secondStateMachine`, a second state machine too. Synthesized without bundling (there is none).
 */
export function otherTemplate(options: { secondStateMachine?: boolean } = {}) {
  const app = new App();
  const stack = new Stack(app, "Orders");
  const orders = new dynamodb.Table(stack, "OrdersTable", {
    partitionKey: { name: "orderId", type: dynamodb.AttributeType.NUMBER },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    timeToLiveAttribute: "expires",
  });
  orders.addGlobalSecondaryIndex({
    indexName: "byCustomer",
    partitionKey: { name: "customer", type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.KEYS_ONLY,
  });
  const audit = new dynamodb.Table(stack, "Audit", {
    partitionKey: { name: "id", type: dynamodb.AttributeType.STRING },
    sortKey: { name: "at", type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PROVISIONED,
    readCapacity: 2,
    writeCapacity: 3,
  });
  const invoices = new s3.Bucket(stack, "Invoices");
  const generated = new secretsmanager.Secret(stack, "DbPassword", {
    generateSecretString: { passwordLength: 12, excludePunctuation: true },
  });
  const fixed = new secretsmanager.CfnSecret(stack, "Greeting", { secretString: "hello" });
  const machine = new sfn.StateMachine(stack, "Fulfil", {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, "Done")),
  });
  if (options.secondStateMachine)
    new sfn.StateMachine(stack, "Refund", {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, "Refunded")),
    });
  new lambda.Function(stack, "Ship", {
    runtime: lambda.Runtime.NODEJS_24_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("exports.handler = async () => 'shipped';"),
    environment: {
      ORDERS: orders.tableName,
      AUDIT_ARN: audit.tableArn,
      INVOICES: invoices.bucketName,
      PASSWORD: generated.secretArn,
      GREETING: fixed.ref,
      MACHINE: machine.stateMachineArn,
    },
  });
  return app.synth().getStackByName("Orders").template as CloudFormationTemplate;
}
