/* confab-jwt.h: room tokens (PROTOCOL.md §3): HS256 JWTs checked against a shared
 * secret, with the claims the relay needs to admit a session. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CONFAB_JWT_ERROR (confab_jwt_error_quark ())

typedef enum
{
  /* Well-formed and correctly signed, but past its "exp": HTTP 401. */
  CONFAB_JWT_ERROR_EXPIRED,
  /* Anything else (syntax, algorithm, signature, issuer, claims): HTTP 403. */
  CONFAB_JWT_ERROR_INVALID,
} ConfabJwtError;

#define CONFAB_JWT_ISSUER "videocall-meeting-backend"

typedef struct
{
  char *sub; /* user id */
  char *room;
  char *display_name; /* may be NULL */
  gboolean room_join;
  gboolean is_host;
  gboolean observer;
  gint64 exp; /* seconds since the epoch */
} ConfabJwtClaims;

GQuark confab_jwt_error_quark (void);

/* Verifies @token (compact JWS) with HMAC-SHA256 over @secret and returns its
 * claims, or NULL with @error set. @now_s is the current epoch time in seconds
 * (passed in so the check is a pure function, and testable). The signature is
 * compared in constant time and checked before any claim is believed. */
ConfabJwtClaims *confab_jwt_verify (
    const char *token, const guint8 *secret, gsize secret_len, gint64 now_s, GError **error);
void confab_jwt_claims_free (ConfabJwtClaims *claims);

/* Makes a token (for tests and tools); @claims_json is the payload object. */
char *confab_jwt_sign (const char *claims_json, const guint8 *secret, gsize secret_len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ConfabJwtClaims, confab_jwt_claims_free)

G_END_DECLS
