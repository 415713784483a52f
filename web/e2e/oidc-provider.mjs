// A real OpenID Connect provider on loopback for the tests: the certified `oidc-provider`
// from npm, with its own sign-in page (any login, any password), one confidential client
// for meet-recorder, and accounts whose claims come from a JSON file read at every
// sign-in, so a test can change a person's name or email at the provider.
//
// Settings (environment):
//   OIDC_TEST_PORT            port on 127.0.0.1 (0: any free port)
//   OIDC_TEST_CLIENT_ID, OIDC_TEST_CLIENT_SECRET
//   OIDC_TEST_REDIRECT_URI    meet-recorder's callback (…/api/v1.0/callback/)
//   OIDC_TEST_POST_LOGOUT_URI where the provider sends the browser after sign-out
//   OIDC_TEST_ACCOUNTS        JSON file: { "<login>": { "email": …, "given_name": …, … } };
//                             a login not in it gets no claims beyond `sub`
//   OIDC_TEST_AUTH_METHOD     the client's token endpoint authentication (default
//                             client_secret_post, what the reference uses)
//
// Prints one JSON line `{"issuer": "http://127.0.0.1:PORT"}` once it listens, and logs
// each request to stderr.

import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const env = (name, fallback) => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const accountsFile = process.env.OIDC_TEST_ACCOUNTS;
function accountClaims(login) {
  if (!accountsFile) return {};
  const accounts = JSON.parse(readFileSync(accountsFile, 'utf8'));
  return accounts[login] ?? {};
}

// Plain pages (the defaults load web fonts from the internet, which tests never reach).
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;

const clientId = env('OIDC_TEST_CLIENT_ID', 'meet-recorder');

const configuration = {
  clients: [
    {
      client_id: clientId,
      client_secret: env('OIDC_TEST_CLIENT_SECRET', 'meet-recorder-secret'),
      redirect_uris: [env('OIDC_TEST_REDIRECT_URI')],
      post_logout_redirect_uris: [env('OIDC_TEST_POST_LOGOUT_URI')],
      token_endpoint_auth_method: env('OIDC_TEST_AUTH_METHOD', 'client_secret_post'),
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  cookies: { keys: ['meet-recorder-test-provider'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
  },
  scopes: ['openid', 'email', 'profile'],
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...accountClaims(id) };
      },
    };
  },
  // The organisation's own application: no consent screen, as such deployments have.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page(
          'Sign out',
          `<h1>Sign out of the test provider?</h1>${form}
           <button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>`,
        );
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<h1>Signed out of the test provider</h1>');
      },
    },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<h1>Provider error</h1><pre>${JSON.stringify(out).replace(/</g, '&lt;')}</pre>`);
  },
};

const port = Number(env('OIDC_TEST_PORT', '0'));
// The issuer must be known before listening; with port 0, listen first and learn it.
const server = (await import('node:http')).createServer();
await new Promise((done) => server.listen(port, '127.0.0.1', done));
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, configuration);
provider.on('server_error', (_ctx, error) => console.error('[oidc] server error', error));
const callback = provider.callback();
server.on('request', (request, response) => {
  console.error(`[oidc] ${request.method} ${request.url}`);
  callback(request, response);
});
console.log(JSON.stringify({ issuer }));
// Standard output carries that one line; whoever started the provider may stop reading it
// (oidc-provider's own notices go to the log instead).
console.log = console.info = (...args) => console.error(...args);
