import { answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { listBatchesQuerySchema, parseWith } from "../../core/schemas.ts";
import { batchListView } from "../../views/batch.ts";

const queries = services.queries();

/** GET /batches?status=&limit=&cursor= */
export const handler = httpHandler(async (event) => {
  const query = parseWith(listBatchesQuerySchema, event.queryStringParameters ?? {});
  return answer(200, batchListView(await queries.list(query)));
});
