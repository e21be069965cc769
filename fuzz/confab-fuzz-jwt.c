/* confab-fuzz-jwt.c: libFuzzer target for the room-token parser
 * (server/confab-jwt.c). Inputs are tried both as they are and re-signed with
 * the fuzz secret, so the claim parsing behind the signature check is reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "confab-jwt.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const guint8 secret[] = "fuzz-secret";

static void
try_token (const char *token)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabJwtClaims) claims =
      confab_jwt_verify (token, secret, sizeof secret - 1, 1700000000, &error);

  if ((claims == NULL) == (error == NULL))
    abort ();
  if (claims != NULL && (claims->sub == NULL || claims->room == NULL))
    abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  g_autofree char *signed_token = NULL;

  try_token (text);
  /* The same bytes as a claims object behind a valid signature. */
  signed_token = confab_jwt_sign (text, secret, sizeof secret - 1);
  if (signed_token != NULL)
    try_token (signed_token);
  return 0;
}
