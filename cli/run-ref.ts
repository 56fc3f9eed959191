import { API } from "../protocol/catalog/index.js";
import type { ApiClient } from "./api-client.js";
import { CliError, usage } from "./errors.js";

const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** any start of an id, as `docker` takes one: it names a run only while no other id starts the same */
const PREFIX = /^[0-9a-f][0-9a-f-]{0,34}$/i;

/**
 * A run as people name it on the command line: its id; the start of its id, as the run page and its tab title show
 * it (`68fdbe67`); or the address of its page, as `slipstream run` prints it. Returns the full id. A start that
 * matches no run, or more than one, is refused naming what it matched; anything else goes to the server as it is.
 */
export async function resolveRun(api: ApiClient, ref: string): Promise<string> {
  if (/^https?:\/\//i.test(ref)) return idOfAddress(api, ref);
  if (FULL_ID.test(ref)) return ref.toLowerCase();
  if (!PREFIX.test(ref)) return ref;
  const page = await api.call(API.listRuns, { query: { idPrefix: ref, limit: 2 } }).catch((err: unknown) => {
    // a server older than this CLI refuses the filter by name
    if (err instanceof CliError && err.message.includes("idPrefix")) {
      throw usage(`${api.url} does not look runs up by the start of their id (an older server): give the whole id`);
    }
    throw err;
  });
  const [first, second] = page.runs;
  if (!first) throw usage(`no run's id starts with '${ref}'`);
  if (second) {
    throw usage(`'${ref}' starts the ids of more than one run (${first.id}, ${second.id}…): give more of it`);
  }
  return first.id;
}

function idOfAddress(api: ApiClient, ref: string): string {
  let url: URL;
  try {
    url = new URL(ref);
  } catch {
    throw usage(`'${ref}' is not a run's address`);
  }
  const id = /\/runs\/([^/]+)\/?$/.exec(url.pathname)?.[1];
  if (!id) throw usage(`'${ref}' is not a run's address (…/runs/<id>)`);
  const server = new URL(api.url);
  // the same id on another server is another run, or none
  if (url.origin !== server.origin) {
    throw usage(`${ref} is a run of ${url.origin}, not of ${server.origin}: add --url ${url.origin}`);
  }
  // a run's id is hex digits and dashes: nothing in it was escaped
  return id;
}

/** What a `<run>` argument takes, in every command's help. */
export const RUN_ARG = "run id, its first characters, or its page's address";
