/* confab-wt-session.c: the application's handle on one WebTransport session.
 * It forwards verbs to its connection (which may be gone: then they fail
 * quietly) and emits what the connection reports, once per state change. */
#define G_LOG_DOMAIN "confab-wt"

#include "confab-wt-private.h"

struct _ConfabWtSession
{
  GObject parent_instance;

  /* Borrowed: the connection clears it through confab_wt_session_finish(). */
  ConfabWtConn *conn;
  /* Owned: a client session owns its UDP endpoint (and so its connection). */
  ConfabWtEndpoint *endpoint;

  char *path;
  guint64 id;
  guint status;
  gboolean ready;
  gboolean closed;
  gboolean draining;
  guint32 close_code;
  char *close_reason;
  ConfabWtStats stats;

  /* Client, after confab_wt_session_close(): a reference on ourselves (and so
   * on the endpoint and connection) until the connection has told the peer
   * (capsule, FIN, CONNECTION_CLOSE) or CONFAB_WT_CLOSE_LINGER_MS passed. */
  GSource *linger;
};

/* Longest a closed client session keeps its connection to say goodbye. */
#define CONFAB_WT_CLOSE_LINGER_MS 1000

G_DEFINE_TYPE (ConfabWtSession, confab_wt_session, G_TYPE_OBJECT)
G_DEFINE_QUARK (confab - wt - error - quark, confab_wt_error)

enum
{
  SIGNAL_READY,
  SIGNAL_DRAINING,
  SIGNAL_PACKET,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
confab_wt_session_dispose (GObject *object)
{
  ConfabWtSession *self = CONFAB_WT_SESSION (object);

  if (self->endpoint != NULL)
    {
      /* Mark closed first: tearing the endpoint down must not call back. */
      self->closed = TRUE;
      self->conn = NULL;
      g_clear_pointer (&self->endpoint, confab_wt_endpoint_free);
    }
  G_OBJECT_CLASS (confab_wt_session_parent_class)->dispose (object);
}

static void
confab_wt_session_finalize (GObject *object)
{
  ConfabWtSession *self = CONFAB_WT_SESSION (object);

  g_free (self->path);
  g_free (self->close_reason);
  G_OBJECT_CLASS (confab_wt_session_parent_class)->finalize (object);
}

static void
confab_wt_session_class_init (ConfabWtSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_wt_session_dispose;
  object_class->finalize = confab_wt_session_finalize;

  signals[SIGNAL_READY] = g_signal_new ("ready", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_DRAINING] = g_signal_new ("draining", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_PACKET] =
      g_signal_new ("packet", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 2, G_TYPE_BYTES | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_BOOLEAN);
  signals[SIGNAL_CLOSED] =
      g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_wt_session_init (ConfabWtSession *self)
{
}

ConfabWtSession *
confab_wt_session_new_internal (ConfabWtConn *conn, guint64 id, const char *path)
{
  ConfabWtSession *self = g_object_new (CONFAB_TYPE_WT_SESSION, NULL);

  self->conn = conn;
  self->id = id;
  self->path = g_strdup (path);
  return self;
}

ConfabWtConn *
confab_wt_session_get_conn (ConfabWtSession *self)
{
  return self->conn;
}

static void
linger_end (ConfabWtSession *self)
{
  if (self->linger == NULL)
    return;
  g_source_destroy (self->linger);
  g_clear_pointer (&self->linger, g_source_unref);
  g_object_unref (self);
}

/* The peer did not answer in time: say CONNECTION_CLOSE ourselves and go. */
static gboolean
linger_timeout (gpointer data)
{
  ConfabWtSession *self = data;

  if (self->conn != NULL)
    confab_wt_conn_close_now (self->conn);
  linger_end (self);
  return G_SOURCE_REMOVE;
}

static void
linger_start (ConfabWtSession *self)
{
  if (self->endpoint == NULL || self->conn == NULL || self->linger != NULL)
    return;
  g_object_ref (self);
  self->linger = g_timeout_source_new (CONFAB_WT_CLOSE_LINGER_MS);
  g_source_set_callback (self->linger, linger_timeout, self, NULL);
  g_source_attach (self->linger, self->endpoint->context);
}

void
confab_wt_session_attach_conn (ConfabWtSession *self, ConfabWtConn *conn)
{
  self->conn = conn;
  /* The connection is gone (its CONNECTION_CLOSE sent): nothing to wait for.
   * Callers (the connection's timer, the socket source) hold a reference of
   * their own, so this is never the last one while they run. */
  if (conn == NULL)
    linger_end (self);
}

void
confab_wt_session_set_owned_endpoint (ConfabWtSession *self, ConfabWtEndpoint *ep)
{
  self->endpoint = ep;
}

void
confab_wt_session_set_status (ConfabWtSession *self, guint status)
{
  self->status = status;
}

void
confab_wt_session_mark_ready (ConfabWtSession *self, guint status)
{
  self->status = status;
  if (self->ready || self->closed)
    return;
  self->ready = TRUE;
  g_signal_emit (self, signals[SIGNAL_READY], 0);
}

void
confab_wt_session_mark_draining (ConfabWtSession *self)
{
  if (self->draining || self->closed)
    return;
  self->draining = TRUE;
  g_signal_emit (self, signals[SIGNAL_DRAINING], 0);
}

void
confab_wt_session_drain (ConfabWtSession *self)
{
  g_return_if_fail (CONFAB_IS_WT_SESSION (self));

  if (self->conn != NULL && self->ready && !self->closed)
    confab_wt_conn_drain_session (self->conn);
}

gboolean
confab_wt_session_is_draining (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), FALSE);
  return self->draining;
}

void
confab_wt_session_deliver (ConfabWtSession *self, GBytes *message, gboolean datagram)
{
  if (self->closed)
    return;
  if (datagram)
    self->stats.datagrams_received++;
  else
    self->stats.messages_received++;
  self->stats.bytes_received += g_bytes_get_size (message);
  g_signal_emit (self, signals[SIGNAL_PACKET], 0, message, datagram);
}

void
confab_wt_session_finish (ConfabWtSession *self,
                          const GError *error,
                          guint32 code,
                          const char *reason)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  self->close_code = code;
  self->close_reason = g_strdup (reason != NULL ? reason : "");
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
  g_object_unref (self);
}

ConfabWtStats *
confab_wt_session_stats (ConfabWtSession *self)
{
  return &self->stats;
}

const char *
confab_wt_session_get_path (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), NULL);
  return self->path;
}

guint64
confab_wt_session_get_id (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), 0);
  return self->id;
}

gboolean
confab_wt_session_is_open (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), FALSE);
  return self->ready && !self->closed;
}

guint
confab_wt_session_get_status (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), 0);
  return self->status;
}

guint32
confab_wt_session_get_close_code (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), 0);
  return self->close_code;
}

const char *
confab_wt_session_get_close_reason (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), NULL);
  return self->close_reason;
}

gboolean
confab_wt_session_send_stream (ConfabWtSession *self, GBytes *message)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);

  if (self->closed || !self->ready || self->conn == NULL ||
      !confab_wt_conn_queue_stream (self->conn, message))
    return FALSE;
  self->stats.messages_sent++;
  self->stats.bytes_sent += g_bytes_get_size (message);
  return TRUE;
}

gboolean
confab_wt_session_send_datagram (ConfabWtSession *self, GBytes *message)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);

  if (self->closed || !self->ready || self->conn == NULL)
    return FALSE;
  /* An empty QUIC DATAGRAM payload aborts ngtcp2 0.12 (an assertion in its
   * frame encoder); an empty message goes on a stream instead. */
  if (g_bytes_get_size (message) == 0)
    return FALSE;
  if (!confab_wt_conn_queue_datagram (self->conn, message))
    return FALSE;
  self->stats.bytes_sent += g_bytes_get_size (message);
  return TRUE;
}

gsize
confab_wt_session_get_max_datagram_size (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), 0);

  if (self->closed || self->conn == NULL)
    return 0;
  return confab_wt_conn_max_datagram_size (self->conn);
}

void
confab_wt_session_close (ConfabWtSession *self, guint32 code, const char *reason)
{
  g_return_if_fail (CONFAB_IS_WT_SESSION (self));

  if (self->closed)
    return;
  /* A "closed" handler may drop the last reference; finish the call first. */
  g_object_ref (self);
  if (self->conn != NULL && self->ready)
    confab_wt_conn_close_session (self->conn, code, reason);
  /* A client owns its connection: keep it until the close is on the wire,
   * even if the caller drops the session in its "closed" handler. */
  linger_start (self);
  /* Not ready yet, or the connection had no session open: still end here. */
  confab_wt_session_finish (self, NULL, code, reason);
  g_object_unref (self);
}

void
confab_wt_session_get_stats (ConfabWtSession *self, ConfabWtStats *stats)
{
  g_return_if_fail (CONFAB_IS_WT_SESSION (self));
  *stats = self->stats;
}

char *
confab_wt_session_dup_peer_address (ConfabWtSession *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_SESSION (self), NULL);

  return self->conn != NULL ? confab_wt_conn_dup_remote (self->conn) : NULL;
}
