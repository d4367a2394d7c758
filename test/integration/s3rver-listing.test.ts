import { ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { provisionBucket, type RunningService, s3Client, startS3 } from "../../local/emulators.ts";

// s3rver 3.7.1 made its ListObjectsV2 continuation token with DES, which Node 24's OpenSSL refuses:
// every listing with a second page answered 500. patches/s3rver+3.7.1.patch replaces the token.
const KEYS = 2_500;
const keyOf = (i: number) => `results/b-1/job-${String(i).padStart(5, "0")}.json`;

let s3: RunningService;
let client: S3Client;
beforeAll(async () => {
  s3 = await startS3();
  client = s3Client(s3.endpoint);
  await provisionBucket(client, "listing");
  for (let i = 0; i < KEYS; i += 100)
    await Promise.all(
      Array.from({ length: 100 }, (_, j) =>
        client.send(new PutObjectCommand({ Bucket: "listing", Key: keyOf(i + j), Body: "{}" })),
      ),
    );
}, 120_000);
afterAll(async () => s3?.close());

/** Every key under the prefix, page by page (1,000 keys a page by default). */
async function listAll(startAfter?: string): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let pages = 0;
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: "listing",
        Prefix: "results/b-1/",
        ...(token ? { ContinuationToken: token } : startAfter ? { StartAfter: startAfter } : {}),
      }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key as string));
    pages++;
    token = page.NextContinuationToken;
  } while (token);
  return { keys, pages };
}

describe("listing more than 1,000 keys on s3rver", () => {
  it("lists 2,500 keys under one prefix in three pages, each key once, in order", async () => {
    // Act
    const { keys, pages } = await listAll();
    // Assess
    expect(pages).toBe(3);
    expect(keys).toHaveLength(KEYS);
    expect(new Set(keys).size).toBe(KEYS);
    expect(keys).toEqual(Array.from({ length: KEYS }, (_, i) => keyOf(i)));
  });

  it("starts after StartAfter and goes on with continuation tokens", async () => {
    // Act
    const { keys, pages } = await listAll(keyOf(299));
    // Assess
    expect(pages).toBe(3);
    expect(keys).toEqual(Array.from({ length: KEYS - 300 }, (_, i) => keyOf(i + 300)));
  });

  it("refuses a continuation token it did not issue with 400 InvalidArgument", async () => {
    // Act
    const refused = await client
      .send(
        new ListObjectsV2Command({
          Bucket: "listing",
          ContinuationToken: Buffer.from("us-east-1/other-bucket/k").toString("base64url"),
        }),
      )
      .catch((error: Error & { $metadata?: { httpStatusCode?: number } }) => error);
    // Assess
    expect(refused).toMatchObject({ name: "InvalidArgument", $metadata: { httpStatusCode: 400 } });
  });
});
