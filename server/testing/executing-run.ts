import { PeerCloud } from "./harness.js";
import { type serverPerTest, tutorialRun } from "./per-test.js";

/**
 * The seed's tutorial on the test's server (a cloud named "peer"), both agent peers connected with their instances'
 * tokens, Provisioning completed and Executing reached: where most agent-socket tests start.
 */
export async function executingRun(t: ReturnType<typeof serverPerTest>, extra: Record<string, unknown> = {}) {
  const cloud = new PeerCloud();
  const s = await t.boot(cloud);
  const run = await tutorialRun(s, extra);
  const apacheToken = (await cloud.launched("apache.1")).token;
  const apache = t.peer(apacheToken);
  const client = t.peer((await cloud.launched("client.1")).token);
  await Promise.all([apache.completeWhen("Provisioning"), client.completeWhen("Provisioning")]);
  await Promise.all([apache.until((st) => st.state === "Executing"), client.until((st) => st.state === "Executing")]);
  return { s, cloud, run, runId: run.id, apache, client, apacheToken };
}
