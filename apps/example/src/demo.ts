// `pnpm demo [--store URL]`: starts the payment provider and the shop, plays the
// scenario over HTTP, prints the timeline as it happens and a summary, then shuts
// everything down. Exits 0 when every job ended as intended.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startPaymentProvider } from './payment-provider.ts';
import { checkScenario, runScenario, summarize } from './scenario.ts';
import { startShop } from './shop.ts';
import { Timeline } from './timeline.ts';

const { values } = parseArgs({ options: { store: { type: 'string' } } });
const storeUrl = values.store ?? process.env.JQ_STORE_URL ?? 'memory';

const timeline = new Timeline(null); // printed once the header is out
const secret = randomBytes(16).toString('hex');
const provider = await startPaymentProvider({ secret, onDelivery: (text) => timeline.note('webhook', text) });
const shop = await startShop({
  storeUrl,
  paymentProviderUrl: provider.url,
  webhookSecret: secret,
  timeline,
  // Demo-sized delays; the defaults are days and seconds.
  reviewRequestDelayMs: 1_500,
  reindexDebounceMs: 1_500,
  autoscalerIntervalSeconds: 0.5,
}).catch(async (err: unknown) => {
  await provider.close();
  console.error(`Could not start the shop on ${storeUrl}: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
provider.webhookUrl = `${shop.url}/webhooks/payments`;

console.log(`JQJobs example shop on ${shop.url}
  store       ${shop.storeLabel}
  workers     ${shop.workersLabel}
  autoscaler  ${shop.scalerLabel}
  provider    simulated payment provider on ${provider.url}
`);
timeline.printTo((line) => console.log(line));

let problems: string[];
try {
  const result = await runScenario(shop.url, timeline);
  await shop.close(); // also runs the request logs still waiting for their turn
  console.log(`\nSummary (${((Date.now() - timeline.startedAt) / 1000).toFixed(1)} s, ${shop.storeKind} store)`);
  for (const line of summarize(result, timeline)) console.log(`  ${line}`);
  problems = checkScenario(result, timeline);
} catch (err) {
  problems = [err instanceof Error ? err.message : String(err)];
} finally {
  await shop.close();
  await provider.close();
}

if (problems.length > 0) {
  console.error(`\nNot as intended:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exitCode = 1;
} else {
  console.log('\nEvery job ended as intended. Try it on PostgreSQL or Redis: see apps/example/README.md.');
}
