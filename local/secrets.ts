import { randomInt } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./files.ts";
import type { GenerateSecretString, LocalAppModel } from "./template.ts";

/**
 * The value of every secret of the template, by ARN: the API token for the secrets the API's
 * authorizers read, the template's SecretString, or a value generated as GenerateSecretString
 * asks. Generated values are generated once, like AWS does when it creates the secret, and kept
 * in `<dataDir>/secrets.json` (in memory without a data folder).
 */
export function secretValues(
  model: Pick<LocalAppModel, "secrets" | "apiTokenSecretArns">,
  token: string,
  dataDir: string | undefined,
): ReadonlyMap<string, string> {
  const file = dataDir ? join(dataDir, "secrets.json") : undefined;
  const kept = readKept(file);
  const values = new Map<string, string>();
  let generated = false;
  for (const secret of model.secrets) {
    if (model.apiTokenSecretArns.includes(secret.arn)) values.set(secret.arn, token);
    else if (secret.value !== undefined) values.set(secret.arn, secret.value);
    else {
      let value = kept[secret.logicalId];
      if (value === undefined) {
        value = generateSecretString(secret.generate ?? {});
        kept[secret.logicalId] = value;
        generated = true;
      }
      values.set(secret.arn, value);
    }
  }
  if (file && generated) writeFileAtomic(file, `${JSON.stringify(kept, null, 2)}\n`);
  return values;
}

function readKept(file: string | undefined): Record<string, string> {
  if (!file || !existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, string>;
  } catch {
    return {}; // unreadable: new values are generated, as for a new secret
  }
}

const LOWERCASE = "abcdefghijklmnopqrstuvwxyz";
const UPPERCASE = LOWERCASE.toUpperCase();
const NUMBERS = "0123456789";
const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/** A value as Secrets Manager generates one for GenerateSecretString (32 characters of every type by default). */
export function generateSecretString(settings: GenerateSecretString): string {
  const excluded = new Set(settings.ExcludeCharacters ?? "");
  const types = [
    settings.ExcludeLowercase ? "" : LOWERCASE,
    settings.ExcludeUppercase ? "" : UPPERCASE,
    settings.ExcludeNumbers ? "" : NUMBERS,
    settings.ExcludePunctuation ? "" : PUNCTUATION,
    settings.IncludeSpace ? " " : "",
  ]
    .map((chars) => [...chars].filter((c) => !excluded.has(c)).join(""))
    .filter((chars) => chars.length > 0);
  const all = types.join("");
  if (!all) throw new Error("GenerateSecretString excludes every character");
  const length = Number(settings.PasswordLength ?? 32);
  const pick = (chars: string) => chars[randomInt(chars.length)] as string;
  const chars = Array.from({ length }, () => pick(all));
  if (settings.RequireEachIncludedType !== false && length >= types.length) {
    // One of each type, at distinct random places.
    const places = [...Array(length).keys()];
    for (const type of types) {
      const [place] = places.splice(randomInt(places.length), 1);
      chars[place as number] = pick(type);
    }
  }
  const password = chars.join("");
  if (settings.SecretStringTemplate && settings.GenerateStringKey) {
    const object = JSON.parse(settings.SecretStringTemplate) as Record<string, unknown>;
    return JSON.stringify({ ...object, [settings.GenerateStringKey]: password });
  }
  return password;
}
