/* confab-jwt.c: HS256 room tokens via gnutls_hmac_fast and json-glib. */
#define G_LOG_DOMAIN "confab-jwt"

#include "confab-jwt.h"

#include <gnutls/crypto.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* A room token is a few hundred bytes; refuse absurd ones before decoding. */
#define CONFAB_JWT_MAX_LENGTH 8192

G_DEFINE_QUARK (confab - jwt - error - quark, confab_jwt_error)

void
confab_jwt_claims_free (ConfabJwtClaims *claims)
{
  if (claims == NULL)
    return;
  g_free (claims->sub);
  g_free (claims->room);
  g_free (claims->display_name);
  g_free (claims);
}

/* base64url without padding -> bytes; NULL on any character outside the alphabet. */
static guint8 *
base64url_decode (const char *in, gsize in_len, gsize *out_len)
{
  g_autofree char *std = NULL;
  gsize padded;

  if (in_len % 4 == 1)
    return NULL;
  padded = (in_len + 3) / 4 * 4;
  std = g_malloc (padded + 1);
  for (gsize i = 0; i < in_len; i++)
    {
      char c = in[i];
      if (c == '-')
        c = '+';
      else if (c == '_')
        c = '/';
      else if (!(g_ascii_isalnum (c)))
        return NULL;
      std[i] = c;
    }
  for (gsize i = in_len; i < padded; i++)
    std[i] = '=';
  std[padded] = '\0';
  return g_base64_decode (std, out_len);
}

static char *
base64url_encode (const guint8 *data, gsize len)
{
  char *s = g_base64_encode (data, len);
  gsize n = strlen (s);

  while (n > 0 && s[n - 1] == '=')
    s[--n] = '\0';
  for (char *p = s; *p != '\0'; p++)
    {
      if (*p == '+')
        *p = '-';
      else if (*p == '/')
        *p = '_';
    }
  return s;
}

static gboolean
constant_time_equal (const guint8 *a, const guint8 *b, gsize len)
{
  guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

static JsonObject *
parse_object (const guint8 *text, gsize len, JsonParser *parser)
{
  JsonNode *root;

  if (!json_parser_load_from_data (parser, (const char *) text, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return json_node_get_object (root);
}

static const char *
member_string (JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

static gboolean
member_bool (JsonObject *obj, const char *name)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return FALSE;
  return json_node_get_boolean (node);
}

static gboolean
member_int (JsonObject *obj, const char *name, gint64 *out)
{
  JsonNode *node = json_object_get_member (obj, name);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *out = json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *out = (gint64) json_node_get_double (node);
  else
    return FALSE;
  return TRUE;
}

static gboolean
invalid (GError **error, const char *why)
{
  g_set_error (error, CONFAB_JWT_ERROR, CONFAB_JWT_ERROR_INVALID, "invalid token: %s", why);
  return FALSE;
}

ConfabJwtClaims *
confab_jwt_verify (
    const char *token, const guint8 *secret, gsize secret_len, gint64 now_s, GError **error)
{
  g_autoptr (JsonParser) header_parser = NULL;
  g_autoptr (JsonParser) payload_parser = NULL;
  g_autoptr (ConfabJwtClaims) claims = NULL;
  g_autofree guint8 *header = NULL;
  g_autofree guint8 *payload = NULL;
  g_autofree guint8 *signature = NULL;
  guint8 expected[32];
  const char *dot1, *dot2, *alg, *iss, *s;
  gsize token_len, header_len, payload_len, signature_len;
  JsonObject *obj;

  if (token == NULL)
    return (invalid (error, "missing"), NULL);
  token_len = strnlen (token, CONFAB_JWT_MAX_LENGTH + 1);
  if (token_len > CONFAB_JWT_MAX_LENGTH)
    return (invalid (error, "too long"), NULL);
  dot1 = memchr (token, '.', token_len);
  dot2 = dot1 != NULL ? memchr (dot1 + 1, '.', token_len - (gsize) (dot1 + 1 - token)) : NULL;
  if (dot1 == NULL || dot2 == NULL ||
      memchr (dot2 + 1, '.', token_len - (gsize) (dot2 + 1 - token)) != NULL)
    return (invalid (error, "not three parts"), NULL);

  /* Signature first: nothing in an unauthenticated token is believed. */
  signature = base64url_decode (dot2 + 1, token_len - (gsize) (dot2 + 1 - token), &signature_len);
  if (signature == NULL || signature_len != sizeof expected)
    return (invalid (error, "bad signature encoding"), NULL);
  if (gnutls_hmac_fast (GNUTLS_MAC_SHA256, secret, secret_len, token, (gsize) (dot2 - token),
                        expected) < 0)
    return (invalid (error, "hmac failed"), NULL);
  if (!constant_time_equal (expected, signature, sizeof expected))
    return (invalid (error, "signature mismatch"), NULL);

  header = base64url_decode (token, (gsize) (dot1 - token), &header_len);
  payload = base64url_decode (dot1 + 1, (gsize) (dot2 - dot1 - 1), &payload_len);
  if (header == NULL || payload == NULL)
    return (invalid (error, "bad base64url"), NULL);

  header_parser = json_parser_new ();
  obj = parse_object (header, header_len, header_parser);
  if (obj == NULL)
    return (invalid (error, "header is not a JSON object"), NULL);
  alg = member_string (obj, "alg");
  if (g_strcmp0 (alg, "HS256") != 0)
    return (invalid (error, "alg is not HS256"), NULL);

  payload_parser = json_parser_new ();
  obj = parse_object (payload, payload_len, payload_parser);
  if (obj == NULL)
    return (invalid (error, "payload is not a JSON object"), NULL);

  claims = g_new0 (ConfabJwtClaims, 1);
  if (!member_int (obj, "exp", &claims->exp))
    return (invalid (error, "no exp"), NULL);
  iss = member_string (obj, "iss");
  if (g_strcmp0 (iss, CONFAB_JWT_ISSUER) != 0)
    return (invalid (error, "wrong issuer"), NULL);
  s = member_string (obj, "sub");
  if (s == NULL)
    return (invalid (error, "no sub"), NULL);
  claims->sub = g_strdup (s);
  s = member_string (obj, "room");
  if (s == NULL)
    return (invalid (error, "no room"), NULL);
  claims->room = g_strdup (s);
  claims->display_name = g_strdup (member_string (obj, "display_name"));
  claims->room_join = member_bool (obj, "room_join");
  claims->is_host = member_bool (obj, "is_host");
  claims->observer = member_bool (obj, "observer");

  if (claims->exp <= now_s)
    {
      g_set_error (error, CONFAB_JWT_ERROR, CONFAB_JWT_ERROR_EXPIRED, "token expired");
      return NULL;
    }
  if (!claims->room_join && !claims->observer)
    return (invalid (error, "neither room_join nor observer"), NULL);

  return g_steal_pointer (&claims);
}

char *
confab_jwt_sign (const char *claims_json, const guint8 *secret, gsize secret_len)
{
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  g_autofree char *h = base64url_encode ((const guint8 *) header, sizeof header - 1);
  g_autofree char *p = base64url_encode ((const guint8 *) claims_json, strlen (claims_json));
  g_autofree char *signing_input = g_strconcat (h, ".", p, NULL);
  g_autofree char *s = NULL;
  guint8 mac[32];

  if (gnutls_hmac_fast (GNUTLS_MAC_SHA256, secret, secret_len, signing_input,
                        strlen (signing_input), mac) < 0)
    return NULL;
  s = base64url_encode (mac, sizeof mac);
  return g_strconcat (signing_input, ".", s, NULL);
}
