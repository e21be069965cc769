/* confab-wt-server.c: the public face of a WebTransport server: credentials,
 * the listening endpoint and the application's CONNECT decision. */
#define G_LOG_DOMAIN "confab-wt"

#include "confab-wt-server.h"
#include "confab-wt-private.h"

#include <string.h>

struct _ConfabWtServer
{
  GObject parent_instance;

  gnutls_certificate_credentials_t cred;
  ConfabWtEndpoint *endpoint;
  ConfabWtConnConfig config;
  guint8 cert_hash[32];
  char *cert_pem;
  char *key_pem; /* generated certificates only */
  guint8 reset_secret[32];
  gboolean have_reset_secret;
  guint16 port;

  ConfabWtRequestFunc request_func;
  gpointer request_data;
  GDestroyNotify request_destroy;
};

G_DEFINE_TYPE (ConfabWtServer, confab_wt_server, G_TYPE_OBJECT)

static void
confab_wt_server_finalize (GObject *object)
{
  ConfabWtServer *self = CONFAB_WT_SERVER (object);

  g_clear_pointer (&self->endpoint, confab_wt_endpoint_free);
  if (self->request_destroy != NULL)
    self->request_destroy (self->request_data);
  if (self->cred != NULL)
    gnutls_certificate_free_credentials (self->cred);
  g_free (self->cert_pem);
  g_free (self->key_pem);
  G_OBJECT_CLASS (confab_wt_server_parent_class)->finalize (object);
}

static void
confab_wt_server_class_init (ConfabWtServerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_wt_server_finalize;
}

static void
confab_wt_server_init (ConfabWtServer *self)
{
  self->config.is_server = TRUE;
  self->config.idle_timeout_ms = 30000;
  self->config.handshake_timeout_ms = 10000;
}

ConfabWtServer *
confab_wt_server_new (const char *cert_file, const char *key_file, GError **error)
{
  g_autoptr (ConfabWtServer) self = g_object_new (CONFAB_TYPE_WT_SERVER, NULL);
  int rv;

  g_return_val_if_fail ((cert_file == NULL) == (key_file == NULL), NULL);

  if ((rv = gnutls_certificate_allocate_credentials (&self->cred)) != 0)
    {
      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CERTIFICATE, "%s", gnutls_strerror (rv));
      return NULL;
    }
  if (cert_file != NULL ? !confab_quic_cert_load (self->cred, cert_file, key_file, self->cert_hash,
                                                  &self->cert_pem, error)
                        : !confab_quic_cert_generate (self->cred, self->cert_hash, &self->cert_pem,
                                                      &self->key_pem, error))
    return NULL;
  if (cert_file != NULL)
    {
      /* A key that survives restarts gives a reset secret that does too. */
      g_autofree char *key = NULL;
      gsize key_len = 0;

      if (g_file_get_contents (key_file, &key, &key_len, NULL))
        {
          confab_wt_server_set_reset_secret (self, (const guint8 *) key, key_len);
          memset (key, 0, key_len);
        }
    }
  return g_steal_pointer (&self);
}

static guint
server_request (ConfabWtConn *conn, ConfabWtSession *session, const char *path, gpointer user_data)
{
  ConfabWtServer *self = user_data;

  if (self->request_func == NULL)
    return 404;
  return self->request_func (self, session, path, self->request_data);
}

gboolean
confab_wt_server_listen (ConfabWtServer *self, const char *address, guint16 port, GError **error)
{
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), FALSE);
  g_return_val_if_fail (self->endpoint == NULL, FALSE);

  inet = g_inet_address_new_from_string (address);
  if (inet == NULL)
    {
      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_INVALID, "not an IP address: %s",
                   address);
      return FALSE;
    }
  addr = g_inet_socket_address_new (inet, port);
  self->endpoint = confab_wt_endpoint_new (TRUE, &self->config, self->cred);
  self->endpoint->request_func = server_request;
  if (self->have_reset_secret)
    memcpy (self->endpoint->reset_secret, self->reset_secret, sizeof self->reset_secret);
  self->endpoint->request_data = self;
  if (!confab_wt_endpoint_bind (self->endpoint, G_INET_SOCKET_ADDRESS (addr), error))
    {
      g_clear_pointer (&self->endpoint, confab_wt_endpoint_free);
      return FALSE;
    }
  local = g_socket_get_local_address (self->endpoint->socket, NULL);
  self->port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (local));
  return TRUE;
}

guint16
confab_wt_server_get_port (ConfabWtServer *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), 0);
  return self->port;
}

void
confab_wt_server_set_request_func (ConfabWtServer *self,
                                   ConfabWtRequestFunc func,
                                   gpointer user_data,
                                   GDestroyNotify destroy)
{
  g_return_if_fail (CONFAB_IS_WT_SERVER (self));

  if (self->request_destroy != NULL)
    self->request_destroy (self->request_data);
  self->request_func = func;
  self->request_data = user_data;
  self->request_destroy = destroy;
}

void
confab_wt_server_set_idle_timeout (ConfabWtServer *self, guint timeout_ms)
{
  g_return_if_fail (CONFAB_IS_WT_SERVER (self));

  self->config.idle_timeout_ms = timeout_ms;
  if (self->endpoint != NULL)
    self->endpoint->config.idle_timeout_ms = timeout_ms;
}

const guint8 *
confab_wt_server_get_cert_hash (ConfabWtServer *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), NULL);
  return self->cert_hash;
}

char *
confab_wt_server_dup_cert_hash_base64 (ConfabWtServer *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), NULL);
  return g_base64_encode (self->cert_hash, sizeof self->cert_hash);
}

char *
confab_wt_server_dup_cert_pem (ConfabWtServer *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), NULL);
  return g_strdup (self->cert_pem);
}

guint
confab_wt_server_get_n_connections (ConfabWtServer *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), 0);
  return self->endpoint != NULL ? self->endpoint->n_conns : 0;
}

char *
confab_wt_server_dup_key_pem (ConfabWtServer *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SERVER (self), NULL);
  return g_strdup (self->key_pem);
}

void
confab_wt_server_set_reset_secret (ConfabWtServer *self, const guint8 *secret, gsize len)
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  gsize digest_len = sizeof self->reset_secret;

  g_return_if_fail (CONFAB_IS_WT_SERVER (self));
  g_return_if_fail (self->endpoint == NULL);

  /* Labelled, so the secret is never used as is for anything else. */
  g_checksum_update (sum, (const guchar *) "confab quic stateless reset", 27);
  g_checksum_update (sum, secret, (gssize) len);
  g_checksum_get_digest (sum, self->reset_secret, &digest_len);
  self->have_reset_secret = TRUE;
}
