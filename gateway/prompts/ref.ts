// X-Prompt-Ref: `name` (the gateway's environment label), `name@label`, or `name@1.2.0` (pinned).
import semver from "semver";
import { GatewayError } from "../errors/gateway-error.ts";

export type PromptRef =
  | { readonly name: string; readonly kind: "label"; readonly label: string }
  | { readonly name: string; readonly kind: "version"; readonly version: string };

const NAME = /^[a-z0-9][a-z0-9_-]*$/;

export function parsePromptRef(header: string, defaultLabel: string): PromptRef {
  const ref = header.trim();
  const at = ref.indexOf("@");
  const name = at === -1 ? ref : ref.slice(0, at);
  const target = at === -1 ? "" : ref.slice(at + 1);
  if (!NAME.test(name) || (at !== -1 && target === "")) {
    throw new GatewayError(
      "invalid_request",
      `Invalid X-Prompt-Ref "${header}": expected name, name@label or name@1.2.0`,
      { param: "X-Prompt-Ref" },
    );
  }
  if (at === -1) return { name, kind: "label", label: defaultLabel };
  if (semver.valid(target)) return { name, kind: "version", version: target };
  if (!NAME.test(target)) {
    throw new GatewayError(
      "invalid_request",
      `Invalid X-Prompt-Ref "${header}": "${target}" is neither a label nor a semver version`,
      { param: "X-Prompt-Ref" },
    );
  }
  return { name, kind: "label", label: target };
}
