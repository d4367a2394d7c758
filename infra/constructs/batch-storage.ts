import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as iam from "aws-cdk-lib/aws-iam";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { STATE_TABLE } from "../../functions/adapters/dynamodb/table.ts";
import {
  OUTPUT_AREAS,
  type OutputArea,
  TEMPORARY_PREFIX,
} from "../../functions/core/output-keys.ts";

const STATE_READ = ["dynamodb:GetItem", "dynamodb:Query"];
const STATE_WRITE = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
];

/**
 * What the grants below act on: a function's role, and where to acknowledge the object-prefix
 * wildcards they grant. A StepbatchFunction is one; so is a phase that runs your own function.
 */
export interface StorageGrantee {
  readonly role: iam.IRole;
  acknowledgeWildcardResource(resource: string, reason: string): void;
}

export interface BatchStorageProps {
  /** How long phase outputs under `results/` are kept before S3 expires them. @default Duration.days(30) */
  readonly temporaryResultsRetention?: Duration;
  /** @default RemovalPolicy.RETAIN (batches and results outlive the stack) */
  readonly removalPolicy?: RemovalPolicy;
}

/** Where state and results live: one DynamoDB table (batches, jobs, audit) and one S3 bucket. */
export class BatchStorage extends Construct {
  readonly table: dynamodb.Table;
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: BatchStorageProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.table = new dynamodb.Table(this, "Table", {
      partitionKey: { name: STATE_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STATE_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: STATE_TABLE.timeToLive,
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy,
    });
    this.table.addGlobalSecondaryIndex({
      indexName: STATE_TABLE.listIndex.name,
      partitionKey: {
        name: STATE_TABLE.listIndex.partitionKey,
        type: dynamodb.AttributeType.STRING,
      },
      sortKey: { name: STATE_TABLE.listIndex.sortKey, type: dynamodb.AttributeType.STRING },
    });
    // Sparse: only jobs that have not ended are in it, so a status read or a cancel finds a
    // batch's running jobs (at most its concurrency) without reading the ended ones.
    this.table.addGlobalSecondaryIndex({
      indexName: STATE_TABLE.activeIndex.name,
      partitionKey: {
        name: STATE_TABLE.activeIndex.partitionKey,
        type: dynamodb.AttributeType.STRING,
      },
      sortKey: { name: STATE_TABLE.activeIndex.sortKey, type: dynamodb.AttributeType.STRING },
    });
    this.accessLogsBucket = new s3.Bucket(this, "AccessLogs", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
    });
    this.bucket = new s3.Bucket(this, "Results", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: "results-bucket/",
      lifecycleRules: [
        {
          id: "expire-temporary-results",
          prefix: TEMPORARY_PREFIX,
          expiration: props.temporaryResultsRetention ?? Duration.days(30),
        },
        { id: "abort-incomplete-uploads", abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: "AwsSolutions-S1",
      reason:
        "This is the access-log bucket of the results bucket; logging it into itself would loop.",
    });
  }

  /** Read batches and jobs: the table and its two indexes, no wildcard. */
  grantStateRead(fn: StorageGrantee): void {
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: STATE_READ,
        resources: [
          this.table.tableArn,
          `${this.table.tableArn}/index/${STATE_TABLE.listIndex.name}`,
          `${this.table.tableArn}/index/${STATE_TABLE.activeIndex.name}`,
        ],
      }),
    );
  }

  grantStateWrite(fn: StorageGrantee): void {
    this.grantStateRead(fn);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: STATE_WRITE, resources: [this.table.tableArn] }),
    );
  }

  /** Read objects under the given prefixes (and list them). */
  grantResultsRead(fn: StorageGrantee, ...areas: OutputArea[]): void {
    const prefixes = areas.map((area) => OUTPUT_AREAS[area]);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:GetObject"],
        resources: prefixes.map((p) => this.bucket.arnForObjects(`${p}/*`)),
      }),
    );
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:ListBucket"],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { "s3:prefix": prefixes.map((p) => `${p}/*`) } },
      }),
    );
    this.acknowledgeObjectPrefixes(fn, prefixes);
  }

  /** Write objects under the given prefixes. */
  grantResultsWrite(fn: StorageGrantee, ...areas: OutputArea[]): void {
    const prefixes = areas.map((area) => OUTPUT_AREAS[area]);
    fn.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ["s3:PutObject"],
        resources: prefixes.map((p) => this.bucket.arnForObjects(`${p}/*`)),
      }),
    );
    this.acknowledgeObjectPrefixes(fn, prefixes);
  }

  private acknowledgeObjectPrefixes(fn: StorageGrantee, prefixes: readonly string[]): void {
    for (const prefix of prefixes) {
      fn.acknowledgeWildcardResource(
        this.bucket.arnForObjects(`${prefix}/*`),
        `Object keys are per batch and job; access is limited to the ${prefix}/ prefix of the stepbatch bucket.`,
      );
    }
  }
}
