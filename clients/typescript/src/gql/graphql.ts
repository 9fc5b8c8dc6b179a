/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
export type LogoutScope =
  /** Every session of the user. */
  | 'ALL'
  /** Only the session of the access token used. */
  | 'CURRENT'
  /** Every session of the user except the current one. */
  | 'OTHERS';

export type ProfileInput = {
  firstName: string;
  lastName: string;
  phone?: string | null | undefined;
};

/** Fields left null are unchanged; phone: "" clears the phone. */
export type ProfileUpdateInput = {
  firstName?: string | null | undefined;
  lastName?: string | null | undefined;
  phone?: string | null | undefined;
};

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } };

export type UpdateProfileMutationVariables = Exact<{
  input: ProfileUpdateInput;
}>;


export type UpdateProfileMutation = { updateProfile:
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'ProfileUpdated', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } }
   };

export type ChangePasswordMutationVariables = Exact<{
  currentPassword: string;
  newPassword: string;
}>;


export type ChangePasswordMutation = { changePassword:
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'WeakPassword', message: string, reasons: Array<string> }
   };

export type DeleteAccountMutationVariables = Exact<{
  password: string;
}>;


export type DeleteAccountMutation = { deleteAccount:
    | { __typename: 'AccountDeleted', id: string }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type UserFieldsFragment = { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string };

export type SignedInFragment = { accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } };

export type StartPasswordResetMutationVariables = Exact<{
  email: string;
}>;


export type StartPasswordResetMutation = { startPasswordReset:
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'PasswordResetStarted', resetId: string, expiresAt: string, resendAvailableAt: string, codeLength: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type ResendPasswordResetCodeMutationVariables = Exact<{
  resetId: string | number;
}>;


export type ResendPasswordResetCodeMutation = { resendPasswordResetCode:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'PasswordResetCodeSent', expiresAt: string, resendAvailableAt: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type CompletePasswordResetMutationVariables = Exact<{
  resetId: string | number;
  code: string;
  newPassword: string;
}>;


export type CompletePasswordResetMutation = { completePasswordReset:
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'WeakPassword', message: string, reasons: Array<string> }
   };

export type StartRegistrationMutationVariables = Exact<{
  email: string;
}>;


export type StartRegistrationMutation = { startRegistration:
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RegistrationStarted', registrationId: string, expiresAt: string, resendAvailableAt: string, codeLength: number }
   };

export type ResendRegistrationCodeMutationVariables = Exact<{
  registrationId: string | number;
}>;


export type ResendRegistrationCodeMutation = { resendRegistrationCode:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RegistrationCodeSent', expiresAt: string, resendAvailableAt: string }
   };

export type VerifyRegistrationCodeMutationVariables = Exact<{
  registrationId: string | number;
  code: string;
}>;


export type VerifyRegistrationCodeMutation = { verifyRegistrationCode:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RegistrationVerified', registrationToken: string, expiresAt: string }
   };

export type SetRegistrationPasswordMutationVariables = Exact<{
  registrationToken: string;
  password: string;
}>;


export type SetRegistrationPasswordMutation = { setRegistrationPassword:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RegistrationPasswordSet', expiresAt: string }
    | { __typename: 'WeakPassword', message: string, reasons: Array<string> }
   };

export type CompleteRegistrationMutationVariables = Exact<{
  registrationToken: string;
  profile: ProfileInput;
}>;


export type CompleteRegistrationMutation = { completeRegistration:
    | { __typename: 'AccountExists', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
   };

export type LoginMutationVariables = Exact<{
  email: string;
  password: string;
}>;


export type LoginMutation = { login:
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type RefreshTokensMutationVariables = Exact<{
  refreshToken: string;
}>;


export type RefreshTokensMutation = { refreshTokens:
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string } }
    | { __typename: 'InvalidRefreshToken', message: string }
   };

export type LogoutMutationVariables = Exact<{
  scope?: LogoutScope;
}>;


export type LogoutMutation = { logout: { revokedSessions: number } };

export type SessionsQueryVariables = Exact<{ [key: string]: never; }>;


export type SessionsQuery = { sessions: Array<{ id: string, createdAt: string, lastUsedAt: string, expiresAt: string, userAgent: string | null, ipAddress: string | null, current: boolean }> };

export type RevokeSessionMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeSessionMutation = { revokeSession:
    | { __typename: 'NotFound', message: string }
    | { __typename: 'SessionRevoked', id: string }
   };

export class TypedDocumentString<TResult, TVariables>
  extends String
  implements DocumentTypeDecoration<TResult, TVariables>
{
  __apiType?: NonNullable<DocumentTypeDecoration<TResult, TVariables>['__apiType']>;
  private value: string;
  public __meta__?: Record<string, any> | undefined;

  constructor(value: string, __meta__?: Record<string, any> | undefined) {
    super(value);
    this.value = value;
    this.__meta__ = __meta__;
  }

  override toString(): string & DocumentTypeDecoration<TResult, TVariables> {
    return this.value;
  }
}
export const UserFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}
    `, {"fragmentName":"UserFields"}) as unknown as TypedDocumentString<UserFieldsFragment, unknown>;
export const SignedInFragmentDoc = new TypedDocumentString(`
    fragment SignedIn on AuthPayload {
  accessToken
  tokenType
  expiresIn
  refreshToken
  refreshExpiresIn
  sessionId
  user {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}`, {"fragmentName":"SignedIn"}) as unknown as TypedDocumentString<SignedInFragment, unknown>;
export const MeDocument = new TypedDocumentString(`
    query Me {
  me {
    ...UserFields
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<MeQuery, MeQueryVariables>;
export const UpdateProfileDocument = new TypedDocumentString(`
    mutation UpdateProfile($input: ProfileUpdateInput!) {
  updateProfile(input: $input) {
    __typename
    ... on ProfileUpdated {
      user {
        ...UserFields
      }
    }
    ... on Problem {
      message
    }
    ... on InvalidInput {
      fields {
        field
        message
      }
    }
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}`) as unknown as TypedDocumentString<UpdateProfileMutation, UpdateProfileMutationVariables>;
export const ChangePasswordDocument = new TypedDocumentString(`
    mutation ChangePassword($currentPassword: String!, $newPassword: String!) {
  changePassword(currentPassword: $currentPassword, newPassword: $newPassword) {
    __typename
    ...SignedIn
    ... on Problem {
      message
    }
    ... on WeakPassword {
      reasons
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}
fragment SignedIn on AuthPayload {
  accessToken
  tokenType
  expiresIn
  refreshToken
  refreshExpiresIn
  sessionId
  user {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<ChangePasswordMutation, ChangePasswordMutationVariables>;
export const DeleteAccountDocument = new TypedDocumentString(`
    mutation DeleteAccount($password: String!) {
  deleteAccount(password: $password) {
    __typename
    ... on AccountDeleted {
      id
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<DeleteAccountMutation, DeleteAccountMutationVariables>;
export const StartPasswordResetDocument = new TypedDocumentString(`
    mutation StartPasswordReset($email: String!) {
  startPasswordReset(email: $email) {
    __typename
    ... on PasswordResetStarted {
      resetId
      expiresAt
      resendAvailableAt
      codeLength
    }
    ... on Problem {
      message
    }
    ... on InvalidInput {
      fields {
        field
        message
      }
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<StartPasswordResetMutation, StartPasswordResetMutationVariables>;
export const ResendPasswordResetCodeDocument = new TypedDocumentString(`
    mutation ResendPasswordResetCode($resetId: ID!) {
  resendPasswordResetCode(resetId: $resetId) {
    __typename
    ... on PasswordResetCodeSent {
      expiresAt
      resendAvailableAt
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<ResendPasswordResetCodeMutation, ResendPasswordResetCodeMutationVariables>;
export const CompletePasswordResetDocument = new TypedDocumentString(`
    mutation CompletePasswordReset($resetId: ID!, $code: String!, $newPassword: String!) {
  completePasswordReset(resetId: $resetId, code: $code, newPassword: $newPassword) {
    __typename
    ...SignedIn
    ... on Problem {
      message
    }
    ... on InvalidCode {
      attemptsLeft
    }
    ... on WeakPassword {
      reasons
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}
fragment SignedIn on AuthPayload {
  accessToken
  tokenType
  expiresIn
  refreshToken
  refreshExpiresIn
  sessionId
  user {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<CompletePasswordResetMutation, CompletePasswordResetMutationVariables>;
export const StartRegistrationDocument = new TypedDocumentString(`
    mutation StartRegistration($email: String!) {
  startRegistration(email: $email) {
    __typename
    ... on RegistrationStarted {
      registrationId
      expiresAt
      resendAvailableAt
      codeLength
    }
    ... on Problem {
      message
    }
    ... on InvalidInput {
      fields {
        field
        message
      }
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<StartRegistrationMutation, StartRegistrationMutationVariables>;
export const ResendRegistrationCodeDocument = new TypedDocumentString(`
    mutation ResendRegistrationCode($registrationId: ID!) {
  resendRegistrationCode(registrationId: $registrationId) {
    __typename
    ... on RegistrationCodeSent {
      expiresAt
      resendAvailableAt
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<ResendRegistrationCodeMutation, ResendRegistrationCodeMutationVariables>;
export const VerifyRegistrationCodeDocument = new TypedDocumentString(`
    mutation VerifyRegistrationCode($registrationId: ID!, $code: String!) {
  verifyRegistrationCode(registrationId: $registrationId, code: $code) {
    __typename
    ... on RegistrationVerified {
      registrationToken
      expiresAt
    }
    ... on Problem {
      message
    }
    ... on InvalidCode {
      attemptsLeft
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<VerifyRegistrationCodeMutation, VerifyRegistrationCodeMutationVariables>;
export const SetRegistrationPasswordDocument = new TypedDocumentString(`
    mutation SetRegistrationPassword($registrationToken: String!, $password: String!) {
  setRegistrationPassword(
    registrationToken: $registrationToken
    password: $password
  ) {
    __typename
    ... on RegistrationPasswordSet {
      expiresAt
    }
    ... on Problem {
      message
    }
    ... on WeakPassword {
      reasons
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<SetRegistrationPasswordMutation, SetRegistrationPasswordMutationVariables>;
export const CompleteRegistrationDocument = new TypedDocumentString(`
    mutation CompleteRegistration($registrationToken: String!, $profile: ProfileInput!) {
  completeRegistration(registrationToken: $registrationToken, profile: $profile) {
    __typename
    ...SignedIn
    ... on Problem {
      message
    }
    ... on InvalidInput {
      fields {
        field
        message
      }
    }
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}
fragment SignedIn on AuthPayload {
  accessToken
  tokenType
  expiresIn
  refreshToken
  refreshExpiresIn
  sessionId
  user {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<CompleteRegistrationMutation, CompleteRegistrationMutationVariables>;
export const LoginDocument = new TypedDocumentString(`
    mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) {
    __typename
    ...SignedIn
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}
fragment SignedIn on AuthPayload {
  accessToken
  tokenType
  expiresIn
  refreshToken
  refreshExpiresIn
  sessionId
  user {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<LoginMutation, LoginMutationVariables>;
export const RefreshTokensDocument = new TypedDocumentString(`
    mutation RefreshTokens($refreshToken: String!) {
  refreshTokens(refreshToken: $refreshToken) {
    __typename
    ...SignedIn
    ... on Problem {
      message
    }
  }
}
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
}
fragment SignedIn on AuthPayload {
  accessToken
  tokenType
  expiresIn
  refreshToken
  refreshExpiresIn
  sessionId
  user {
    ...UserFields
  }
}`) as unknown as TypedDocumentString<RefreshTokensMutation, RefreshTokensMutationVariables>;
export const LogoutDocument = new TypedDocumentString(`
    mutation Logout($scope: LogoutScope! = CURRENT) {
  logout(scope: $scope) {
    revokedSessions
  }
}
    `) as unknown as TypedDocumentString<LogoutMutation, LogoutMutationVariables>;
export const SessionsDocument = new TypedDocumentString(`
    query Sessions {
  sessions {
    id
    createdAt
    lastUsedAt
    expiresAt
    userAgent
    ipAddress
    current
  }
}
    `) as unknown as TypedDocumentString<SessionsQuery, SessionsQueryVariables>;
export const RevokeSessionDocument = new TypedDocumentString(`
    mutation RevokeSession($id: ID!) {
  revokeSession(id: $id) {
    __typename
    ... on SessionRevoked {
      id
    }
    ... on Problem {
      message
    }
  }
}
    `) as unknown as TypedDocumentString<RevokeSessionMutation, RevokeSessionMutationVariables>;