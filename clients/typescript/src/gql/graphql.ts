/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { DocumentTypeDecoration } from '@graphql-typed-document-node/core';
/** Which of the signed-in user's sessions logout ends. */
export type LogoutScope =
  /** Every session of the user. */
  | 'ALL'
  /** Only the session of the access token used. */
  | 'CURRENT'
  /** Every session of the user except the current one. */
  | 'OTHERS';

/** The new account's profile, given at registration step 4. */
export type ProfileInput = {
  /** First name: 1-100 characters with at least one letter. */
  firstName: string;
  /** Last name: 1-100 characters with at least one letter. */
  lastName: string;
  /** Phone number in international form (e.g. +14155550123), optional. */
  phone?: string | null | undefined;
};

/** Fields left null are unchanged; phone: "" clears the phone. */
export type ProfileUpdateInput = {
  /** New first name: 1-100 characters with a letter; null keeps it. */
  firstName?: string | null | undefined;
  /** New last name: 1-100 characters with a letter; null keeps it. */
  lastName?: string | null | undefined;
  /** New phone number, E.164 (e.g. +14155550123); "" clears it, null keeps it. */
  phone?: string | null | undefined;
};

/** A way to answer a second-factor challenge. */
export type SecondFactorMethod =
  /** One of the single-use recovery codes shown when two-factor was turned on. */
  | 'RECOVERY_CODE'
  /** A 6-digit code from an authenticator app. */
  | 'TOTP';

export type SecondFactorNeededFragment = { challengeId: string, expiresAt: string, methods: Array<SecondFactorMethod> };

export type StartCodeLoginMutationVariables = Exact<{
  email: string;
}>;


export type StartCodeLoginMutation = { startCodeLogin:
    | { __typename: 'CodeLoginStarted', loginId: string, expiresAt: string, resendAvailableAt: string, codeLength: number }
    | { __typename: 'InvalidInput', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type CompleteCodeLoginMutationVariables = Exact<{
  loginId: string | number;
  code: string;
}>;


export type CompleteCodeLoginMutation = { completeCodeLogin:
    | { __typename: 'AccountDisabled', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'SecondFactorRequired', challengeId: string, expiresAt: string, methods: Array<SecondFactorMethod> }
   };

export type VerifySecondFactorMutationVariables = Exact<{
  challengeId: string | number;
  code: string;
}>;


export type VerifySecondFactorMutation = { verifySecondFactor:
    | { __typename: 'AccountDisabled', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type EnrollTotpMutationVariables = Exact<{
  password: string;
}>;


export type EnrollTotpMutation = { enrollTotp:
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'TotpEnrollment', secret: string, otpauthUri: string, qrSvg: string }
    | { __typename: 'TwoFactorAlreadyEnabled', message: string }
   };

export type ConfirmTotpMutationVariables = Exact<{
  code: string;
}>;


export type ConfirmTotpMutation = { confirmTotp:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'TotpEnabled', recoveryCodes: Array<string> }
   };

export type DisableTotpMutationVariables = Exact<{
  password: string;
  code: string;
}>;


export type DisableTotpMutation = { disableTotp:
    | { __typename: 'InvalidCode', message: string }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'TotpDisabled', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
   };

export type RegenerateRecoveryCodesMutationVariables = Exact<{
  password: string;
  code: string;
}>;


export type RegenerateRecoveryCodesMutation = { regenerateRecoveryCodes:
    | { __typename: 'InvalidCode', message: string }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RecoveryCodes', codes: Array<string> }
   };

export type StartEmailChangeMutationVariables = Exact<{
  newEmail: string;
  password: string;
  code?: string | null | undefined;
}>;


export type StartEmailChangeMutation = { startEmailChange:
    | { __typename: 'EmailChangeStarted', changeId: string, expiresAt: string, resendAvailableAt: string, codeLength: number }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'InvalidInput', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type ConfirmEmailChangeMutationVariables = Exact<{
  changeId: string | number;
  code: string;
}>;


export type ConfirmEmailChangeMutation = { confirmEmailChange:
    | { __typename: 'AccountExists', message: string }
    | { __typename: 'EmailChanged', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } };

export type UpdateProfileMutationVariables = Exact<{
  input: ProfileUpdateInput;
}>;


export type UpdateProfileMutation = { updateProfile:
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'ProfileUpdated', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
   };

export type ChangePasswordMutationVariables = Exact<{
  currentPassword: string;
  newPassword: string;
  code?: string | null | undefined;
}>;


export type ChangePasswordMutation = { changePassword:
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'WeakPassword', message: string, reasons: Array<string> }
   };

export type DeleteAccountMutationVariables = Exact<{
  password: string;
  code?: string | null | undefined;
}>;


export type DeleteAccountMutation = { deleteAccount:
    | { __typename: 'AccountDeleted', id: string }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type UserFieldsFragment = { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number };

export type SignedInFragment = { accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } };

export type PasskeyFieldsFragment = { id: string, name: string, createdAt: string, lastUsedAt: string | null, backedUp: boolean };

export type PasskeyChallengeFragment = { challengeId: string, optionsJson: string, expiresAt: string };

export type MyPasskeysQueryVariables = Exact<{ [key: string]: never; }>;


export type MyPasskeysQuery = { me: { passkeys: Array<{ id: string, name: string, createdAt: string, lastUsedAt: string | null, backedUp: boolean }> } };

export type StartPasskeyRegistrationMutationVariables = Exact<{ [key: string]: never; }>;


export type StartPasskeyRegistrationMutation = { startPasskeyRegistration:
    | { __typename: 'PasskeyOptions', challengeId: string, optionsJson: string, expiresAt: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'ReauthenticationRequired', message: string }
   };

export type FinishPasskeyRegistrationMutationVariables = Exact<{
  challengeId: string | number;
  credentialJson: string;
  name?: string | null | undefined;
}>;


export type FinishPasskeyRegistrationMutation = { finishPasskeyRegistration:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'PasskeyAdded', passkey: { id: string, name: string, createdAt: string, lastUsedAt: string | null, backedUp: boolean } }
    | { __typename: 'PasskeyRejected', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type StartPasskeySignInMutationVariables = Exact<{
  email?: string | null | undefined;
}>;


export type StartPasskeySignInMutation = { startPasskeySignIn:
    | { __typename: 'PasskeyOptions', challengeId: string, optionsJson: string, expiresAt: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type FinishPasskeySignInMutationVariables = Exact<{
  challengeId: string | number;
  credentialJson: string;
}>;


export type FinishPasskeySignInMutation = { finishPasskeySignIn:
    | { __typename: 'AccountDisabled', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'PasskeyRejected', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
   };

export type RenamePasskeyMutationVariables = Exact<{
  id: string | number;
  name: string;
}>;


export type RenamePasskeyMutation = { renamePasskey:
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'NotFound', message: string }
    | { __typename: 'PasskeyRenamed', passkey: { id: string, name: string, createdAt: string, lastUsedAt: string | null, backedUp: boolean } }
   };

export type RemovePasskeyMutationVariables = Exact<{
  id: string | number;
}>;


export type RemovePasskeyMutation = { removePasskey:
    | { __typename: 'LastSignInMethod', message: string }
    | { __typename: 'NotFound', message: string }
    | { __typename: 'PasskeyRemoved', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number, passkeys: Array<{ id: string, name: string, createdAt: string, lastUsedAt: string | null, backedUp: boolean }> } }
    | { __typename: 'ReauthenticationRequired', message: string }
   };

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
    | { __typename: 'AccountDisabled', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidCode', message: string, attemptsLeft: number }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'SecondFactorRequired', challengeId: string, expiresAt: string, methods: Array<SecondFactorMethod> }
    | { __typename: 'WeakPassword', message: string, reasons: Array<string> }
   };

export type StartRegistrationMutationVariables = Exact<{
  email: string;
}>;


export type StartRegistrationMutation = { startRegistration:
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RegistrationStarted', registrationId: string, expiresAt: string, resendAvailableAt: string, codeLength: number }
    | { __typename: 'SignUpRefused', message: string }
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
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
   };

export type LoginMutationVariables = Exact<{
  email: string;
  password: string;
}>;


export type LoginMutation = { login:
    | { __typename: 'AccountDisabled', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'InvalidCredentials', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'SecondFactorRequired', challengeId: string, expiresAt: string, methods: Array<SecondFactorMethod> }
   };

export type RefreshTokensMutationVariables = Exact<{
  refreshToken: string;
}>;


export type RefreshTokensMutation = { refreshTokens:
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
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

export type SocialProvidersQueryVariables = Exact<{ [key: string]: never; }>;


export type SocialProvidersQuery = { socialProviders: Array<{ id: string, displayName: string }> };

export type MyIdentitiesQueryVariables = Exact<{ [key: string]: never; }>;


export type MyIdentitiesQuery = { me: { id: string, hasPassword: boolean, identities: Array<{ provider: string, email: string | null, linkedAt: string, lastUsedAt: string | null }> } };

export type StartSocialSignInMutationVariables = Exact<{
  provider: string | number;
  redirectUri: string;
  codeChallenge: string;
}>;


export type StartSocialSignInMutation = { startSocialSignIn:
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'RedirectNotAllowed', message: string }
    | { __typename: 'SocialSignInStarted', authorizationUrl: string, expiresAt: string }
    | { __typename: 'UnknownProvider', message: string }
   };

export type CompleteSocialSignInMutationVariables = Exact<{
  ticket: string | number;
  codeVerifier: string;
  profile?: ProfileInput | null | undefined;
}>;


export type CompleteSocialSignInMutation = { completeSocialSignIn:
    | { __typename: 'AccountDisabled', message: string }
    | { __typename: 'AuthPayload', accessToken: string, tokenType: string, expiresIn: number, refreshToken: string, refreshExpiresIn: number, sessionId: string, user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'InvalidInput', message: string, fields: Array<{ field: string, message: string }> }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'SecondFactorRequired', challengeId: string, expiresAt: string, methods: Array<SecondFactorMethod> }
    | { __typename: 'SignUpRefused', message: string }
    | { __typename: 'SocialAccountExists', message: string }
    | { __typename: 'SocialEmailUnverified', message: string }
   };

export type StartSocialLinkMutationVariables = Exact<{
  provider: string | number;
  redirectUri: string;
  codeChallenge: string;
}>;


export type StartSocialLinkMutation = { startSocialLink:
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'ReauthenticationRequired', message: string }
    | { __typename: 'RedirectNotAllowed', message: string }
    | { __typename: 'SocialSignInStarted', authorizationUrl: string, expiresAt: string }
    | { __typename: 'UnknownProvider', message: string }
   };

export type CompleteSocialLinkMutationVariables = Exact<{
  ticket: string | number;
  codeVerifier: string;
}>;


export type CompleteSocialLinkMutation = { completeSocialLink:
    | { __typename: 'FlowExpired', message: string }
    | { __typename: 'RateLimited', message: string, retryAfterSeconds: number }
    | { __typename: 'SocialIdentityLinked', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
    | { __typename: 'SocialIdentityTaken', message: string }
   };

export type UnlinkSocialIdentityMutationVariables = Exact<{
  provider: string | number;
}>;


export type UnlinkSocialIdentityMutation = { unlinkSocialIdentity:
    | { __typename: 'LastSignInMethod', message: string }
    | { __typename: 'NotFound', message: string }
    | { __typename: 'ReauthenticationRequired', message: string }
    | { __typename: 'SocialIdentityUnlinked', user: { id: string, email: string, firstName: string, lastName: string, phone: string | null, createdAt: string, updatedAt: string, twoFactorEnabled: boolean, recoveryCodesLeft: number } }
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
export const SecondFactorNeededFragmentDoc = new TypedDocumentString(`
    fragment SecondFactorNeeded on SecondFactorRequired {
  challengeId
  expiresAt
  methods
}
    `, {"fragmentName":"SecondFactorNeeded"}) as unknown as TypedDocumentString<SecondFactorNeededFragment, unknown>;
export const UserFieldsFragmentDoc = new TypedDocumentString(`
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
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
  twoFactorEnabled
  recoveryCodesLeft
}`, {"fragmentName":"SignedIn"}) as unknown as TypedDocumentString<SignedInFragment, unknown>;
export const PasskeyFieldsFragmentDoc = new TypedDocumentString(`
    fragment PasskeyFields on Passkey {
  id
  name
  createdAt
  lastUsedAt
  backedUp
}
    `, {"fragmentName":"PasskeyFields"}) as unknown as TypedDocumentString<PasskeyFieldsFragment, unknown>;
export const PasskeyChallengeFragmentDoc = new TypedDocumentString(`
    fragment PasskeyChallenge on PasskeyOptions {
  challengeId
  optionsJson
  expiresAt
}
    `, {"fragmentName":"PasskeyChallenge"}) as unknown as TypedDocumentString<PasskeyChallengeFragment, unknown>;
export const StartCodeLoginDocument = new TypedDocumentString(`
    mutation StartCodeLogin($email: String!) {
  startCodeLogin(email: $email) {
    __typename
    ... on CodeLoginStarted {
      loginId
      expiresAt
      resendAvailableAt
      codeLength
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<StartCodeLoginMutation, StartCodeLoginMutationVariables>;
export const CompleteCodeLoginDocument = new TypedDocumentString(`
    mutation CompleteCodeLogin($loginId: ID!, $code: String!) {
  completeCodeLogin(loginId: $loginId, code: $code) {
    __typename
    ...SignedIn
    ...SecondFactorNeeded
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
    fragment SecondFactorNeeded on SecondFactorRequired {
  challengeId
  expiresAt
  methods
}
fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
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
}`) as unknown as TypedDocumentString<CompleteCodeLoginMutation, CompleteCodeLoginMutationVariables>;
export const VerifySecondFactorDocument = new TypedDocumentString(`
    mutation VerifySecondFactor($challengeId: ID!, $code: String!) {
  verifySecondFactor(challengeId: $challengeId, code: $code) {
    __typename
    ...SignedIn
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
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
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
}`) as unknown as TypedDocumentString<VerifySecondFactorMutation, VerifySecondFactorMutationVariables>;
export const EnrollTotpDocument = new TypedDocumentString(`
    mutation EnrollTotp($password: String!) {
  enrollTotp(password: $password) {
    __typename
    ... on TotpEnrollment {
      secret
      otpauthUri
      qrSvg
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<EnrollTotpMutation, EnrollTotpMutationVariables>;
export const ConfirmTotpDocument = new TypedDocumentString(`
    mutation ConfirmTotp($code: String!) {
  confirmTotp(code: $code) {
    __typename
    ... on TotpEnabled {
      recoveryCodes
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
    `) as unknown as TypedDocumentString<ConfirmTotpMutation, ConfirmTotpMutationVariables>;
export const DisableTotpDocument = new TypedDocumentString(`
    mutation DisableTotp($password: String!, $code: String!) {
  disableTotp(password: $password, code: $code) {
    __typename
    ... on TotpDisabled {
      user {
        ...UserFields
      }
    }
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
  twoFactorEnabled
  recoveryCodesLeft
}`) as unknown as TypedDocumentString<DisableTotpMutation, DisableTotpMutationVariables>;
export const RegenerateRecoveryCodesDocument = new TypedDocumentString(`
    mutation RegenerateRecoveryCodes($password: String!, $code: String!) {
  regenerateRecoveryCodes(password: $password, code: $code) {
    __typename
    ... on RecoveryCodes {
      codes
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<RegenerateRecoveryCodesMutation, RegenerateRecoveryCodesMutationVariables>;
export const StartEmailChangeDocument = new TypedDocumentString(`
    mutation StartEmailChange($newEmail: String!, $password: String!, $code: String) {
  startEmailChange(newEmail: $newEmail, password: $password, code: $code) {
    __typename
    ... on EmailChangeStarted {
      changeId
      expiresAt
      resendAvailableAt
      codeLength
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<StartEmailChangeMutation, StartEmailChangeMutationVariables>;
export const ConfirmEmailChangeDocument = new TypedDocumentString(`
    mutation ConfirmEmailChange($changeId: ID!, $code: String!) {
  confirmEmailChange(changeId: $changeId, code: $code) {
    __typename
    ... on EmailChanged {
      user {
        ...UserFields
      }
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
    fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
}`) as unknown as TypedDocumentString<ConfirmEmailChangeMutation, ConfirmEmailChangeMutationVariables>;
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
  twoFactorEnabled
  recoveryCodesLeft
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
  twoFactorEnabled
  recoveryCodesLeft
}`) as unknown as TypedDocumentString<UpdateProfileMutation, UpdateProfileMutationVariables>;
export const ChangePasswordDocument = new TypedDocumentString(`
    mutation ChangePassword($currentPassword: String!, $newPassword: String!, $code: String) {
  changePassword(
    currentPassword: $currentPassword
    newPassword: $newPassword
    code: $code
  ) {
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
  twoFactorEnabled
  recoveryCodesLeft
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
    mutation DeleteAccount($password: String!, $code: String) {
  deleteAccount(password: $password, code: $code) {
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
export const MyPasskeysDocument = new TypedDocumentString(`
    query MyPasskeys {
  me {
    passkeys {
      ...PasskeyFields
    }
  }
}
    fragment PasskeyFields on Passkey {
  id
  name
  createdAt
  lastUsedAt
  backedUp
}`) as unknown as TypedDocumentString<MyPasskeysQuery, MyPasskeysQueryVariables>;
export const StartPasskeyRegistrationDocument = new TypedDocumentString(`
    mutation StartPasskeyRegistration {
  startPasskeyRegistration {
    __typename
    ...PasskeyChallenge
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment PasskeyChallenge on PasskeyOptions {
  challengeId
  optionsJson
  expiresAt
}`) as unknown as TypedDocumentString<StartPasskeyRegistrationMutation, StartPasskeyRegistrationMutationVariables>;
export const FinishPasskeyRegistrationDocument = new TypedDocumentString(`
    mutation FinishPasskeyRegistration($challengeId: ID!, $credentialJson: String!, $name: String) {
  finishPasskeyRegistration(
    challengeId: $challengeId
    credentialJson: $credentialJson
    name: $name
  ) {
    __typename
    ... on PasskeyAdded {
      passkey {
        ...PasskeyFields
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
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment PasskeyFields on Passkey {
  id
  name
  createdAt
  lastUsedAt
  backedUp
}`) as unknown as TypedDocumentString<FinishPasskeyRegistrationMutation, FinishPasskeyRegistrationMutationVariables>;
export const StartPasskeySignInDocument = new TypedDocumentString(`
    mutation StartPasskeySignIn($email: String) {
  startPasskeySignIn(email: $email) {
    __typename
    ...PasskeyChallenge
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment PasskeyChallenge on PasskeyOptions {
  challengeId
  optionsJson
  expiresAt
}`) as unknown as TypedDocumentString<StartPasskeySignInMutation, StartPasskeySignInMutationVariables>;
export const FinishPasskeySignInDocument = new TypedDocumentString(`
    mutation FinishPasskeySignIn($challengeId: ID!, $credentialJson: String!) {
  finishPasskeySignIn(challengeId: $challengeId, credentialJson: $credentialJson) {
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
  twoFactorEnabled
  recoveryCodesLeft
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
}`) as unknown as TypedDocumentString<FinishPasskeySignInMutation, FinishPasskeySignInMutationVariables>;
export const RenamePasskeyDocument = new TypedDocumentString(`
    mutation RenamePasskey($id: ID!, $name: String!) {
  renamePasskey(id: $id, name: $name) {
    __typename
    ... on PasskeyRenamed {
      passkey {
        ...PasskeyFields
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
    fragment PasskeyFields on Passkey {
  id
  name
  createdAt
  lastUsedAt
  backedUp
}`) as unknown as TypedDocumentString<RenamePasskeyMutation, RenamePasskeyMutationVariables>;
export const RemovePasskeyDocument = new TypedDocumentString(`
    mutation RemovePasskey($id: ID!) {
  removePasskey(id: $id) {
    __typename
    ... on PasskeyRemoved {
      user {
        ...UserFields
        passkeys {
          ...PasskeyFields
        }
      }
    }
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
  twoFactorEnabled
  recoveryCodesLeft
}
fragment PasskeyFields on Passkey {
  id
  name
  createdAt
  lastUsedAt
  backedUp
}`) as unknown as TypedDocumentString<RemovePasskeyMutation, RemovePasskeyMutationVariables>;
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
    ...SecondFactorNeeded
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
    fragment SecondFactorNeeded on SecondFactorRequired {
  challengeId
  expiresAt
  methods
}
fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
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
  twoFactorEnabled
  recoveryCodesLeft
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
    ...SecondFactorNeeded
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    fragment SecondFactorNeeded on SecondFactorRequired {
  challengeId
  expiresAt
  methods
}
fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
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
  twoFactorEnabled
  recoveryCodesLeft
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
export const SocialProvidersDocument = new TypedDocumentString(`
    query SocialProviders {
  socialProviders {
    id
    displayName
  }
}
    `) as unknown as TypedDocumentString<SocialProvidersQuery, SocialProvidersQueryVariables>;
export const MyIdentitiesDocument = new TypedDocumentString(`
    query MyIdentities {
  me {
    id
    hasPassword
    identities {
      provider
      email
      linkedAt
      lastUsedAt
    }
  }
}
    `) as unknown as TypedDocumentString<MyIdentitiesQuery, MyIdentitiesQueryVariables>;
export const StartSocialSignInDocument = new TypedDocumentString(`
    mutation StartSocialSignIn($provider: ID!, $redirectUri: String!, $codeChallenge: String!) {
  startSocialSignIn(
    provider: $provider
    redirectUri: $redirectUri
    codeChallenge: $codeChallenge
  ) {
    __typename
    ... on SocialSignInStarted {
      authorizationUrl
      expiresAt
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<StartSocialSignInMutation, StartSocialSignInMutationVariables>;
export const CompleteSocialSignInDocument = new TypedDocumentString(`
    mutation CompleteSocialSignIn($ticket: ID!, $codeVerifier: String!, $profile: ProfileInput) {
  completeSocialSignIn(
    ticket: $ticket
    codeVerifier: $codeVerifier
    profile: $profile
  ) {
    __typename
    ...SignedIn
    ...SecondFactorNeeded
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
    fragment SecondFactorNeeded on SecondFactorRequired {
  challengeId
  expiresAt
  methods
}
fragment UserFields on User {
  id
  email
  firstName
  lastName
  phone
  createdAt
  updatedAt
  twoFactorEnabled
  recoveryCodesLeft
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
}`) as unknown as TypedDocumentString<CompleteSocialSignInMutation, CompleteSocialSignInMutationVariables>;
export const StartSocialLinkDocument = new TypedDocumentString(`
    mutation StartSocialLink($provider: ID!, $redirectUri: String!, $codeChallenge: String!) {
  startSocialLink(
    provider: $provider
    redirectUri: $redirectUri
    codeChallenge: $codeChallenge
  ) {
    __typename
    ... on SocialSignInStarted {
      authorizationUrl
      expiresAt
    }
    ... on Problem {
      message
    }
    ... on RateLimited {
      retryAfterSeconds
    }
  }
}
    `) as unknown as TypedDocumentString<StartSocialLinkMutation, StartSocialLinkMutationVariables>;
export const CompleteSocialLinkDocument = new TypedDocumentString(`
    mutation CompleteSocialLink($ticket: ID!, $codeVerifier: String!) {
  completeSocialLink(ticket: $ticket, codeVerifier: $codeVerifier) {
    __typename
    ... on SocialIdentityLinked {
      user {
        ...UserFields
      }
    }
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
  twoFactorEnabled
  recoveryCodesLeft
}`) as unknown as TypedDocumentString<CompleteSocialLinkMutation, CompleteSocialLinkMutationVariables>;
export const UnlinkSocialIdentityDocument = new TypedDocumentString(`
    mutation UnlinkSocialIdentity($provider: ID!) {
  unlinkSocialIdentity(provider: $provider) {
    __typename
    ... on SocialIdentityUnlinked {
      user {
        ...UserFields
      }
    }
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
  twoFactorEnabled
  recoveryCodesLeft
}`) as unknown as TypedDocumentString<UnlinkSocialIdentityMutation, UnlinkSocialIdentityMutationVariables>;