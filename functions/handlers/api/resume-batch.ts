import { actorOf, answer, httpHandler } from "../../commons/http.ts";
import { services } from "../../commons/services.ts";
import { assertBatchId, parseBody, resumeBodySchema } from "../../core/schemas.ts";
import { resumeView } from "../../views/resume.ts";

const resumer = services.resume();

/** POST /batches/{batchId}/resume: its cancelled jobs (or those named) run again, in a new run. */
export const handler = httpHandler(async (event) => {
  const batchId = assertBatchId(event.pathParameters?.batchId);
  const body = parseBody(resumeBodySchema, event.body, { required: false });
  return answer(202, resumeView(await resumer.resume(batchId, { ...actorOf(event), ...body })));
});
