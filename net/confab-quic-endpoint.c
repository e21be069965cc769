/* confab-quic-endpoint.c: one UDP socket on the GLib main loop and the QUIC
 * connections behind it. A readable socket is drained (bounded per wakeup),
 * each datagram is routed by destination connection id, then every
 * connection that read something writes and re-arms its one timer. */
#define G_LOG_DOMAIN "confab-quic"

#include "confab-wt-private.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <string.h>

/* Datagrams read per wakeup before yielding to other sources. */
#define CONFAB_QUIC_READ_BATCH 128

/* Connection ids as hash keys, so routing a packet allocates nothing. */
typedef struct
{
  guint8 len;
  guint8 data[NGTCP2_MAX_CIDLEN];
} CidKey;

static gboolean
cid_key_init (CidKey *key, const guint8 *cid, gsize len)
{
  if (len > NGTCP2_MAX_CIDLEN)
    return FALSE;
  key->len = (guint8) len;
  memcpy (key->data, cid, len);
  return TRUE;
}

static guint
cid_hash (gconstpointer p)
{
  const CidKey *key = p;
  guint h = 5381;

  for (guint i = 0; i < key->len; i++)
    h = (h * 33) ^ key->data[i];
  return h;
}

static gboolean
cid_equal (gconstpointer a, gconstpointer b)
{
  const CidKey *x = a, *y = b;

  return x->len == y->len && memcmp (x->data, y->data, x->len) == 0;
}

/* A Stateless Reset tells a client whose connection this process no longer
 * has (a relay restarted) to give up now rather than after the idle
 * timeout. Its token only matches when the reset secret survived the
 * restart (confab_wt_server_set_reset_secret, or --cert/--key files). */
static void
endpoint_send_reset (ConfabWtEndpoint *ep,
                     const struct sockaddr *to,
                     socklen_t to_len,
                     const ngtcp2_version_cid *vc,
                     gsize received)
{
  guint8 token[NGTCP2_STATELESS_RESET_TOKENLEN];
  guint8 rand_bytes[32];
  guint8 buf[64];
  ngtcp2_cid cid;
  gsize total;
  ngtcp2_ssize n;

  /* Smaller than what triggered it, so two endpoints cannot loop. */
  if (received < 43 || vc->dcidlen != CONFAB_QUIC_SCID_LEN)
    return;
  total = MIN (received - 1, sizeof buf);
  ngtcp2_cid_init (&cid, vc->dcid, vc->dcidlen);
  if (ngtcp2_crypto_generate_stateless_reset_token (token, ep->reset_secret,
                                                    sizeof ep->reset_secret, &cid) != 0)
    return;
  gnutls_rnd (GNUTLS_RND_NONCE, rand_bytes, sizeof rand_bytes);
  n = ngtcp2_pkt_write_stateless_reset (buf, sizeof buf, token, rand_bytes,
                                        MIN (total - sizeof token, sizeof rand_bytes));
  if (n > 0)
    confab_wt_endpoint_send (ep, to, to_len, buf, (gsize) n);
}

static void
endpoint_handle (ConfabWtEndpoint *ep,
                 const struct sockaddr *from,
                 socklen_t from_len,
                 const guint8 *data,
                 gsize len,
                 GPtrArray *touched)
{
  ngtcp2_version_cid vc;
  ConfabWtConn *conn = NULL;
  int rv;

  if (len == 0)
    return; /* ngtcp2 asserts on empty input */
  rv = ngtcp2_pkt_decode_version_cid (&vc, data, len, CONFAB_QUIC_SCID_LEN);
  if (rv != 0)
    return; /* garbage, or a version we do not speak: stay silent */

  if (ep->is_server)
    {
      CidKey key;

      if (!cid_key_init (&key, vc.dcid, vc.dcidlen))
        return;
      conn = g_hash_table_lookup (ep->conns_by_cid, &key);
      if (conn == NULL && vc.version == 0)
        {
          /* A short header for a connection we do not know: most likely
           * ours before a restart. */
          endpoint_send_reset (ep, from, from_len, &vc, len);
          return;
        }
      if (conn == NULL)
        {
          ngtcp2_pkt_hd hd;
          g_autoptr (GError) error = NULL;

          if (ep->n_conns >= ep->max_conns)
            return;
          if (ngtcp2_accept (&hd, data, len) != 0)
            return;
          conn = confab_wt_conn_new_server (ep, &hd, from, from_len, &error);
          if (conn == NULL)
            {
              g_debug ("refusing connection: %s", error->message);
              return;
            }
        }
    }
  else
    {
      if (ep->conns == NULL)
        return;
      conn = ep->conns->data;
    }

  confab_wt_conn_read (conn, from, from_len, data, len);
  if (!g_ptr_array_find (touched, conn, NULL))
    g_ptr_array_add (touched, conn);
}

static gboolean
endpoint_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  ConfabWtEndpoint *ep = user_data;
  g_autoptr (GPtrArray) touched = g_ptr_array_new ();
  g_autoptr (ConfabWtSession) hold = NULL;
  guint8 buf[65536];

  /* A client's session owns this endpoint: keep it alive while we work. */
  if (!ep->is_server && ep->client_session != NULL)
    hold = g_object_ref (ep->client_session);

  for (guint i = 0; i < CONFAB_QUIC_READ_BATCH; i++)
    {
      struct sockaddr_storage from;
      socklen_t from_len = sizeof from;
      ssize_t n =
          recvfrom (ep->fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *) &from, &from_len);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          /* A client's socket is connected, so an ICMP port unreachable
           * from the server's address comes back here: nobody listens. */
          if (errno == ECONNREFUSED && !ep->is_server && ep->conns != NULL)
            {
              ConfabWtConn *conn = ep->conns->data;

              confab_wt_conn_peer_unreachable (conn);
              if (!g_ptr_array_find (touched, conn, NULL))
                g_ptr_array_add (touched, conn);
              continue;
            }
          break; /* EAGAIN */
        }
      endpoint_handle (ep, (struct sockaddr *) &from, from_len, buf, (gsize) n, touched);
    }
  for (guint i = 0; i < touched->len; i++)
    confab_wt_conn_flush (g_ptr_array_index (touched, i));
  return G_SOURCE_CONTINUE;
}

ConfabWtEndpoint *
confab_wt_endpoint_new (gboolean is_server,
                        const ConfabWtConnConfig *config,
                        gnutls_certificate_credentials_t cred)
{
  ConfabWtEndpoint *ep = g_new0 (ConfabWtEndpoint, 1);

  ep->is_server = is_server;
  ep->config = *config;
  ep->cred = cred;
  ep->fd = -1;
  ep->max_conns = 4096;
  ep->context = g_main_context_ref_thread_default ();
  ep->conns_by_cid = g_hash_table_new_full (cid_hash, cid_equal, g_free, NULL);
  gnutls_rnd (GNUTLS_RND_RANDOM, ep->reset_secret, sizeof ep->reset_secret);
  return ep;
}

gboolean
confab_wt_endpoint_bind (ConfabWtEndpoint *ep, GInetSocketAddress *addr, GError **error)
{
  g_autoptr (GSocketAddress) local = NULL;
  int size = 4 * 1024 * 1024;

  ep->socket = g_socket_new (g_socket_address_get_family (G_SOCKET_ADDRESS (addr)),
                             G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, error);
  if (ep->socket == NULL)
    return FALSE;
  g_socket_set_blocking (ep->socket, FALSE);
  if (!g_socket_bind (ep->socket, G_SOCKET_ADDRESS (addr), FALSE, error))
    return FALSE;
  ep->fd = g_socket_get_fd (ep->socket);
  /* Bursts of a 1 MB message must not overflow the default ~200 KB buffers. */
  setsockopt (ep->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  setsockopt (ep->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);

  local = g_socket_get_local_address (ep->socket, error);
  if (local == NULL)
    return FALSE;
  ep->local_len = (socklen_t) g_socket_address_get_native_size (local);
  if (!g_socket_address_to_native (local, &ep->local, sizeof ep->local, error))
    return FALSE;

  ep->io_source = g_socket_create_source (ep->socket, G_IO_IN, NULL);
  g_source_set_callback (ep->io_source, G_SOURCE_FUNC (endpoint_readable), ep, NULL);
  g_source_set_name (ep->io_source, "confab-quic-socket");
  g_source_attach (ep->io_source, ep->context);
  return TRUE;
}

gboolean
confab_wt_endpoint_connect (ConfabWtEndpoint *ep,
                            const struct sockaddr *remote,
                            socklen_t remote_len,
                            GError **error)
{
  if (connect (ep->fd, remote, remote_len) != 0)
    {
      int saved = errno;

      g_set_error (error, CONFAB_WT_ERROR, CONFAB_WT_ERROR_CONNECT, "connect: %s",
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

void
confab_wt_endpoint_send (ConfabWtEndpoint *ep,
                         const struct sockaddr *to,
                         socklen_t to_len,
                         const guint8 *data,
                         gsize len)
{
  for (guint tries = 0; tries < 2; tries++)
    {
      if (sendto (ep->fd, data, len, MSG_DONTWAIT, to, to_len) >= 0)
        return;
      /* A connected client socket reports an earlier ICMP port unreachable
       * on the next send too. */
      if (errno == ECONNREFUSED && !ep->is_server && ep->conns != NULL)
        {
          confab_wt_conn_peer_unreachable (ep->conns->data);
          return;
        }
      if (errno != EINTR)
        return;
    }
  /* EAGAIN means a full socket buffer: QUIC treats it as loss and recovers. */
}

void
confab_wt_endpoint_add_cid (ConfabWtEndpoint *ep, const guint8 *cid, gsize len, ConfabWtConn *conn)
{
  CidKey *key = g_new (CidKey, 1);

  if (!cid_key_init (key, cid, len))
    {
      g_free (key);
      return;
    }
  g_hash_table_insert (ep->conns_by_cid, key, conn);
}

void
confab_wt_endpoint_remove_cid (ConfabWtEndpoint *ep, const guint8 *cid, gsize len)
{
  CidKey key;

  if (cid_key_init (&key, cid, len))
    g_hash_table_remove (ep->conns_by_cid, &key);
}

void
confab_wt_endpoint_free (ConfabWtEndpoint *ep)
{
  if (ep->io_source != NULL)
    {
      g_source_destroy (ep->io_source);
      g_source_unref (ep->io_source);
    }
  while (ep->conns != NULL)
    {
      ConfabWtConn *conn = ep->conns->data;

      ep->conns = g_list_delete_link (ep->conns, ep->conns);
      confab_wt_conn_free (conn);
    }
  g_hash_table_destroy (ep->conns_by_cid);
  ep->conns_by_cid = NULL;
  g_clear_object (&ep->socket);
  if (ep->owns_cred)
    gnutls_certificate_free_credentials (ep->cred);
  g_main_context_unref (ep->context);
  g_free (ep);
}
