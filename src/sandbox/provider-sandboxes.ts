import { createEmbeddedComponentsSandbox } from './embedded-components/embedded-components-sandbox';
import { createPayrocSandbox } from './payroc/payroc-sandbox';
import { createWalletSandbox } from './wallet/wallet-sandbox';

/** What the provider sandboxes need to know: the secrets the broker's store holds for them. */
export interface ProviderSandboxSecrets {
  readonly payroc: { readonly apiKey: string };
  readonly embedded: { readonly gatewayApiKey: string; readonly merchantCentralApiKey: string };
  readonly wallet: { readonly authToken: string; readonly signingKey: string };
}

export interface SandboxTerminal {
  readonly provider: string;
  readonly label: string;
  readonly endpointUrl: string;
  /** The terminal's provider_config. */
  readonly config: object;
}

export const DEMO_PROCESSING_TERMINAL_ID = '1234001';
export const DEMO_WALLET_IDS = ['2sdflsd', 'w-0002'];
export const DEMO_PARENT_SYSTEM_ID = 'BL13GT';

/**
 * The Payroc, Reporting API (embedded components) and wallet sandboxes on free ports, and how a
 * terminal of each is configured against them (`npm start`, `npm run demo -- --provider …`).
 */
export async function startProviderSandboxes(secrets: ProviderSandboxSecrets, host = '127.0.0.1') {
  const payroc = createPayrocSandbox({ merchants: [{ apiKey: secrets.payroc.apiKey, processingTerminalIds: [DEMO_PROCESSING_TERMINAL_ID] }] });
  const embedded = createEmbeddedComponentsSandbox({
    keys: [
      { apiKey: secrets.embedded.gatewayApiKey, account: 'gateway' },
      { apiKey: secrets.embedded.merchantCentralApiKey, account: 'merchant-central' },
    ],
  });
  const wallet = createWalletSandbox({
    parents: [
      { parentSystemId: DEMO_PARENT_SYSTEM_ID, signingKey: secrets.wallet.signingKey, authTokens: [secrets.wallet.authToken], walletIds: DEMO_WALLET_IDS },
    ],
  });
  await payroc.listen(0, host);
  const embeddedUrl = await embedded.listen(0, host);
  const walletUrl = await wallet.listen(0, host);
  const terminals: Record<'payroc' | 'embedded-components' | 'wallet', SandboxTerminal> = {
    payroc: {
      provider: 'payroc',
      label: 'Payroc Hosted Fields sandbox terminal',
      endpointUrl: payroc.apiUrl,
      config: { processingTerminalId: DEMO_PROCESSING_TERMINAL_ID, identityUrl: payroc.identityUrl },
    },
    'embedded-components': {
      provider: 'embedded-components',
      label: 'Reporting API sandbox terminal',
      endpointUrl: embeddedUrl,
      config: { apis: ['gateway', 'merchant-central'] },
    },
    wallet: {
      provider: 'wallet',
      label: 'Wallet sandbox terminal',
      endpointUrl: walletUrl,
      config: { parentSystemId: DEMO_PARENT_SYSTEM_ID, walletIds: DEMO_WALLET_IDS },
    },
  };
  return {
    payroc,
    embedded,
    wallet,
    terminals,
    close: () => Promise.all([payroc.close(), embedded.close(), wallet.close()]).then(() => undefined),
  };
}
