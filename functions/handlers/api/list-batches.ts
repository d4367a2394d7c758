import { answer, httpHandler } from "../../commons/http";
import { services } from "../../commons/services";
import { listBatchesQuerySchema, parseWith } from "../../domain/schemas";

/** GET /batches?status=&limit=&cursor= */
export const handler = httpHandler(async (event) => {
  const query = parseWith(listBatchesQuerySchema, event.queryStringParameters ?? {});
  return answer(200, await services().queries.list(query));
});
