/**
 * AWS list prices used to turn counted requests into dollars: us-east-1, on-demand, no free tier.
 * Written down on 2026-11-23 from AWS's public pricing pages; check them before relying on them.
 */
export const PRICES = {
  date: "2026-11-23",
  region: "us-east-1",
  stepFunctionsStandardPerTransition: 0.025 / 1000,
  lambdaPerRequest: 0.2 / 1_000_000,
  lambdaArmPerGbSecond: 0.0000133334,
  dynamoOnDemandPerWriteUnit: 0.625 / 1_000_000,
  dynamoOnDemandPerReadUnit: 0.125 / 1_000_000,
  s3PerPutListRequest: 0.005 / 1000,
  s3PerGetRequest: 0.0004 / 1000,
  apiGatewayRestPerRequest: 3.5 / 1_000_000,
} as const;
