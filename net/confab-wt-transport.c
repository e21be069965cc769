/* confab-wt-transport.c: ConfabTransport on a ConfabWtSession. Maps the
 * session's "ready"/"packet"/"closed" to the transport's signals and its
 * errors to ConfabTransportError, so the call layer cannot tell the paths
 * apart except by confab_transport_get_kind(). */
#define G_LOG_DOMAIN "confab-wt"

#include "confab-wt-transport.h"

struct _ConfabWtTransport
{
  ConfabTransport parent_instance;

  /* Owned */
  char *url;
  char *cert_hash;
  gboolean insecure;
  ConfabWtSession *session;
};

G_DEFINE_FINAL_TYPE (ConfabWtTransport, confab_wt_transport, CONFAB_TYPE_TRANSPORT)

static void
drop_session (ConfabWtTransport *self)
{
  if (self->session == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->session, self);
  g_clear_object (&self->session);
}

static void
on_ready (ConfabWtSession *session, ConfabWtTransport *self)
{
  confab_transport_emit_connected (CONFAB_TRANSPORT (self));
}

static void
on_packet (ConfabWtSession *session, GBytes *packet, gboolean datagram, ConfabWtTransport *self)
{
  confab_transport_emit_packet (CONFAB_TRANSPORT (self), packet);
}

static int
map_code (const GError *error)
{
  if (error->domain != CONFAB_WT_ERROR)
    return CONFAB_TRANSPORT_ERROR_CLOSED;
  switch (error->code)
    {
      case CONFAB_WT_ERROR_REFUSED:
        return CONFAB_TRANSPORT_ERROR_REFUSED;
      case CONFAB_WT_ERROR_PROTOCOL:
        return CONFAB_TRANSPORT_ERROR_PROTOCOL;
      case CONFAB_WT_ERROR_INVALID:
        return CONFAB_TRANSPORT_ERROR_INVALID;
      case CONFAB_WT_ERROR_CONNECT:
      case CONFAB_WT_ERROR_CERTIFICATE:
        return CONFAB_TRANSPORT_ERROR_CONNECT;
      case CONFAB_WT_ERROR_TIMEOUT:
      case CONFAB_WT_ERROR_CLOSED:
      default:
        return CONFAB_TRANSPORT_ERROR_CLOSED;
    }
}

static void
on_closed (ConfabWtSession *session, const GError *error, ConfabWtTransport *self)
{
  g_autoptr (GError) mapped = NULL;
  g_autoptr (ConfabWtSession) keep = g_object_ref (session);

  if (error != NULL)
    {
      /* A timeout before the session opened is a failed connect. */
      int code = map_code (error);

      if (code == CONFAB_TRANSPORT_ERROR_CLOSED &&
          !confab_transport_is_open (CONFAB_TRANSPORT (self)))
        code = CONFAB_TRANSPORT_ERROR_CONNECT;
      mapped = g_error_new_literal (CONFAB_TRANSPORT_ERROR, code, error->message);
    }
  drop_session (self);
  confab_transport_emit_closed (CONFAB_TRANSPORT (self), mapped);
}

static void
confab_wt_transport_open (ConfabTransport *transport)
{
  ConfabWtTransport *self = CONFAB_WT_TRANSPORT (transport);
  ConfabWtClientOptions options = {
    .cert_hash = self->cert_hash,
    .insecure = self->insecure,
    .keep_alive_ms = 5000,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) mapped = NULL;

  if (self->session != NULL)
    return;
  self->session = confab_wt_client_connect (self->url, &options, &error);
  if (self->session == NULL)
    {
      mapped = g_error_new_literal (CONFAB_TRANSPORT_ERROR, map_code (error), error->message);
      confab_transport_emit_closed (transport, mapped);
      return;
    }
  g_signal_connect (self->session, "ready", G_CALLBACK (on_ready), self);
  g_signal_connect (self->session, "packet", G_CALLBACK (on_packet), self);
  g_signal_connect (self->session, "closed", G_CALLBACK (on_closed), self);
}

static gboolean
confab_wt_transport_send (ConfabTransport *transport, GBytes *packet)
{
  ConfabWtTransport *self = CONFAB_WT_TRANSPORT (transport);

  return self->session != NULL && confab_wt_session_send_stream (self->session, packet);
}

static void
confab_wt_transport_close (ConfabTransport *transport)
{
  ConfabWtTransport *self = CONFAB_WT_TRANSPORT (transport);

  if (self->session == NULL)
    return;
  /* "closed" from the session (NULL error) becomes our "closed". */
  confab_wt_session_close (self->session, 0, "");
}

static void
confab_wt_transport_dispose (GObject *object)
{
  drop_session (CONFAB_WT_TRANSPORT (object));
  G_OBJECT_CLASS (confab_wt_transport_parent_class)->dispose (object);
}

static void
confab_wt_transport_finalize (GObject *object)
{
  ConfabWtTransport *self = CONFAB_WT_TRANSPORT (object);

  g_free (self->url);
  g_free (self->cert_hash);
  G_OBJECT_CLASS (confab_wt_transport_parent_class)->finalize (object);
}

static void
confab_wt_transport_class_init (ConfabWtTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  ConfabTransportClass *transport_class = CONFAB_TRANSPORT_CLASS (klass);

  object_class->dispose = confab_wt_transport_dispose;
  object_class->finalize = confab_wt_transport_finalize;
  transport_class->open = confab_wt_transport_open;
  transport_class->send = confab_wt_transport_send;
  transport_class->close = confab_wt_transport_close;
}

static void
confab_wt_transport_init (ConfabWtTransport *self)
{
}

ConfabTransport *
confab_wt_transport_new (const char *url, const char *cert_hash, gboolean insecure, GError **error)
{
  g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  ConfabWtTransport *self;

  if (uri == NULL || g_strcmp0 (g_uri_get_scheme (uri), "https") != 0 ||
      g_uri_get_host (uri) == NULL || g_uri_get_host (uri)[0] == '\0')
    {
      g_set_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID,
                   "not a WebTransport URL (https://host:port/path): %s", url);
      return NULL;
    }
  self = g_object_new (CONFAB_TYPE_WT_TRANSPORT, "kind", "webtransport", NULL);
  self->url = g_strdup (url);
  self->cert_hash = g_strdup (cert_hash);
  self->insecure = insecure;
  return CONFAB_TRANSPORT (self);
}

const char *
confab_wt_transport_get_url (ConfabWtTransport *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_TRANSPORT (self), NULL);
  return self->url;
}

gboolean
confab_wt_transport_send_datagram (ConfabWtTransport *self, GBytes *packet)
{
  g_return_val_if_fail (CONFAB_IS_WT_TRANSPORT (self), FALSE);
  return self->session != NULL && confab_wt_session_send_datagram (self->session, packet);
}

ConfabWtSession *
confab_wt_transport_get_session (ConfabWtTransport *self)
{
  g_return_val_if_fail (CONFAB_IS_WT_TRANSPORT (self), NULL);
  return self->session;
}
