// Signs in, reads the profile, refreshes, logs out, and checks the old tokens are dead, against a
// running authql. Usage: node dist/smoke.js <graphql url> <email> <password>. Exits 1 on any failure.
import { execute, GraphQLErrors } from './execute.js';
import { LoginDocument, LogoutDocument, MeDocument, RefreshTokensDocument } from './gql/graphql.js';

function check(condition: boolean, what: string): asserts condition {
  if (!condition) throw new Error(`failed: ${what}`);
}

async function main(url: string, email: string, password: string): Promise<void> {
  const { login } = await execute(url, LoginDocument, { email, password });
  // A Problem member (InvalidCredentials, RateLimited) is an answer, not an exception; so is
  // SecondFactorRequired, which this script (for accounts without two-factor) does not finish.
  if (login.__typename === 'SecondFactorRequired') throw new Error('login: a second factor is required');
  if (login.__typename !== 'AuthPayload') throw new Error(`login: ${login.__typename}: ${login.message}`);
  check(login.user.email === email, 'login answers the user');
  console.log(`login: session ${login.sessionId}`);

  const { me } = await execute(url, MeDocument, {}, login.accessToken);
  check(me.email === email && !Number.isNaN(Date.parse(me.createdAt)), 'me reads the profile');
  console.log(`me: ${me.firstName} ${me.lastName}, since ${new Date(me.createdAt).toISOString()}`);

  const { refreshTokens } = await execute(url, RefreshTokensDocument, { refreshToken: login.refreshToken });
  if (refreshTokens.__typename !== 'AuthPayload') throw new Error(`refresh: ${refreshTokens.message}`);
  check(refreshTokens.sessionId === login.sessionId, 'refresh keeps the session');
  check(refreshTokens.refreshToken !== login.refreshToken, 'refresh rotates the refresh token');
  console.log('refreshTokens: rotated');

  const { logout } = await execute(url, LogoutDocument, { scope: 'CURRENT' }, refreshTokens.accessToken);
  check(logout.revokedSessions === 1, 'logout ends this session');
  console.log(`logout: ${logout.revokedSessions} session ended`);

  // A top-level error carries its extensions.code: the logged-out access token is refused.
  try {
    await execute(url, MeDocument, {}, refreshTokens.accessToken);
    throw new Error('failed: me with a logged-out token was answered');
  } catch (error) {
    if (!(error instanceof GraphQLErrors)) throw error;
    check(error.codes.includes('UNAUTHENTICATED'), `me after logout is UNAUTHENTICATED (${error.message})`);
  }
  const again = await execute(url, RefreshTokensDocument, { refreshToken: refreshTokens.refreshToken });
  check(again.refreshTokens.__typename === 'InvalidRefreshToken', 'the ended session does not refresh');
  console.log('after logout: UNAUTHENTICATED, InvalidRefreshToken');
}

const [url, email, password] = process.argv.slice(2);
if (!url || !email || !password) {
  console.error('usage: node dist/smoke.js <graphql url> <email> <password>');
  process.exit(2);
}
main(url, email, password).then(
  () => console.log('ok'),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
