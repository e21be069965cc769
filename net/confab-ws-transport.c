/* confab-ws-transport.c: the WebSocket client transport. One lws context per
 * connection; one binary message = one PacketWrapper (PROTOCOL.md §1).
 * Signal "draining" () comes just before "closed" when the relay closed with
 * 1001 (going away: it is shutting down), so the owner reconnects at once
 * rather than after a backoff. */
#define G_LOG_DOMAIN "confab-ws"

#include "confab-ws-transport.h"

#include "confab-lws-private.h"
#include "confab-packet.h"

#include <string.h>

/* A client sends at most ~100 packets/s; a queue this deep means the relay or
 * the network stopped reading, and dropping beats growing latency and memory. */
#define SEND_QUEUE_MAX_PACKETS 256
#define SEND_QUEUE_MAX_BYTES   (16 * 1024 * 1024)

/* The part lws callbacks see. It outlives the GObject until lws is destroyed,
 * so a callback arriving after dispose finds self == NULL instead of freed memory. */
typedef struct
{
  ConfabWsTransport *self;
  GMainContext *context;
  struct lws_context *lws;
  struct lws *wsi;
} WsConnection;

struct _ConfabWsTransport
{
  ConfabTransport parent_instance;

  /* Owned */
  char *url;
  char *host;
  char *host_header;
  char *path;
  int port;
  gboolean tls;
  WsConnection *conn;
  GQueue send_queue; /* of GBytes */
  gsize queued_bytes;
  guint8 *write_buf; /* LWS_PRE headroom + the largest packet written so far */
  gsize write_buf_size;
  GByteArray *rx; /* reassembly of a fragmented message */
  gboolean rx_discarding;
  gboolean closing;
  gboolean going_away; /* the relay closed with 1001 */
  guint64 dropped;
  guint64 rx_oversized;
};

G_DEFINE_FINAL_TYPE (ConfabWsTransport, confab_ws_transport, CONFAB_TYPE_TRANSPORT)

enum
{
  SIGNAL_DRAINING,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
ws_connection_free (gpointer data)
{
  WsConnection *conn = data;

  g_main_context_unref (conn->context);
  g_free (conn);
}

static void
clear_queue (ConfabWsTransport *self)
{
  GBytes *bytes;

  while ((bytes = g_queue_pop_head (&self->send_queue)) != NULL)
    g_bytes_unref (bytes);
  self->queued_bytes = 0;
}

static void
finish_closed (ConfabWsTransport *self, GError *error)
{
  self->conn->wsi = NULL;
  clear_queue (self);
  confab_transport_emit_closed (CONFAB_TRANSPORT (self), error);
}

static void
on_receive (ConfabWsTransport *self, struct lws *wsi, const guint8 *in, gsize len)
{
  gboolean final = lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0;

  /* Text messages only count as liveness (PROTOCOL.md §1). */
  if (!lws_frame_is_binary (wsi))
    {
      if (final)
        g_byte_array_set_size (self->rx, 0);
      return;
    }

  if (self->rx_discarding)
    {
      if (final)
        self->rx_discarding = FALSE;
      return;
    }

  if (final && self->rx->len == 0)
    {
      /* Common case: the whole message in one piece. */
      g_autoptr (GBytes) packet = g_bytes_new (in, len);
      confab_transport_emit_packet (CONFAB_TRANSPORT (self), packet);
      return;
    }

  if (self->rx->len + len > CONFAB_MAX_PACKET_SIZE)
    {
      /* Bounded reassembly: drop the oversized message, keep the connection. */
      if (self->rx_oversized++ == 0)
        g_warning ("Dropping a message larger than %u bytes from %s", CONFAB_MAX_PACKET_SIZE,
                   self->url);
      g_byte_array_set_size (self->rx, 0);
      self->rx_discarding = !final;
      return;
    }

  g_byte_array_append (self->rx, in, len);
  if (final)
    {
      g_autoptr (GBytes) packet = g_byte_array_free_to_bytes (self->rx);
      self->rx = g_byte_array_new ();
      confab_transport_emit_packet (CONFAB_TRANSPORT (self), packet);
    }
}

static int
on_writeable (ConfabWsTransport *self, struct lws *wsi)
{
  g_autoptr (GBytes) packet = g_queue_pop_head (&self->send_queue);
  gsize len;
  const guint8 *data;

  if (packet == NULL)
    {
      if (self->closing)
        {
          lws_close_reason (wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
          return -1;
        }
      return 0;
    }

  data = g_bytes_get_data (packet, &len);
  self->queued_bytes -= len;
  /* lws needs LWS_PRE writable bytes in front of the payload; GBytes are
   * immutable and shared, so copy into one reused buffer. */
  if (self->write_buf_size < LWS_PRE + len)
    {
      self->write_buf_size = MAX (LWS_PRE + len, self->write_buf_size * 2);
      self->write_buf = g_realloc (self->write_buf, self->write_buf_size);
    }
  if (len > 0)
    memcpy (self->write_buf + LWS_PRE, data, len);
  if (lws_write (wsi, self->write_buf + LWS_PRE, len, LWS_WRITE_BINARY) < (int) len)
    return -1;

  if (!g_queue_is_empty (&self->send_queue) || self->closing)
    lws_callback_on_writable (wsi);
  return 0;
}

static int
ws_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  struct lws_context *lws = lws_get_context (wsi);
  WsConnection *conn = lws != NULL ? lws_context_user (lws) : NULL;
  ConfabWsTransport *self = conn != NULL ? conn->self : NULL;
  g_autoptr (ConfabWsTransport) guard = NULL;

  if (conn == NULL)
    return 0;
  if (self == NULL)
    return reason == LWS_CALLBACK_CLIENT_RECEIVE || reason == LWS_CALLBACK_CLIENT_WRITEABLE ? -1
                                                                                            : 0;
  /* A signal handler may drop the last reference to us. */
  guard = g_object_ref (self);

  switch (reason)
    {
      case LWS_CALLBACK_CLIENT_ESTABLISHED:
        conn->wsi = wsi;
        confab_transport_emit_connected (CONFAB_TRANSPORT (self));
        if (!g_queue_is_empty (&self->send_queue) || self->closing)
          lws_callback_on_writable (wsi);
        break;

      case LWS_CALLBACK_CLIENT_RECEIVE:
        on_receive (self, wsi, in, len);
        break;

      case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable (self, wsi);

      case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        {
          g_autoptr (GError) error = NULL;
          unsigned int status = wsi != NULL ? lws_http_client_http_response (wsi) : 0;

          if (status >= 400 && status < 500)
            error = g_error_new (CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_REFUSED,
                                 "%s refused the connection (HTTP %u)", self->url, status);
          else
            error = g_error_new (CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CONNECT,
                                 "Cannot connect to %s: %s", self->url,
                                 in != NULL ? (const char *) in : "connection failed");
          finish_closed (self, error);
          break;
        }

      case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* The close payload: a 2-byte code in network order, then a reason. */
        if (len >= 2 && in != NULL &&
            (((const guint8 *) in)[0] << 8 | ((const guint8 *) in)[1]) ==
                LWS_CLOSE_STATUS_GOINGAWAY)
          self->going_away = TRUE;
        return 0; /* lws echoes the close, then CLIENT_CLOSED follows */

      case LWS_CALLBACK_CLIENT_CLOSED:
        if (self->closing)
          finish_closed (self, NULL);
        else
          {
            g_autoptr (GError) error = NULL;

            if (self->going_away)
              {
                error = g_error_new (CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CLOSED,
                                     "The relay at %s is going away", self->url);
                g_signal_emit (self, signals[SIGNAL_DRAINING], 0);
              }
            else
              error = g_error_new (CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CLOSED,
                                   "The connection to %s was closed", self->url);
            finish_closed (self, error);
          }
        break;

      default:
        break;
    }
  return 0;
}

static const struct lws_protocols ws_protocols[] = {
  {
      .name = "confab-ws-client",
      .callback = ws_callback,
      /* Bigger reads mean fewer fragments to reassemble for video frames. */
      .rx_buffer_size = 65536,
  },
  { NULL, NULL, 0, 0, 0, NULL, 0 } /* terminator */
};

static gboolean
report_open_failure (gpointer data)
{
  ConfabWsTransport *self = data;
  g_autoptr (GError) error = g_error_new (CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_CONNECT,
                                          "Cannot connect to %s", self->url);

  finish_closed (self, error);
  return G_SOURCE_REMOVE;
}

static void
confab_ws_transport_open (ConfabTransport *transport)
{
  ConfabWsTransport *self = CONFAB_WS_TRANSPORT (transport);
  struct lws_client_connect_info info;
  g_autoptr (GSource) source = NULL;

  if (self->conn->lws != NULL)
    return;

  self->conn->lws =
      confab_lws_client_context_new (self->conn->context, ws_protocols, self->tls, self->conn);
  if (self->conn->lws != NULL)
    {
      memset (&info, 0, sizeof info);
      info.context = self->conn->lws;
      info.address = self->host;
      info.port = self->port;
      info.path = self->path;
      info.host = self->host_header;
      info.origin = self->host_header;
      info.ssl_connection = self->tls ? LCCSCF_USE_SSL : 0;
      info.protocol = NULL; /* the relay requires no subprotocol */
      info.local_protocol_name = ws_protocols[0].name;
      if (lws_client_connect_via_info (&info) != NULL)
        return;
    }
  else
    g_warning ("Cannot create a libwebsockets context (is libwebsockets-evlib-glib installed?)");

  /* "closed" must not fire before the caller had a chance to connect to it. */
  source = g_idle_source_new ();
  g_source_set_callback (source, report_open_failure, g_object_ref (self), g_object_unref);
  g_source_attach (source, self->conn->context);
}

static gboolean
confab_ws_transport_send (ConfabTransport *transport, GBytes *packet)
{
  ConfabWsTransport *self = CONFAB_WS_TRANSPORT (transport);
  gsize len = g_bytes_get_size (packet);

  if (self->closing || self->conn->wsi == NULL || len > CONFAB_MAX_PACKET_SIZE)
    return FALSE;
  if (self->send_queue.length >= SEND_QUEUE_MAX_PACKETS ||
      self->queued_bytes + len > SEND_QUEUE_MAX_BYTES)
    {
      self->dropped++;
      return FALSE;
    }
  g_queue_push_tail (&self->send_queue, g_bytes_ref (packet));
  self->queued_bytes += len;
  lws_callback_on_writable (self->conn->wsi);
  return TRUE;
}

static void
confab_ws_transport_close (ConfabTransport *transport)
{
  ConfabWsTransport *self = CONFAB_WS_TRANSPORT (transport);

  if (self->closing)
    return;
  self->closing = TRUE;
  if (self->conn->wsi != NULL)
    {
      /* Flush what is queued, then send a close frame from WRITEABLE. */
      lws_callback_on_writable (self->conn->wsi);
      return;
    }
  finish_closed (self, NULL);
}

static void
confab_ws_transport_dispose (GObject *object)
{
  ConfabWsTransport *self = CONFAB_WS_TRANSPORT (object);

  if (self->conn != NULL)
    {
      WsConnection *conn = g_steal_pointer (&self->conn);

      conn->self = NULL;
      /* Tear lws down later, from the main loop, never from inside a callback:
       * dispose may run in a signal handler that lws is calling. */
      confab_lws_context_destroy_later (conn->context, conn->lws, conn, ws_connection_free);
    }
  clear_queue (self);
  G_OBJECT_CLASS (confab_ws_transport_parent_class)->dispose (object);
}

static void
confab_ws_transport_finalize (GObject *object)
{
  ConfabWsTransport *self = CONFAB_WS_TRANSPORT (object);

  g_free (self->url);
  g_free (self->host);
  g_free (self->host_header);
  g_free (self->path);
  g_free (self->write_buf);
  g_byte_array_unref (self->rx);
  G_OBJECT_CLASS (confab_ws_transport_parent_class)->finalize (object);
}

static void
confab_ws_transport_class_init (ConfabWsTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ConfabTransportClass *transport_class = CONFAB_TRANSPORT_CLASS (klass);

  object_class->dispose = confab_ws_transport_dispose;
  object_class->finalize = confab_ws_transport_finalize;
  transport_class->open = confab_ws_transport_open;
  transport_class->send = confab_ws_transport_send;
  transport_class->close = confab_ws_transport_close;

  signals[SIGNAL_DRAINING] = g_signal_new ("draining", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
confab_ws_transport_init (ConfabWsTransport *self)
{
  g_queue_init (&self->send_queue);
  self->rx = g_byte_array_new ();
}

ConfabTransport *
confab_ws_transport_new (const char *url, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autoptr (ConfabWsTransport) self = NULL;
  const char *scheme;
  const char *query;
  g_autoptr (GError) local_error = NULL;

  g_return_val_if_fail (url != NULL, NULL);

  uri = g_uri_parse (url, G_URI_FLAGS_ENCODED, &local_error);
  if (uri == NULL)
    {
      g_set_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID,
                   "Invalid WebSocket URL “%s”: %s", url, local_error->message);
      return NULL;
    }
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0)
    {
      g_set_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID,
                   "Invalid WebSocket URL “%s”: the scheme must be ws or wss", url);
      return NULL;
    }
  if (g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID,
                   "Invalid WebSocket URL “%s”: no host", url);
      return NULL;
    }

  self = g_object_new (CONFAB_TYPE_WS_TRANSPORT, "kind", "websocket", NULL);
  self->url = g_strdup (url);
  self->tls = g_ascii_strcasecmp (scheme, "wss") == 0;
  self->host = g_strdup (g_uri_get_host (uri));
  self->port = g_uri_get_port (uri) > 0 ? g_uri_get_port (uri) : (self->tls ? 443 : 80);
  self->host_header = strchr (self->host, ':') != NULL
                          ? g_strdup_printf ("[%s]:%d", self->host, self->port)
                          : g_strdup_printf ("%s:%d", self->host, self->port);
  query = g_uri_get_query (uri);
  self->path =
      g_strdup_printf ("%s%s%s", g_uri_get_path (uri)[0] != '\0' ? g_uri_get_path (uri) : "/",
                       query != NULL ? "?" : "", query != NULL ? query : "");

  self->conn = g_new0 (WsConnection, 1);
  self->conn->self = self;
  self->conn->context = g_main_context_ref_thread_default ();
  return CONFAB_TRANSPORT (g_steal_pointer (&self));
}

const char *
confab_ws_transport_get_url (ConfabWsTransport *self)
{
  g_return_val_if_fail (CONFAB_IS_WS_TRANSPORT (self), NULL);
  return self->url;
}

guint64
confab_ws_transport_get_dropped (ConfabWsTransport *self)
{
  g_return_val_if_fail (CONFAB_IS_WS_TRANSPORT (self), 0);
  return self->dropped;
}
