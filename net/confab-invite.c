/* confab-invite.c: invite links and /config.js (PROTOCOL.md §6). Parsing is
 * strict because a room name ends up in a relay's NATS subjects: every name is
 * decoded, normalized and validated here, before any connection is made. */
#define G_LOG_DOMAIN "confab-invite"

#include "confab-invite.h"

#include "confab-lws-private.h"
#include "confab-packet.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define CONFIG_MAX_SIZE        (64 * 1024)
#define CONFIG_FETCH_TIMEOUT_S 10

G_DEFINE_QUARK (confab - invite - error - quark, confab_invite_error)

void
confab_invite_free (ConfabInvite *invite)
{
  if (invite == NULL)
    return;
  g_free (invite->ws_base);
  g_free (invite->config_url);
  g_free (invite->room);
  g_free (invite->user);
  g_free (invite->token);
  if (invite->key != NULL)
    memset (invite->key, 0, strlen (invite->key));
  g_free (invite->key);
  g_free (invite);
}

/* Links can be long or hostile; quote only a bounded, printable prefix. */
static char *
quote_link (const char *link)
{
  GString *out = g_string_new (NULL);

  for (const char *p = link; *p != '\0'; p++)
    {
      if (out->len >= 80)
        {
          g_string_append (out, "…");
          break;
        }
      g_string_append_c (out, g_ascii_isprint (*p) ? *p : '?');
    }
  return g_string_free (out, FALSE);
}

static gboolean G_GNUC_PRINTF (3, 4)
    invalid (GError **error, const char *link, const char *format, ...)
{
  g_autofree char *quoted = quote_link (link);
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
               "Invalid invite link “%s”: %s", quoted, reason);
  return FALSE;
}

/* Decodes one %-encoded path segment or parameter value into a valid name. */
static char *
decode_name (const char *encoded,
             gboolean already_decoded,
             const char *what,
             const char *link,
             GError **error)
{
  g_autofree char *decoded = NULL;
  g_autofree char *normalized = NULL;

  if (encoded == NULL || encoded[0] == '\0')
    {
      invalid (error, link, "the %s is missing", what);
      return NULL;
    }
  /* An escaped '/' or NUL, or a broken escape, is never part of a name. */
  decoded = already_decoded ? g_strdup (encoded) : g_uri_unescape_string (encoded, "/");
  if (decoded == NULL)
    {
      invalid (error, link, "the %s has a bad %%-escape", what);
      return NULL;
    }
  normalized = confab_name_normalize (decoded);
  if (!confab_name_is_valid (normalized))
    {
      if (strlen (normalized) > CONFAB_MAX_NAME_LENGTH)
        invalid (error, link, "the %s is longer than %d characters", what, CONFAB_MAX_NAME_LENGTH);
      else
        invalid (error, link, "the %s may only contain letters, digits, '_', '-' and spaces", what);
      return NULL;
    }
  return g_steal_pointer (&normalized);
}

static gboolean
host_is_valid (const char *host)
{
  if (host == NULL || host[0] == '\0' || strlen (host) > 253)
    return FALSE;
  for (const char *p = host; *p != '\0'; p++)
    if (!(g_ascii_isalnum (*p) || *p == '.' || *p == '-' || *p == ':' || *p == '_'))
      return FALSE;
  return TRUE;
}

static char *
origin_of (const char *scheme, const char *host, int port)
{
  gboolean ipv6 = strchr (host, ':') != NULL;

  if (port > 0)
    return g_strdup_printf ("%s://%s%s%s:%d", scheme, ipv6 ? "[" : "", host, ipv6 ? "]" : "", port);
  return g_strdup_printf ("%s://%s%s%s", scheme, ipv6 ? "[" : "", host, ipv6 ? "]" : "");
}

/* Path segments after the leading '/', with one trailing '/' tolerated. */
static char **
split_path (const char *path)
{
  g_autofree char *trimmed = NULL;
  gsize len;

  if (path == NULL || path[0] != '/')
    return g_new0 (char *, 1);
  trimmed = g_strdup (path + 1);
  len = strlen (trimmed);
  if (len > 0 && trimmed[len - 1] == '/')
    trimmed[len - 1] = '\0';
  if (trimmed[0] == '\0')
    return g_new0 (char *, 1);
  return g_strsplit (trimmed, "/", -1);
}

static GHashTable *
parse_params (const char *encoded, const char *link, const char *what, GError **error)
{
  g_autoptr (GError) local_error = NULL;
  GHashTable *params;

  if (encoded == NULL || encoded[0] == '\0')
    return g_hash_table_new (g_str_hash, g_str_equal);
  params = g_uri_parse_params (encoded, -1, "&", G_URI_PARAMS_NONE, &local_error);
  if (params == NULL)
    invalid (error, link, "bad %s: %s", what, local_error->message);
  return params;
}

/* Where plain room names go: @server is a ws[s]:// or http(s):// origin. */
static gboolean
set_default_server (ConfabInvite *invite, const char *server, const char *link, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  if (server == NULL || server[0] == '\0')
    return invalid (error, link, "a plain room name needs a server; use a full invite link");
  uri = g_uri_parse (server, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL || !host_is_valid (g_uri_get_host (uri)))
    return invalid (error, link, "the default server “%s” is not a URL", server);
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "ws") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    invite->ws_base = origin_of (scheme, g_uri_get_host (uri), g_uri_get_port (uri));
  else if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
    {
      g_autofree char *origin = origin_of (scheme, g_uri_get_host (uri), g_uri_get_port (uri));
      invite->config_url = g_strconcat (origin, "/config.js", NULL);
    }
  else
    return invalid (error, link, "the default server “%s” is not ws, wss, http or https", server);
  return TRUE;
}

static gboolean
parse_ws_link (ConfabInvite *invite, GUri *uri, const char *link, GError **error)
{
  g_auto (GStrv) segments = split_path (g_uri_get_path (uri));
  g_autoptr (GHashTable) params = NULL;
  guint n = g_strv_length (segments);

  if (n == 0 || strcmp (segments[0], "lobby") != 0)
    return invalid (error, link, "a WebSocket link looks like ws://host:port/lobby/USER/ROOM");
  params = parse_params (g_uri_get_query (uri), link, "query", error);
  if (params == NULL)
    return FALSE;

  if (n == 1)
    {
      const char *token = g_hash_table_lookup (params, "token");
      if (token == NULL || token[0] == '\0')
        return invalid (error, link, "the room is missing (ws://host:port/lobby/USER/ROOM)");
      invite->token = g_strdup (token);
    }
  else if (n == 2)
    return invalid (error, link, "the room is missing (ws://host:port/lobby/USER/ROOM)");
  else if (n > 3)
    return invalid (error, link, "too many path segments after /lobby/USER/ROOM");
  else
    {
      invite->user = decode_name (segments[1], FALSE, "user name", link, error);
      if (invite->user == NULL)
        return FALSE;
      invite->room = decode_name (segments[2], FALSE, "room name", link, error);
      if (invite->room == NULL)
        return FALSE;
    }
  invite->ws_base = origin_of (g_uri_get_scheme (uri), g_uri_get_host (uri), g_uri_get_port (uri));
  return TRUE;
}

static gboolean
parse_meeting_link (ConfabInvite *invite, GUri *uri, const char *link, GError **error)
{
  g_auto (GStrv) segments = split_path (g_uri_get_path (uri));
  g_autofree char *origin = NULL;
  guint n = g_strv_length (segments);

  if (n == 0 || strcmp (segments[0], "meeting") != 0)
    return invalid (error, link, "a web invite looks like https://host/meeting/ROOM");
  if (n == 1)
    return invalid (error, link, "the room is missing (https://host/meeting/ROOM)");
  if (n > 2)
    return invalid (error, link, "too many path segments after /meeting/ROOM");
  invite->room = decode_name (segments[1], FALSE, "room name", link, error);
  if (invite->room == NULL)
    return FALSE;
  origin = origin_of (g_uri_get_scheme (uri), g_uri_get_host (uri), g_uri_get_port (uri));
  invite->config_url = g_strconcat (origin, "/config.js", NULL);
  return TRUE;
}

static gboolean
parse_confab_link (ConfabInvite *invite, GUri *uri, const char *link, GError **error)
{
  g_auto (GStrv) segments = split_path (g_uri_get_path (uri));
  g_autoptr (GHashTable) params = NULL;
  g_autoptr (GHashTable) fragment = NULL;
  g_autofree char *origin = NULL;
  const char *value;
  guint n = g_strv_length (segments);

  if (n == 0)
    return invalid (error, link, "the room is missing (confab://host[:port]/ROOM)");
  if (n > 1)
    return invalid (error, link, "too many path segments after confab://host/ROOM");
  invite->room = decode_name (segments[0], FALSE, "room name", link, error);
  if (invite->room == NULL)
    return FALSE;

  params = parse_params (g_uri_get_query (uri), link, "query", error);
  if (params == NULL)
    return FALSE;
  value = g_hash_table_lookup (params, "name");
  if (value != NULL)
    {
      /* g_uri_parse_params() already decoded it. */
      invite->user = decode_name (value, TRUE, "user name", link, error);
      if (invite->user == NULL)
        return FALSE;
    }
  value = g_hash_table_lookup (params, "token");
  if (value != NULL && value[0] != '\0')
    invite->token = g_strdup (value);

  fragment = parse_params (g_uri_get_fragment (uri), link, "fragment", error);
  if (fragment == NULL)
    return FALSE;
  value = g_hash_table_lookup (fragment, "key");
  if (value != NULL && value[0] != '\0')
    invite->key = g_strdup (value);

  /* A port means a relay's own HTTP port (plain http, as the relay serves it);
   * no port means a public deployment behind TLS. */
  origin = g_uri_get_port (uri) > 0 ? origin_of ("http", g_uri_get_host (uri), g_uri_get_port (uri))
                                    : origin_of ("https", g_uri_get_host (uri), -1);
  invite->config_url = g_strconcat (origin, "/config.js", NULL);
  return TRUE;
}

ConfabInvite *
confab_invite_parse (const char *link, const char *default_server, GError **error)
{
  g_autoptr (ConfabInvite) invite = g_new0 (ConfabInvite, 1);
  g_autofree char *text = NULL;
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GError) local_error = NULL;
  const char *scheme;
  gboolean ok;

  if (link == NULL || strnlen (link, CONFAB_INVITE_MAX_LENGTH + 1) > CONFAB_INVITE_MAX_LENGTH)
    {
      g_set_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                   link == NULL ? "No invite link given"
                                : "Invalid invite link: longer than %d characters",
                   CONFAB_INVITE_MAX_LENGTH);
      return NULL;
    }
  text = g_strstrip (g_strdup (link));
  if (text[0] == '\0')
    {
      g_set_error_literal (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                           "Invalid invite link: it is empty");
      return NULL;
    }
  if (!g_utf8_validate (text, -1, NULL))
    {
      invalid (error, text, "it is not valid UTF-8");
      return NULL;
    }

  if (strstr (text, "://") == NULL)
    {
      if (strpbrk (text, ":/?#@") != NULL)
        {
          invalid (error, text,
                   "not a room name, and not a link with a known scheme "
                   "(ws, wss, http, https, confab)");
          return NULL;
        }
      invite->room = decode_name (text, TRUE, "room name", text, error);
      if (invite->room == NULL || !set_default_server (invite, default_server, text, error))
        return NULL;
      return g_steal_pointer (&invite);
    }

  uri = g_uri_parse (text, G_URI_FLAGS_ENCODED, &local_error);
  if (uri == NULL)
    {
      invalid (error, text, "%s", local_error->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_uri_get_userinfo (uri) != NULL)
    {
      invalid (error, text, "user information before the host is not allowed");
      return NULL;
    }
  if (!host_is_valid (g_uri_get_host (uri)))
    {
      invalid (error, text,
               g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0'
                   ? "the host is missing"
                   : "the host name is invalid");
      return NULL;
    }

  if (g_ascii_strcasecmp (scheme, "ws") == 0 || g_ascii_strcasecmp (scheme, "wss") == 0)
    ok = parse_ws_link (invite, uri, text, error);
  else if (g_ascii_strcasecmp (scheme, "http") == 0 || g_ascii_strcasecmp (scheme, "https") == 0)
    ok = parse_meeting_link (invite, uri, text, error);
  else if (g_ascii_strcasecmp (scheme, "confab") == 0)
    ok = parse_confab_link (invite, uri, text, error);
  else
    ok = invalid (error, text, "unknown scheme “%s” (use ws, wss, http, https or confab)", scheme);

  return ok ? g_steal_pointer (&invite) : NULL;
}

char *
confab_invite_lobby_url (const ConfabInvite *invite,
                         const char *ws_base,
                         const char *user,
                         GError **error)
{
  g_autofree char *base = NULL;
  g_autofree char *name = NULL;
  gsize len;

  g_return_val_if_fail (invite != NULL, NULL);
  g_return_val_if_fail (ws_base != NULL, NULL);

  base = g_strdup (ws_base);
  len = strlen (base);
  while (len > 0 && base[len - 1] == '/')
    base[--len] = '\0';

  if (invite->token != NULL)
    {
      g_autofree char *escaped = g_uri_escape_string (invite->token, NULL, FALSE);
      return g_strdup_printf ("%s/lobby?token=%s", base, escaped);
    }

  if (user == NULL)
    user = invite->user;
  if (user == NULL)
    {
      g_set_error_literal (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                           "No user name: give one (--name)");
      return NULL;
    }
  name = confab_name_normalize (user);
  if (!confab_name_is_valid (name))
    {
      g_set_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                   "Invalid user name: it may only contain letters, digits, '_', '-' and "
                   "spaces (at most %d)",
                   CONFAB_MAX_NAME_LENGTH);
      return NULL;
    }
  return g_strdup_printf ("%s/lobby/%s/%s", base, name, invite->room);
}

char *
confab_room_token_peek_subject (const char *token)
{
  g_auto (GStrv) parts = NULL;
  g_autofree char *b64 = NULL;
  g_autofree guchar *payload = NULL;
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;
  JsonNode *sub;
  gsize len, payload_len = 0;

  if (token == NULL || strlen (token) > CONFAB_INVITE_MAX_LENGTH)
    return NULL;
  parts = g_strsplit (token, ".", 4);
  if (g_strv_length (parts) != 3)
    return NULL;
  /* base64url without padding -> base64 */
  len = strlen (parts[1]);
  b64 = g_malloc (len + 4);
  for (gsize i = 0; i < len; i++)
    b64[i] = parts[1][i] == '-' ? '+' : parts[1][i] == '_' ? '/' : parts[1][i];
  while (len % 4 != 0)
    b64[len++] = '=';
  b64[len] = '\0';
  payload = g_base64_decode (b64, &payload_len);
  if (payload == NULL || payload_len == 0)
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) payload, payload_len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  sub = json_object_get_member (json_node_get_object (root), "sub");
  if (sub == NULL || json_node_get_value_type (sub) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (sub));
}

/* ---- /config.js ---------------------------------------------------------- */

void
confab_server_config_free (ConfabServerConfig *config)
{
  if (config == NULL)
    return;
  g_strfreev (config->ws_urls);
  g_free (config->webtransport_host);
  g_strfreev (config->webtransport_hosts);
  g_free (config->webtransport_cert_hash);
  g_free (config->server_version);
  g_free (config);
}

static gboolean G_GNUC_PRINTF (2, 3) config_error (GError **error, const char *format, ...)
{
  g_autofree char *reason = NULL;
  va_list args;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_CONFIG, "Bad /config.js: %s",
               reason);
  return FALSE;
}

static char **
split_list (const char *value)
{
  g_auto (GStrv) parts = g_strsplit (value != NULL ? value : "", ",", -1);
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  for (guint i = 0; parts[i] != NULL; i++)
    {
      g_strstrip (parts[i]);
      if (parts[i][0] != '\0')
        g_strv_builder_add (builder, parts[i]);
    }
  return g_strv_builder_end (builder);
}

ConfabServerConfig *
confab_server_config_parse (const char *text, gsize length, GError **error)
{
  g_autoptr (ConfabServerConfig) config = g_new0 (ConfabServerConfig, 1);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) local_error = NULL;
  const char *marker, *open = NULL, *close = NULL, *end = text + length;
  JsonNode *root;
  JsonObject *object;
  JsonNode *member;

  if (length > CONFIG_MAX_SIZE)
    {
      config_error (error, "larger than %d bytes", CONFIG_MAX_SIZE);
      return NULL;
    }
  marker = g_strstr_len (text, length, "__APP_CONFIG");
  if (marker == NULL)
    {
      config_error (error, "no window.__APP_CONFIG in it");
      return NULL;
    }
  for (const char *p = marker; p < end; p++)
    if (*p == '{')
      {
        open = p;
        break;
      }
  for (const char *p = end; open != NULL && p > open; p--)
    if (p[-1] == '}')
      {
        close = p;
        break;
      }
  if (open == NULL || close == NULL)
    {
      config_error (error, "window.__APP_CONFIG is not an object");
      return NULL;
    }
  if (!json_parser_load_from_data (parser, open, close - open, &local_error))
    {
      config_error (error, "%s", local_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      config_error (error, "window.__APP_CONFIG is not an object");
      return NULL;
    }
  object = json_node_get_object (root);

  member = json_object_get_member (object, "wsUrl");
  if (member == NULL || json_node_get_value_type (member) != G_TYPE_STRING)
    {
      config_error (error, "wsUrl is missing");
      return NULL;
    }
  config->ws_urls = split_list (json_node_get_string (member));
  if (config->ws_urls[0] == NULL)
    {
      config_error (error, "wsUrl is empty");
      return NULL;
    }
  for (guint i = 0; config->ws_urls[i] != NULL; i++)
    {
      g_autoptr (GUri) uri = g_uri_parse (config->ws_urls[i], G_URI_FLAGS_ENCODED, NULL);
      if (uri == NULL || (g_ascii_strcasecmp (g_uri_get_scheme (uri), "ws") != 0 &&
                          g_ascii_strcasecmp (g_uri_get_scheme (uri), "wss") != 0))
        {
          config_error (error, "wsUrl “%s” is not a ws:// or wss:// URL", config->ws_urls[i]);
          return NULL;
        }
    }
  config->ws_url = config->ws_urls[0];

  member = json_object_get_member (object, "webTransportHost");
  config->webtransport_hosts =
      split_list (member != NULL && json_node_get_value_type (member) == G_TYPE_STRING
                      ? json_node_get_string (member)
                      : NULL);
  config->webtransport_host = g_strdup (config->webtransport_hosts[0]);
  member = json_object_get_member (object, "webTransportCertificateHash");
  if (member != NULL && json_node_get_value_type (member) == G_TYPE_STRING &&
      json_node_get_string (member)[0] != '\0')
    config->webtransport_cert_hash = g_strdup (json_node_get_string (member));
  member = json_object_get_member (object, "webTransportEnabled");
  /* Upstream deployments write "true" as a string. */
  if (member != NULL && json_node_get_value_type (member) == G_TYPE_BOOLEAN)
    config->webtransport_enabled = json_node_get_boolean (member);
  else if (member != NULL && json_node_get_value_type (member) == G_TYPE_STRING)
    config->webtransport_enabled = g_strcmp0 (json_node_get_string (member), "true") == 0;
  member = json_object_get_member (object, "e2eeEnabled");
  if (member != NULL && json_node_get_value_type (member) == G_TYPE_BOOLEAN)
    config->e2ee_enabled = json_node_get_boolean (member);
  member = json_object_get_member (object, "serverVersion");
  if (member != NULL && json_node_get_value_type (member) == G_TYPE_STRING)
    config->server_version = g_strdup (json_node_get_string (member));

  return g_steal_pointer (&config);
}

/* The fetch: one lws HTTP client connection per request. libwebsockets is
 * already how net/ talks to relays, it runs on the GLib loop and it brings
 * OpenSSL for https:// origins; GIO's TLS would need glib-networking, which a
 * client machine may not have. */
typedef struct
{
  GTask *task;
  GMainContext *context;
  struct lws_context *lws;
  GString *body;
  char *url;
  char *host;
  char *host_header;
  char *path;
  int port;
  gboolean tls;
  gboolean finished;
  guint status;
  GSource *timeout;
} ConfigFetch;

static void
config_fetch_free (ConfigFetch *fetch)
{
  if (fetch->timeout != NULL)
    {
      g_source_destroy (fetch->timeout);
      g_source_unref (fetch->timeout);
    }
  g_clear_object (&fetch->task);
  g_main_context_unref (fetch->context);
  g_string_free (fetch->body, TRUE);
  g_free (fetch->url);
  g_free (fetch->host);
  g_free (fetch->host_header);
  g_free (fetch->path);
  g_free (fetch);
}

static gboolean
config_fetch_destroy_in_idle (gpointer data)
{
  ConfigFetch *fetch = data;

  /* lws may still call back while it tears down: fetch stays valid until here. */
  if (fetch->lws != NULL)
    lws_context_destroy (g_steal_pointer (&fetch->lws));
  config_fetch_free (fetch);
  return G_SOURCE_REMOVE;
}

static void
config_fetch_finish (ConfigFetch *fetch, GError *error)
{
  g_autoptr (GSource) idle = NULL;
  g_autoptr (GTask) task = NULL;

  if (fetch->finished)
    return;
  fetch->finished = TRUE;
  task = g_steal_pointer (&fetch->task);

  if (error != NULL)
    g_task_return_error (task, error);
  else
    {
      GError *parse_error = NULL;
      ConfabServerConfig *config =
          confab_server_config_parse (fetch->body->str, fetch->body->len, &parse_error);
      if (config != NULL)
        g_task_return_pointer (task, config, (GDestroyNotify) confab_server_config_free);
      else
        g_task_return_error (task, parse_error);
    }

  idle = g_idle_source_new ();
  g_source_set_callback (idle, config_fetch_destroy_in_idle, fetch, NULL);
  g_source_attach (idle, fetch->context);
}

static int
config_fetch_callback (
    struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  struct lws_context *lws = lws_get_context (wsi);
  ConfigFetch *fetch = lws != NULL ? lws_context_user (lws) : NULL;

  if (fetch == NULL || fetch->finished)
    return reason == LWS_CALLBACK_RECEIVE_CLIENT_HTTP ? -1 : 0;

  switch (reason)
    {
      case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        fetch->status = lws_http_client_http_response (wsi);
        if (fetch->status != 200)
          {
            config_fetch_finish (fetch, g_error_new (CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH,
                                                     "Cannot read %s: HTTP %u", fetch->url,
                                                     fetch->status));
            return -1;
          }
        break;

      case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
        {
          char buffer[LWS_PRE + 4096];
          char *p = buffer + LWS_PRE;
          int n = sizeof buffer - LWS_PRE;

          if (lws_http_client_read (wsi, &p, &n) < 0)
            return -1;
          return 0;
        }

      case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
        if (fetch->body->len + len > CONFIG_MAX_SIZE)
          {
            config_fetch_finish (fetch, g_error_new (CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH,
                                                     "Cannot read %s: larger than %d bytes",
                                                     fetch->url, CONFIG_MAX_SIZE));
            return -1;
          }
        g_string_append_len (fetch->body, in, len);
        break;

      case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
        config_fetch_finish (fetch, NULL);
        /* Close now rather than keep it alive: lws defers destroying a context
         * whose connections are still open on a foreign loop. */
        return -1;

      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        config_fetch_finish (fetch,
                             g_error_new (CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH,
                                          "Cannot read %s: %s", fetch->url,
                                          in != NULL ? (const char *) in : "connection failed"));
        break;

      case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
        /* Some servers end the body by closing (no Content-Length). */
        if (fetch->status == 200 && fetch->body->len > 0)
          config_fetch_finish (fetch, NULL);
        else
          config_fetch_finish (fetch, g_error_new (CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH,
                                                   "Cannot read %s: the connection closed early",
                                                   fetch->url));
        break;

      default:
        break;
    }
  return 0;
}

static const struct lws_protocols config_fetch_protocols[] = {
  { .name = "confab-config-fetch", .callback = config_fetch_callback },
  { NULL, NULL, 0, 0, 0, NULL, 0 } /* terminator */
};

static gboolean
config_fetch_timed_out (gpointer data)
{
  ConfigFetch *fetch = data;

  config_fetch_finish (fetch, g_error_new (CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH,
                                           "Cannot read %s: no answer within %d s", fetch->url,
                                           CONFIG_FETCH_TIMEOUT_S));
  return G_SOURCE_REMOVE;
}

static gboolean
config_fetch_fail_in_idle (gpointer data)
{
  ConfigFetch *fetch = data;

  config_fetch_finish (fetch,
                       g_error_new (CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_FETCH,
                                    "Cannot read %s: cannot start a connection", fetch->url));
  return G_SOURCE_REMOVE;
}

void
confab_server_config_fetch_async (const char *config_url,
                                  GCancellable *cancellable,
                                  GAsyncReadyCallback callback,
                                  gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GUri) uri = NULL;
  struct lws_client_connect_info info;
  ConfigFetch *fetch;
  const char *scheme;
  const char *query;

  g_task_set_source_tag (task, confab_server_config_fetch_async);
  g_task_set_check_cancellable (task, TRUE);

  uri = g_uri_parse (config_url, G_URI_FLAGS_ENCODED, NULL);
  scheme = uri != NULL ? g_uri_get_scheme (uri) : NULL;
  if (uri == NULL || g_uri_get_host (uri) == NULL ||
      (g_ascii_strcasecmp (scheme, "http") != 0 && g_ascii_strcasecmp (scheme, "https") != 0))
    {
      g_task_return_new_error (task, CONFAB_INVITE_ERROR, CONFAB_INVITE_ERROR_INVALID,
                               "Not an http(s) URL: %s", config_url);
      return;
    }

  fetch = g_new0 (ConfigFetch, 1);
  fetch->task = g_steal_pointer (&task);
  fetch->context = g_main_context_ref_thread_default ();
  fetch->body = g_string_new (NULL);
  fetch->url = g_strdup (config_url);
  fetch->tls = g_ascii_strcasecmp (scheme, "https") == 0;
  fetch->host = g_strdup (g_uri_get_host (uri));
  fetch->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : (fetch->tls ? 443 : 80);
  fetch->host_header = strchr (fetch->host, ':') != NULL
                           ? g_strdup_printf ("[%s]:%d", fetch->host, fetch->port)
                           : g_strdup_printf ("%s:%d", fetch->host, fetch->port);
  query = g_uri_get_query (uri);
  fetch->path = g_strdup_printf ("%s%s%s", g_uri_get_path (uri)[0] ? g_uri_get_path (uri) : "/",
                                 query != NULL ? "?" : "", query != NULL ? query : "");

  fetch->timeout = g_timeout_source_new_seconds (CONFIG_FETCH_TIMEOUT_S);
  g_source_set_callback (fetch->timeout, config_fetch_timed_out, fetch, NULL);
  g_source_attach (fetch->timeout, fetch->context);

  fetch->lws =
      confab_lws_client_context_new (fetch->context, config_fetch_protocols, fetch->tls, fetch);
  if (fetch->lws != NULL)
    {
      memset (&info, 0, sizeof info);
      info.context = fetch->lws;
      info.address = fetch->host;
      info.port = fetch->port;
      info.path = fetch->path;
      info.host = fetch->host_header;
      info.origin = fetch->host_header;
      info.method = "GET";
      info.ssl_connection = (fetch->tls ? LCCSCF_USE_SSL : 0) | LCCSCF_HTTP_NO_FOLLOW_REDIRECT;
      info.protocol = config_fetch_protocols[0].name;
      info.local_protocol_name = config_fetch_protocols[0].name;
      if (lws_client_connect_via_info (&info) != NULL || fetch->finished)
        return;
    }
  {
    g_autoptr (GSource) idle = g_idle_source_new ();
    g_source_set_callback (idle, config_fetch_fail_in_idle, fetch, NULL);
    g_source_attach (idle, fetch->context);
  }
}

ConfabServerConfig *
confab_server_config_fetch_finish (GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
