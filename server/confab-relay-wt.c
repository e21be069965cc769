/* confab-relay-wt.c: the relay's WebTransport side: the UDP listener, the
 * CONNECT decision with the WebSocket admission rules (PROTOCOL.md §3), and
 * the WebTransport path of a session: inbound messages into the shared
 * session logic, outbound packets as uni streams or datagrams (§4.6). */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-private.h"

#include <string.h>

/* A session whose connection refuses more output for this long is a reader
 * that will not catch up: its ring has long been dropping to CONGESTION. */
#define CONFAB_RELAY_WT_STALL_LIMIT_US (10 * G_USEC_PER_SEC)
/* Retry period while the connection's send queue is full. */
#define CONFAB_RELAY_WT_RETRY_MS 20
/* PROTOCOL.md §7: [confab] packet types start here. */
#define CONFAB_RELAY_FIRST_EXTENSION_TYPE 100

/* packet_type (field 1, varint) of a serialized PacketWrapper, read without
 * unpacking: shared buffers from NATS carry no classification. -1 when the
 * bytes do not say. */
static gint64
peek_packet_type (const guint8 *p, gsize len)
{
  const guint8 *end = p + len;

  for (guint fields = 0; p < end && fields < 16; fields++)
    {
      guint64 tag = 0, value = 0;
      guint shift = 0;

      while (p < end && shift < 64)
        {
          tag |= (guint64) (*p & 0x7f) << shift;
          shift += 7;
          if ((*p++ & 0x80) == 0)
            break;
        }
      switch (tag & 7)
        {
          case 0:
            shift = 0;
            while (p < end && shift < 64)
              {
                value |= (guint64) (*p & 0x7f) << shift;
                shift += 7;
                if ((*p++ & 0x80) == 0)
                  break;
              }
            if ((tag >> 3) == 1)
              return (gint64) value;
            break;
          case 1:
            p += MIN ((gsize) (end - p), 8);
            break;
          case 5:
            p += MIN ((gsize) (end - p), 4);
            break;
          case 2:
            shift = 0;
            while (p < end && shift < 64)
              {
                value |= (guint64) (*p & 0x7f) << shift;
                shift += 7;
                if ((*p++ & 0x80) == 0)
                  break;
              }
            if (value > (guint64) (end - p))
              return -1;
            p += value;
            break;
          default:
            return -1;
        }
    }
  return -1;
}

static gboolean
on_retire_timeout (gpointer data)
{
  ConfabRelaySession *self = data;

  self->wt_retire_source = 0;
  /* The client ignored the drain (an upstream browser may): closing lets
   * its own reconnect take over; presence per user hides the gap. */
  g_message ("close room=%s session=%" G_GUINT64_FORMAT ": did not move after its stream budget",
             self->room->name, self->id);
  confab_relay_wt_kill (self, 0, "stream budget");
  return G_SOURCE_REMOVE;
}

/* ngtcp2 0.12.1 keeps a record of every stream until the connection ends
 * (docs/webtransport.md, "Known limits"): once a session has carried its
 * budget, ask the client to move to a fresh session, as a graceful shutdown
 * does, and keep delivering until it has. Once per session. */
static void
count_stream (ConfabRelaySession *self)
{
  guint64 budget = self->relay->config.wt_stream_budget;

  self->wt_streams++;
  if (budget == 0 || self->wt_streams < budget || self->wt_retiring || self->killing)
    return;
  self->wt_retiring = TRUE;
  g_message ("retire room=%s session=%" G_GUINT64_FORMAT ": %" G_GUINT64_FORMAT
             " streams carried, asking the client to move",
             self->room->name, self->id, self->wt_streams);
  confab_wt_session_drain (self->wt);
  self->wt_retire_source =
      g_timeout_add (self->relay->config.wt_retire_grace_ms, on_retire_timeout, self);
}

static void
buf_release (gpointer data)
{
  confab_relay_buf_unref (data);
}

static gboolean
on_retry (gpointer data)
{
  ConfabRelaySession *self = data;

  self->wt_retry_source = 0;
  confab_relay_wt_write (self);
  return G_SOURCE_REMOVE;
}

void
confab_relay_wt_write (ConfabRelaySession *self)
{
  gsize max_datagram;

  if (self->killing || self->wt_retry_source != 0)
    return;
  max_datagram = confab_wt_session_get_max_datagram_size (self->wt);
  while (self->ring_count > 0)
    {
      ConfabRelayBuf *buf = self->ring[self->ring_head];
      ConfabRelayRoute route = self->ring_route[self->ring_head];
      const guint8 *payload = confab_relay_buf_payload (buf);
      g_autoptr (GBytes) bytes = NULL;
      gboolean datagram;
      gboolean sent;

      /* PROTOCOL.md §4.6: MEDIA (heartbeats too) on a stream each, other
       * packets that fit as datagrams; RTT echoes follow their probe.
       * [confab] extension packets (type >= 100: chat) carry what a person
       * typed, which must not be lost, so they always go on a stream. */
      if (route == CONFAB_RELAY_ROUTE_STREAM)
        datagram = FALSE;
      else if (route == CONFAB_RELAY_ROUTE_DATAGRAM)
        datagram = buf->len <= max_datagram;
      else
        {
          gint64 type = peek_packet_type (payload, buf->len);

          datagram = buf->len <= max_datagram && type != CONFAB_PACKET_MEDIA &&
                     type < CONFAB_RELAY_FIRST_EXTENSION_TYPE;
        }

      /* No copy: the connection holds the shared buffer until it is sent. */
      bytes =
          g_bytes_new_with_free_func (payload, buf->len, buf_release, confab_relay_buf_ref (buf));
      sent = datagram ? confab_wt_session_send_datagram (self->wt, bytes)
                      : confab_wt_session_send_stream (self->wt, bytes);
      if (!sent && !datagram)
        {
          gint64 now = g_get_monotonic_time ();

          if (!confab_wt_session_is_open (self->wt))
            return;
          /* The connection's bounded queue is full (a slow reader): keep the
           * packet in our ring, which drops to CONGESTION once full. */
          if (self->wt_stalled_since_us == 0)
            self->wt_stalled_since_us = now;
          else if (now - self->wt_stalled_since_us > CONFAB_RELAY_WT_STALL_LIMIT_US)
            {
              g_message ("close room=%s session=%" G_GUINT64_FORMAT
                         ": webtransport reader too slow",
                         self->room->name, self->id);
              confab_relay_wt_kill (self, 0, "too slow");
              return;
            }
          self->wt_retry_source = g_timeout_add (CONFAB_RELAY_WT_RETRY_MS, on_retry, self);
          return;
        }
      /* A refused datagram is lost, as datagrams may be. */
      if (!sent)
        self->dropped++;
      else if (!datagram)
        count_stream (self);
      self->wt_stalled_since_us = 0;
      self->ring[self->ring_head] = NULL;
      self->ring_head = (self->ring_head + 1) % CONFAB_RELAY_QUEUE_LENGTH;
      self->ring_count--;
      confab_relay_buf_unref (buf);
    }
}

void
confab_relay_wt_kill (ConfabRelaySession *self, guint32 code, const char *reason)
{
  g_autoptr (ConfabWtSession) wt = g_object_ref (self->wt);

  self->killing = TRUE;
  /* "closed" frees the session, now or later. */
  confab_wt_session_close (wt, code, reason);
}

static void
on_packet (ConfabWtSession *wt, GBytes *message, gboolean datagram, gpointer data)
{
  ConfabRelaySession *self = data;
  gsize len = 0;
  const guint8 *bytes = g_bytes_get_data (message, &len);

  /* PROTOCOL.md §4.7: a raw datagram "ping" only says the client is alive. */
  if (datagram && len == 4 && memcmp (bytes, "ping", 4) == 0)
    {
      self->last_rx_us = g_get_monotonic_time ();
      return;
    }
  if (!datagram)
    count_stream (self);
  confab_relay_session_process (self, bytes, len, datagram);
}

static void
on_closed (ConfabWtSession *wt, const GError *error, gpointer data)
{
  ConfabRelaySession *self = data;

  if (error != NULL && !self->killing)
    g_message ("close room=%s session=%" G_GUINT64_FORMAT ": %s", self->room->name, self->id,
               error->message);
  confab_relay_session_free (self);
}

/* Splits "/lobby?token=..." into a decoded path and the token argument. */
static guint
decide (ConfabWtServer *server, ConfabWtSession *wt, const char *path, gpointer data)
{
  ConfabRelay *relay = data;
  ConfabLobbyRequest request;
  ConfabRelaySession *session;
  g_autofree char *raw_path = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *token = NULL;
  const char *query = strchr (path, '?');
  guint status;

  /* Shutting down: clients go to another relay (or come back later). */
  if (relay->draining)
    return 503;
  raw_path = query != NULL ? g_strndup (path, query - path) : g_strdup (path);
  uri = g_uri_unescape_string (raw_path, NULL);
  if (uri == NULL)
    return 400;
  if (query != NULL)
    {
      g_auto (GStrv) args = g_strsplit (query + 1, "&", -1);

      for (guint i = 0; args[i] != NULL && token == NULL; i++)
        if (g_str_has_prefix (args[i], "token="))
          token = g_uri_unescape_string (args[i] + strlen ("token="), NULL);
    }
  status = confab_relay_parse_lobby_uri (relay, uri, token, &request);
  if (status != 0)
    {
      confab_lobby_request_clear (&request);
      return status;
    }
  session = confab_relay_session_new_wt (relay, wt, &request);
  confab_lobby_request_clear (&request);
  g_signal_connect (wt, "packet", G_CALLBACK (on_packet), session);
  g_signal_connect (wt, "closed", G_CALLBACK (on_closed), session);
  return 200;
}

gboolean
confab_relay_wt_start (ConfabRelay *relay, GError **error)
{
  const ConfabRelayConfig *config = &relay->config;
  const char *address = config->listen_address;
  g_autoptr (GError) local_error = NULL;

  if (config->wt_port == 0)
    return TRUE;
  if (address == NULL || address[0] == '\0')
    address = "0.0.0.0";
  relay->wt_server = confab_wt_server_new (config->cert_file, config->key_file, error);
  if (relay->wt_server == NULL)
    return FALSE;
  confab_wt_server_set_idle_timeout (relay->wt_server, 30000);
  confab_wt_server_set_request_func (relay->wt_server, decide, relay, NULL);
  if (!confab_wt_server_listen (relay->wt_server, address, config->wt_port, &local_error))
    {
      g_clear_object (&relay->wt_server);
      if (config->wt_optional)
        {
          g_message ("webtransport disabled: %s", local_error->message);
          return TRUE;
        }
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  relay->wt_cert_hash = confab_wt_server_dup_cert_hash_base64 (relay->wt_server);
  g_message ("webtransport on %s:%u/udp (certificate %s, sha-256 %s)", address, config->wt_port,
             config->cert_file != NULL ? config->cert_file : "generated", relay->wt_cert_hash);
  return TRUE;
}

void
confab_relay_wt_stop (ConfabRelay *relay)
{
  GList *next;

  /* Sessions first: each closes its WebTransport session and lets go of it. */
  for (GList *l = relay->sessions.head; l != NULL; l = next)
    {
      ConfabRelaySession *session = l->data;

      next = l->next;
      if (session->path == CONFAB_RELAY_PATH_WEBTRANSPORT)
        confab_relay_session_free (session);
    }
  g_clear_object (&relay->wt_server);
  g_clear_pointer (&relay->wt_cert_hash, g_free);
}
