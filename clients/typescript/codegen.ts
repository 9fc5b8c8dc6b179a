// graphql-codegen's client preset: typed documents for clients/operations/*.graphql.
// Regenerate: npm run codegen --prefix clients/typescript
// AUTHQL_CODEGEN_OUT sends the output elsewhere (the drift test compares it with src/gql/).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['../operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    [process.env.AUTHQL_CODEGEN_OUT ?? './src/gql/']: {
      preset: 'client',
      // Plain fetch needs no GraphQL runtime: each document is its query string, typed.
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: 'string',
        // RFC 3339 in UTC, e.g. 2026-11-30T19:16:00.123000+00:00; `new Date(value)` reads it.
        scalars: { DateTime: 'string' },
        enumsAsTypes: true,
        useTypeImports: true,
        emitLegacyCommonJSImports: false,
      },
    },
  },
};

export default config;
