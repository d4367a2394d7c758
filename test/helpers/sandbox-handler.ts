// A Lambda handler that shows what its sandbox gives it: its environment, its module state, and
// what happens to code that runs past its timeout. Used by the local runtime's tests only.
let invocations = 0;

export async function handler(event: { do?: string }): Promise<unknown> {
  invocations += 1;
  switch (event.do) {
    case "spin":
      for (;;); // never yields: only ending its thread stops it
    case "exit":
      process.exit(3);
      break;
    case "crash-later":
      // Answers, then a timer of its own throws: the sandbox dies while warm.
      setTimeout(() => {
        throw new Error("a timer threw after the answer");
      }, 50);
      break;
    case "wait":
      await new Promise((resolve) => setTimeout(resolve, 200));
      break;
  }
  return {
    invocations,
    own: process.env.OWN_SETTING ?? null,
    host: process.env.STEPBATCH_TEST_HOST_ONLY ?? null,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? null,
  };
}
