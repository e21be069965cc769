/* confab-wt-client.c: the client side of WebTransport: parse the URL, make
 * the UDP endpoint and the QUIC connection, hand back the session. The
 * session owns the endpoint, so dropping it ends everything. */
#define G_LOG_DOMAIN "confab-wt"

#include "confab-wt-client.h"
#include "confab-wt-private.h"

#include <string.h>

static GInetAddress *
resolve (const char *host, GError **error)
{
  g_autoptr (GResolver) resolver = NULL;
  GList *list;
  GInetAddress *addr;

  addr = g_inet_address_new_from_string (host);
  if (addr != NULL)
    return addr;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  /* A name: resolve synchronously (a LAN relay's name; TODO async for the app). */
  resolver = g_resolver_get_default ();
  list = g_resolver_lookup_by_name (resolver, host, NULL, error);
  if (list == NULL)
    return NULL;
  addr = g_object_ref (list->data);
  g_resolver_free_addresses (list);
  return addr;
}

ConfabWtSession *
confab_wt_client_connect (const char *url, const ConfabWtClientOptions *options, GError **error)
{
  static const ConfabWtClientOptions defaults = { 0 };
  g_autoptr (GUri) uri = NULL;
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) remote = NULL;
  g_autoptr (GSocketAddress) any = NULL;
  g_autoptr (ConfabWtSession) session = NULL;
  g_autofree char *path = NULL;
  g_autofree char *authority = NULL;
  g_autofree guchar *pin = NULL;
  struct sockaddr_storage native;
  ConfabWtConnConfig config = { 0 };
  ConfabWtEndpoint *ep;
  ConfabWtConn *conn;
  const char *host;
  gsize pin_len = 0;
  int port;

  if (options == NULL)
    options = &defaults;
  uri = g_uri_parse (url, G_URI_FLAGS_NONE, error);
  if (uri == NULL)
    return NULL;
  host = g_uri_get_host (uri);
  if (g_strcmp0 (g_uri_get_scheme (uri), "https") != 0 || host == NULL || host[0] == '\0')
    {
      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_INVALID, "not an https:// URL: %s", url);
      return NULL;
    }
  if (options->cert_hash != NULL)
    {
      pin = g_base64_decode (options->cert_hash, &pin_len);
      if (pin_len != 32)
        {
          g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_INVALID,
                       "certificate hash must be base64 of 32 bytes");
          return NULL;
        }
    }
  port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : 443;
  path = g_strconcat (g_uri_get_path (uri)[0] ? g_uri_get_path (uri) : "/",
                      g_uri_get_query (uri) ? "?" : "", g_uri_get_query (uri) ?: "", NULL);
  authority = strchr (host, ':') != NULL ? g_strdup_printf ("[%s]:%d", host, port)
                                         : g_strdup_printf ("%s:%d", host, port);

  inet = resolve (host, error);
  if (inet == NULL)
    return NULL;
  remote = g_inet_socket_address_new (inet, (guint16) port);
  if (!g_socket_address_to_native (remote, &native, sizeof native, error))
    return NULL;
  {
    g_autoptr (GInetAddress) wildcard = g_inet_address_new_any (g_inet_address_get_family (inet));

    any = g_inet_socket_address_new (wildcard, 0);
  }

  config.is_server = FALSE;
  config.idle_timeout_ms = options->idle_timeout_ms;
  config.keep_alive_ms = options->keep_alive_ms;
  config.handshake_timeout_ms = options->handshake_timeout_ms;

  session = confab_wt_session_new_internal (NULL, 0, path);
  {
    gnutls_certificate_credentials_t cred;

    if (gnutls_certificate_allocate_credentials (&cred) != 0)
      {
        g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT, "TLS credentials");
        return NULL;
      }
    if (pin == NULL && !options->insecure)
      gnutls_certificate_set_x509_system_trust (cred);
    ep = confab_wt_endpoint_new (FALSE, &config, cred);
    ep->owns_cred = TRUE;
  }
  confab_wt_session_set_owned_endpoint (session, ep);
  ep->client_session = session;
  if (!confab_wt_endpoint_bind (ep, G_INET_SOCKET_ADDRESS (any), error) ||
      !confab_wt_endpoint_connect (ep, (struct sockaddr *) &native,
                                   (socklen_t) g_socket_address_get_native_size (remote), error))
    return NULL;
  conn = confab_wt_conn_new_client (ep, (struct sockaddr *) &native,
                                    (socklen_t) g_socket_address_get_native_size (remote), host,
                                    authority, path, pin, options->insecure, session, error);
  if (conn == NULL)
    return NULL;
  confab_wt_session_attach_conn (session, conn);
  return g_steal_pointer (&session);
}
