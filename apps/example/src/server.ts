// `pnpm start [--store URL]`: the shop as a long-running server on PORT (3000).
// Without PAYMENT_PROVIDER_URL it also starts the simulated payment provider, so
// it works on its own; stop it with Ctrl-C.
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type PaymentProvider, startPaymentProvider } from './payment-provider.ts';
import { startShop } from './shop.ts';
import { Timeline } from './timeline.ts';

const { values } = parseArgs({ options: { store: { type: 'string' } } });
const timeline = new Timeline(null); // printed once the banner is out

let provider: PaymentProvider | null = null;
let providerUrl = process.env.PAYMENT_PROVIDER_URL;
let secret = process.env.PAYMENT_WEBHOOK_SECRET;
if (!providerUrl) {
  secret ??= randomBytes(16).toString('hex');
  provider = await startPaymentProvider({ secret, onDelivery: (text) => timeline.note('webhook', text) });
  providerUrl = provider.url;
} else if (!secret) {
  throw new Error('PAYMENT_WEBHOOK_SECRET must be set with PAYMENT_PROVIDER_URL');
}

const shop = await startShop({
  storeUrl: values.store ?? process.env.JQ_STORE_URL,
  host: process.env.HOST ?? '127.0.0.1',
  port: Number(process.env.PORT ?? 3000),
  paymentProviderUrl: providerUrl,
  webhookSecret: secret,
  timeline,
}).catch(async (err: unknown) => {
  await provider?.close();
  console.error(`Could not start the shop: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
if (provider) provider.webhookUrl = `${shop.url}/webhooks/payments`;

console.log(`JQJobs example shop on ${shop.url} (store ${shop.storeLabel}; workers ${shop.workersLabel}; autoscaler ${shop.scalerLabel})
Try:
  curl -s ${shop.url}/orders -H 'content-type: application/json' \\
    -d '{"customerId":"ada","email":"ada@example.com","items":[{"sku":"BOOK-1","quantity":1,"unitPrice":1500}]}'
  curl -s ${shop.url}/stats
`);
timeline.printTo((line) => console.log(line));

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: finishing in-flight work…`);
  void (async () => {
    await shop.close();
    await provider?.close();
  })();
};
process.on('SIGINT', () => stop('SIGINT'));
process.on('SIGTERM', () => stop('SIGTERM'));
