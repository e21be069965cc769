/* confab-relay-http.c: the relay's plain HTTP endpoints: /healthz, /version,
 * /config.js (the contract in PROTOCOL.md §6) and the /meeting/{room} invite. */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

static char *
config_js (struct lws *wsi, ConfabRelay *relay)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *ws_url = NULL;
  g_autofree char *wt_host = NULL;
  const char *ws_scheme = relay->config.cert_file != NULL ? "wss" : "ws";
  char host[256];

  /* Browsers reach us by the name in Host; JSON escaping keeps it inert. */
  if (lws_hdr_copy (wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
    g_snprintf (host, sizeof host, "127.0.0.1:%u", relay->config.ws_port);
  ws_url = g_strdup_printf ("%s://%s", ws_scheme, host);
  if (relay->wt_server != NULL)
    {
      /* The same name, the WebTransport port: drop the Host's port ("[::1]:80"
       * keeps its brackets). */
      char *colon = strrchr (host, ':');
      char *bracket = strrchr (host, ']');

      if (colon != NULL && (bracket == NULL || colon > bracket) &&
          (host[0] == '[' || strchr (host, ':') == colon))
        *colon = '\0';
      wt_host = g_strdup_printf ("https://%s:%u", host, relay->config.wt_port);
    }

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "wsUrl");
  json_builder_add_string_value (builder, ws_url);
  json_builder_set_member_name (builder, "webTransportHost");
  json_builder_add_string_value (builder, wt_host != NULL ? wt_host : "");
  json_builder_set_member_name (builder, "webTransportEnabled");
  json_builder_add_boolean_value (builder, wt_host != NULL);
  if (relay->wt_cert_hash != NULL)
    {
      /* Lets browsers (serverCertificateHashes) and Confab clients pin a
       * generated certificate; also given for a real one, harmlessly. */
      json_builder_set_member_name (builder, "webTransportCertificateHash");
      json_builder_add_string_value (builder, relay->wt_cert_hash);
    }
  json_builder_set_member_name (builder, "e2eeEnabled");
  json_builder_add_boolean_value (builder, FALSE);
  json_builder_set_member_name (builder, "serverVersion");
  json_builder_add_string_value (builder, CONFAB_VERSION);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, NULL);
  return g_strdup_printf ("window.__APP_CONFIG = %s;\n", json);
}

static char *
meeting_page (const char *room)
{
  g_autofree char *escaped = g_markup_escape_text (room, -1);

  return g_strdup_printf ("<!DOCTYPE html>\n"
                          "<html><head><meta charset=\"utf-8\"><title>Confab: %s</title>\n"
                          "<script src=\"/config.js\"></script></head>\n"
                          "<body><h1>Meeting %s</h1>\n"
                          "<p>You are invited to the meeting <b>%s</b>.</p>\n"
                          "<p>Join it with Confab, or with any videocall.rs client pointed at this "
                          "server (room <code>%s</code>).</p>\n"
                          "</body></html>\n",
                          escaped, escaped, escaped, escaped);
}

static int
respond (struct lws *wsi, ConfabRelayConn *conn, guint status, const char *content_type, char *body)
{
  guint8 headers[LWS_PRE + 1024];
  guint8 *start = headers + LWS_PRE, *p = start, *end = headers + sizeof headers - 1;
  gsize len = strlen (body);

  g_free (conn->http_body);
  conn->http_body = body;
  conn->http_body_len = len;
  if (lws_add_http_common_headers (wsi, status, content_type, len, &p, end) ||
      lws_add_http_header_by_token (wsi, WSI_TOKEN_HTTP_CACHE_CONTROL, (const guint8 *) "no-store",
                                    8, &p, end) ||
      lws_finalize_write_http_header (wsi, start, &p, end))
    return -1;
  lws_callback_on_writable (wsi);
  return 0;
}

int
confab_relay_http_request (ConfabRelay *relay, struct lws *wsi, ConfabRelayConn *conn)
{
  char uri[512];

  if (lws_hdr_copy (wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <= 0)
    {
      /* Not a GET (POST, OPTIONS...): nothing here takes a body. */
      lws_return_http_status (wsi, HTTP_STATUS_METHOD_NOT_ALLOWED, NULL);
      return -1;
    }
  if (strcmp (uri, "/healthz") == 0)
    return respond (wsi, conn, 200, "text/plain", g_strdup ("Ok"));
  if (strcmp (uri, "/version") == 0)
    return respond (
        wsi, conn, 200, "application/json",
        g_strdup_printf ("{\"name\":\"confab-relay\",\"version\":\"%s\"}", CONFAB_VERSION));
  if (strcmp (uri, "/config.js") == 0)
    return respond (wsi, conn, 200, "application/javascript", config_js (wsi, relay));
  if (g_str_has_prefix (uri, "/meeting/"))
    {
      g_autofree char *room = confab_name_normalize (uri + strlen ("/meeting/"));
      if (!confab_name_is_valid (room))
        return respond (wsi, conn, 400, "text/plain", g_strdup ("invalid room name"));
      return respond (wsi, conn, 200, "text/html", meeting_page (room));
    }
  if (g_str_has_prefix (uri, "/lobby"))
    return respond (wsi, conn, 400, "text/plain", g_strdup ("WebSocket upgrade required"));
  return respond (wsi, conn, 404, "text/plain", g_strdup ("not found"));
}

int
confab_relay_http_writeable (ConfabRelay *relay, struct lws *wsi, ConfabRelayConn *conn)
{
  g_autofree guint8 *out = NULL;
  gsize len;

  if (conn->http_body == NULL)
    return 0;
  len = conn->http_body_len;
  out = g_malloc (LWS_PRE + len + 1);
  memcpy (out + LWS_PRE, conn->http_body, len);
  g_clear_pointer (&conn->http_body, g_free);
  if (lws_write (wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL) != (int) len)
    return -1;
  return lws_http_transaction_completed (wsi) ? -1 : 0;
}
