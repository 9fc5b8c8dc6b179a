// One typed GraphQL call over plain fetch: the document fixes both the variables and the answer.
import type { TypedDocumentString } from './gql/graphql.js';

/** A top-level GraphQL error: no union member fits it (UNAUTHENTICATED, SERVICE_UNAVAILABLE, ...). */
export class GraphQLErrors extends Error {
  constructor(readonly errors: ReadonlyArray<{ message: string; extensions?: { code?: string } }>) {
    super(errors.map((error) => `${error.extensions?.code ?? 'ERROR'}: ${error.message}`).join('; '));
  }

  /** The extensions.code of each error, e.g. ['UNAUTHENTICATED']. */
  get codes(): Array<string | undefined> {
    return this.errors.map((error) => error.extensions?.code);
  }
}

export async function execute<TResult, TVariables>(
  url: string,
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
  accessToken?: string,
): Promise<TResult> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (accessToken) headers.Authorization = `Bearer ${accessToken}`;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const body = (await response.json()) as { data?: TResult | null; errors?: GraphQLErrors['errors'] };
  if (body.errors?.length) throw new GraphQLErrors(body.errors);
  if (!response.ok || body.data == null) throw new Error(`HTTP ${response.status} without data`);
  return body.data;
}
