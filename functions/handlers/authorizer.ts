import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { getSecret } from "@aws-lambda-powertools/parameters/secrets";
import middy from "@middy/core";
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { z } from "zod";
import { logger, metrics, observability } from "../commons/observability.ts";
import { tokenFromHeaders, tokensMatch } from "../core/token.ts";

const { TOKEN_SECRET_ARN } = z.object({ TOKEN_SECRET_ARN: z.string().min(1) }).parse(process.env);

/**
 * REQUEST authorizer. No token: "Unauthorized" (API Gateway answers 401). Wrong token: a Deny
 * policy (403). The token lives in Secrets Manager, cached for five minutes, and is never logged.
 */
export const handler = middy<APIGatewayRequestAuthorizerEvent, APIGatewayAuthorizerResult>()
  .use(observability())
  .handler(async (event) => {
    const given = tokenFromHeaders(event.headers ?? {});
    if (!given) {
      metrics.addMetric("RequestWithoutToken", MetricUnit.Count, 1);
      throw new Error("Unauthorized");
    }
    const expected = (await getSecret<string>(TOKEN_SECRET_ARN, { maxAge: 300 })) ?? "";
    const allowed = tokensMatch(given, expected);
    metrics.addMetric(allowed ? "RequestAllowed" : "RequestDenied", MetricUnit.Count, 1);
    if (!allowed) logger.warn("request with a wrong token denied", { path: event.path });
    // Allow every route of this API stage: the cache key is the token, not the route.
    const [arnPrefix, stage] = event.methodArn.split("/");
    return {
      principalId: "operator",
      policyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Action: "execute-api:Invoke",
            Effect: allowed ? "Allow" : "Deny",
            Resource: `${arnPrefix}/${stage}/*`,
          },
        ],
      },
    };
  });
