/**
 * The worker thread side of ZipVerifyPool (zip-verify-pool.ts): runs
 * verifyZip on the zips it is sent (bytes, or a file) and answers with the
 * h1 or the error's code and message (GoarkError classes do not cross
 * threads).
 */
import { parentPort } from "node:worker_threads";
import { asGoarkError } from "../errors.ts";
import { verifyZip } from "../module/zip.ts";
import { inflateOnThisThread } from "../module/zip-reader.ts";
import { jobInput, type VerifyJob, type VerifyReply } from "./zip-verify-pool.ts";

const port = parentPort;
if (port === null) throw new Error("zip-verify-worker must run in a worker thread");
// This thread only verifies: inflating here leaves the shared thread pool to the main thread's I/O.
inflateOnThisThread();

port.on("message", (job: VerifyJob) => {
  // The job's buffer goes back with the answer, for reuse.
  const send = (reply: VerifyReply) => {
    if (job.data === undefined) {
      port.postMessage(reply);
      return;
    }
    reply.data = job.data;
    port.postMessage(reply, [job.data]);
  };
  verifyZip(job.module, job.version, jobInput(job), { maxSize: job.maxSize }).then(
    ({ h1 }) => send({ id: job.id, h1 }),
    (err: unknown) => {
      const e = asGoarkError(err);
      const reply: VerifyReply = { id: job.id, error: { code: e.code, message: e.message } };
      if (e.path !== undefined) reply.error!.path = e.path;
      send(reply);
    },
  );
});
port.postMessage({ id: 0, ready: true } satisfies VerifyReply);
