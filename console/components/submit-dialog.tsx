import { useRef, useState } from "preact/hooks";
import { JobsTextError, parseJobsText } from "../../client/jobs-text.ts";
import { api, messageOf } from "../api.ts";
import { ErrorNote, Modal } from "./common.tsx";

const EXAMPLE = `alpha
beta
gamma`;

/** Submit a batch: its jobs as lines of names or pasted JSON, a name and a concurrency. */
export function SubmitDialog({ onClose }: { onClose: () => void }) {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  // Sending the same batch again (after a timeout, say) reuses its idempotency key: the API
  // answers with the batch the first try made instead of making a second one.
  const lastTry = useRef<{ readonly body: string; readonly key: string }>(undefined);

  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const name = String(form.get("name") ?? "").trim();
    const concurrency = String(form.get("concurrency") ?? "").trim();
    let parsed: ReturnType<typeof parseJobsText>;
    try {
      parsed = parseJobsText(String(form.get("jobs") ?? ""), "The Jobs field");
    } catch (failure) {
      setError(failure instanceof JobsTextError ? failure.message : messageOf(failure));
      return;
    }
    setBusy(true);
    setError(undefined);
    const body = {
      ...parsed.body,
      jobs: parsed.jobs,
      ...(name ? { name } : {}),
      ...(concurrency ? { concurrency: Number(concurrency) } : {}),
    };
    try {
      const bodyText = JSON.stringify(body);
      if (lastTry.current?.body !== bodyText)
        lastTry.current = { body: bodyText, key: crypto.randomUUID() };
      const submitted = await api.submit(body, { idempotencyKey: lastTry.current.key });
      onClose();
      location.hash = `#/batches/${encodeURIComponent(submitted.batchId)}`;
    } catch (failure) {
      setError(messageOf(failure));
      setBusy(false);
    }
  };

  return (
    <Modal title="Submit a batch" onClose={onClose}>
      <form onSubmit={submit}>
        <label for="submit-jobs">Jobs</label>
        <p class="hint" id="submit-jobs-hint">
          One job name per line, or JSON: an array of jobs (
          <code>{'["a", {"name": "b", "input": {"pages": 3}}]'}</code>) or a whole request body.
        </p>
        <textarea
          id="submit-jobs"
          name="jobs"
          rows={8}
          required
          aria-describedby="submit-jobs-hint"
          placeholder={EXAMPLE}
        />
        <div class="fields">
          <div>
            <label for="submit-name">Batch name (optional)</label>
            <input id="submit-name" name="name" maxLength={200} />
          </div>
          <div>
            <label for="submit-concurrency">Concurrency (optional)</label>
            <input id="submit-concurrency" name="concurrency" type="number" min={1} step={1} />
          </div>
        </div>
        <ErrorNote message={error} />
        <div class="actions">
          <button type="button" class="secondary" onClick={onClose}>
            Close
          </button>
          <button type="submit" disabled={busy}>
            {busy ? "Submitting…" : "Submit batch"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
