/* confab-relay-session.c: one client's session, WebSocket or WebTransport:
 * reassembly and classification of inbound packets, the per-session policy of
 * PROTOCOL.md §4 (testing -> active, observers, keyframe-request limit,
 * stamping), and the bounded outbound ring, written in coalesced batches on
 * WebSocket and handed to confab-relay-wt.c on WebTransport. */
#define G_LOG_DOMAIN "confab-relay"

#include "confab-relay-private.h"
#include "confab-relay-classify.h"

#include <string.h>
#include <sys/socket.h>

static guint64
random_session_id (ConfabRelay *relay)
{
  guint64 id;

  /* Non-zero (0 means "no session" on the wire) and unique on this relay. */
  do
    id = ((guint64) g_random_int () << 32) | g_random_int ();
  while (id == 0);
  return id;
}

static void
enqueue_new (ConfabRelaySession *self, GBytes *bytes)
{
  g_autoptr (ConfabRelayBuf) buf = confab_relay_buf_new_from_bytes (bytes);

  confab_relay_session_enqueue (self, buf, 0);
}

static ConfabRelaySession *
session_new (ConfabRelay *relay, struct lws *wsi, ConfabWtSession *wt, ConfabLobbyRequest *request)
{
  ConfabRelaySession *self = g_new0 (ConfabRelaySession, 1);
  ConfabMeetingPacket started = CONFAB__MEETING_PACKET__INIT;
  g_autoptr (GBytes) assigned = NULL;
  g_autoptr (GBytes) meeting = NULL;

  self->relay = relay;
  self->path = wt != NULL ? CONFAB_RELAY_PATH_WEBTRANSPORT : CONFAB_RELAY_PATH_WEBSOCKET;
  self->wsi = wsi;
  self->wt = wt != NULL ? g_object_ref (wt) : NULL;
  self->id = random_session_id (relay);
  self->user_id = g_steal_pointer (&request->user_id);
  self->display_name = g_steal_pointer (&request->display_name);
  self->observer = request->observer;
  self->last_rx_us = g_get_monotonic_time ();
  self->room_link.data = self;
  self->relay_link.data = self;
  self->dirty_link.data = self;
  self->room = confab_room_get (relay, request->room, self->user_id);
  g_queue_push_tail_link (&self->room->sessions, &self->room_link);
  g_queue_push_tail_link (&relay->sessions, &self->relay_link);

  /* Back within the grace period: the pending PARTICIPANT_LEFT is held by
   * this session and cancelled for good when it becomes active. */
  self->resumed = confab_room_take_pending_leave (self->room, self->user_id);

  g_message ("connect room=%s session=%" G_GUINT64_FORMAT " user=%s via %s%s%s", self->room->name,
             self->id, self->user_id, wt != NULL ? "webtransport" : "websocket",
             self->observer ? " observer" : "", self->resumed != NULL ? " (reconnect)" : "");

  /* PROTOCOL.md §4.1: SESSION_ASSIGNED, then MEETING_STARTED. */
  assigned = confab_packet_new_session_assigned (self->id);
  enqueue_new (self, assigned);
  started.event_type = CONFAB_MEETING_STARTED;
  started.room_id = self->room->name;
  started.start_time_ms = self->room->start_time_ms;
  started.creator_id.data = (guint8 *) self->room->creator_id;
  started.creator_id.len = strlen (self->room->creator_id);
  meeting = confab_packet_new_meeting (&started);
  enqueue_new (self, meeting);
  return self;
}

ConfabRelaySession *
confab_relay_session_new (ConfabRelay *relay, struct lws *wsi, ConfabLobbyRequest *request)
{
  return session_new (relay, wsi, NULL, request);
}

ConfabRelaySession *
confab_relay_session_new_wt (ConfabRelay *relay, ConfabWtSession *wt, ConfabLobbyRequest *request)
{
  return session_new (relay, NULL, wt, request);
}

void
confab_relay_session_free (ConfabRelaySession *self)
{
  ConfabRoom *room = self->room;
  ConfabRelay *relay = self->relay;

  g_queue_unlink (&room->sessions, &self->room_link);
  g_queue_unlink (&self->relay->sessions, &self->relay_link);
  if (self->dirty)
    g_queue_unlink (&self->relay->dirty, &self->dirty_link);
  confab_room_session_closed (room, self);
  g_message ("leave room=%s session=%" G_GUINT64_FORMAT " user=%s via %s%s", room->name, self->id,
             self->user_id, self->wt != NULL ? "webtransport" : "websocket",
             self->dropped > 0 ? " (dropped outbound packets)" : "");
  g_clear_handle_id (&self->wt_retry_source, g_source_remove);
  g_clear_handle_id (&self->wt_retire_source, g_source_remove);
  if (self->wt != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->wt, self);
      if (confab_wt_session_is_open (self->wt))
        confab_wt_session_close (self->wt, 0, "");
      g_clear_object (&self->wt);
    }

  while (self->ring_count > 0)
    {
      confab_relay_buf_unref (self->ring[self->ring_head]);
      self->ring_head = (self->ring_head + 1) % CONFAB_RELAY_QUEUE_LENGTH;
      self->ring_count--;
    }
  g_clear_pointer (&self->drop_counters, g_hash_table_destroy);
  g_free (self->rx_buf);
  g_free (self->user_id);
  g_free (self->display_name);
  g_free (self);
  confab_room_maybe_free (room);
  confab_relay_drain_progress (relay);
}

static void
request_write (ConfabRelaySession *self)
{
  if (!self->write_requested && self->wsi != NULL)
    {
      self->write_requested = TRUE;
      lws_callback_on_writable (self->wsi);
    }
}

/* Output is not written at once: the session joins the relay's dirty list,
 * flushed once the main loop has handled everything that is ready now. So all
 * packets that arrived in one loop iteration leave in one send() per
 * receiver, and the common case (socket writable) never toggles POLLOUT,
 * which on the GLib loop costs a poll-set change and a wakeup each time. */
static void
mark_dirty (ConfabRelaySession *self)
{
  ConfabRelay *relay = self->relay;

  if (self->dirty || self->write_requested)
    return;
  self->dirty = TRUE;
  g_queue_push_tail_link (&relay->dirty, &self->dirty_link);
  if (relay->flush_source == 0)
    relay->flush_source = g_idle_add_full (G_PRIORITY_DEFAULT, confab_relay_flush, relay, NULL);
}

static void
note_drop (ConfabRelaySession *self, guint64 sender)
{
  gint64 now = g_get_monotonic_time ();
  ConfabDropCounter *counter;
  ConfabPacketWrapper w = CONFAB__PACKET_WRAPPER__INIT;
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (ConfabRelayBuf) buf = NULL;

  if (self->drop_counters == NULL)
    self->drop_counters = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  counter = g_hash_table_lookup (self->drop_counters, &sender);
  if (counter == NULL)
    {
      counter = g_new0 (ConfabDropCounter, 1);
      counter->last_congestion_us = G_MININT64 / 2;
      g_hash_table_insert (self->drop_counters, g_memdup2 (&sender, sizeof sender), counter);
    }
  if (now - counter->window_start_us > G_USEC_PER_SEC)
    {
      counter->window_start_us = now;
      counter->drops = 0;
    }
  counter->drops++;
  if (counter->drops < CONFAB_RELAY_CONGESTION_DROPS ||
      now - counter->last_congestion_us < G_USEC_PER_SEC)
    return;

  /* PROTOCOL.md §4.6: tell sender S that this receiver cannot keep up. */
  counter->last_congestion_us = now;
  counter->drops = 0;
  w.packet_type = CONFAB_PACKET_CONGESTION;
  w.user_id.data = (guint8 *) self->user_id;
  w.user_id.len = strlen (self->user_id);
  w.session_id = sender;
  bytes = confab_packet_pack (&w);
  buf = confab_relay_buf_new_from_bytes (bytes);
  confab_room_bus_publish (self->relay->bus, self->room->name, CONFAB_ROOM_BUS_CONGESTION, sender,
                           buf);
}

static void
enqueue_routed (ConfabRelaySession *self,
                ConfabRelayBuf *buf,
                guint64 sender,
                ConfabRelayRoute route)
{
  guint slot;

  if (self->killing)
    return;
  if (self->ring_count == CONFAB_RELAY_QUEUE_LENGTH)
    {
      self->dropped++;
      if (sender != 0)
        note_drop (self, sender);
      return;
    }
  slot = (self->ring_head + self->ring_count) % CONFAB_RELAY_QUEUE_LENGTH;
  self->ring[slot] = confab_relay_buf_ref (buf);
  self->ring_route[slot] = (guint8) route;
  self->ring_count++;
  mark_dirty (self);
}

void
confab_relay_session_enqueue (ConfabRelaySession *self, ConfabRelayBuf *buf, guint64 sender)
{
  enqueue_routed (self, buf, sender, CONFAB_RELAY_ROUTE_AUTO);
}

static void
activate (ConfabRelaySession *self)
{
  self->active = TRUE;
  self->active_since_us = g_get_monotonic_time ();
  g_message ("activate room=%s session=%" G_GUINT64_FORMAT " user=%s", self->room->name, self->id,
             self->user_id);
  confab_room_session_activated (self->room, self);
}

static gboolean
keyframe_request_allowed (ConfabRelaySession *self)
{
  gint64 now = g_get_monotonic_time ();

  if (now - self->keyframe_window_us >= G_USEC_PER_SEC)
    {
      self->keyframe_window_us = now;
      self->keyframe_count = 0;
    }
  return self->keyframe_count++ < CONFAB_RELAY_KEYFRAME_REQUESTS_PER_SECOND;
}

static void
process_packet (ConfabRelaySession *self, const guint8 *data, gsize len)
{
  ConfabRelay *relay = self->relay;
  ConfabRelayClassification c;
  g_autoptr (ConfabRelayBuf) buf = NULL;

  confab_arena_reset (relay->arena);
  confab_relay_classify (data, len, relay->arena, &c);

  /* PROTOCOL.md §4.2: the first packet that is not an RTT probe activates. */
  if (!self->active && c.verdict != CONFAB_RELAY_VERDICT_RTT_ECHO)
    activate (self);

  /* PROTOCOL.md §3: observers may send only RTT and HEALTH. */
  if (self->observer && c.verdict != CONFAB_RELAY_VERDICT_RTT_ECHO &&
      c.verdict != CONFAB_RELAY_VERDICT_HEALTH)
    return;

  switch (c.verdict)
    {
      case CONFAB_RELAY_VERDICT_RTT_ECHO:
        /* PROTOCOL.md §4.3: back on the path it came by. */
        buf = confab_relay_buf_new_copy (data, len);
        enqueue_routed (self, buf, 0,
                        self->rx_datagram ? CONFAB_RELAY_ROUTE_DATAGRAM
                                          : CONFAB_RELAY_ROUTE_STREAM);
        return;

      case CONFAB_RELAY_VERDICT_DROP_CONGESTION:
      case CONFAB_RELAY_VERDICT_DROP_SYSTEM_IDENTITY:
        return;

      case CONFAB_RELAY_VERDICT_HEALTH:
        confab_room_bus_publish_health (relay->bus, relay->health_subjects[self->path], data, len);
        return;

      case CONFAB_RELAY_VERDICT_KEYFRAME_REQUEST:
        if (!keyframe_request_allowed (self))
          return;
        G_GNUC_FALLTHROUGH;
      case CONFAB_RELAY_VERDICT_FORWARD:
        /* PROTOCOL.md §4.4 [confab]: always our id, so nobody speaks for another
         * session. */
        buf = confab_relay_buf_new (confab_relay_stamped_size (&c, len, self->id));
        buf->len =
            (guint32) confab_relay_stamp (&c, data, len, self->id, confab_relay_buf_payload (buf));
        buf->hdr_len = (guint8) confab_ws_frame_header (buf->hdr, buf->len);
        break;

      case CONFAB_RELAY_VERDICT_OPAQUE:
      default:
        buf = confab_relay_buf_new_copy (data, len);
        break;
    }

  confab_room_bus_publish (relay->bus, self->room->name, CONFAB_ROOM_BUS_DATA, self->id, buf);
}

void
confab_relay_session_process (ConfabRelaySession *self,
                              const guint8 *data,
                              gsize len,
                              gboolean datagram)
{
  self->last_rx_us = g_get_monotonic_time ();
  if (self->killing)
    return;
  self->rx_datagram = datagram;
  process_packet (self, data, len);
  self->rx_datagram = FALSE;
}

int
confab_relay_session_receive (ConfabRelaySession *self, const guint8 *in, gsize len)
{
  struct lws *wsi = self->wsi;
  gboolean first = lws_is_first_fragment (wsi);
  gboolean final = lws_is_final_fragment (wsi);

  self->last_rx_us = g_get_monotonic_time ();
  if (self->killing)
    return 0;

  if (first)
    {
      self->rx_len = 0;
      self->rx_text = !lws_frame_is_binary (wsi);
    }
  /* PROTOCOL.md §1: text messages only count as liveness. */
  if (self->rx_text)
    return 0;

  /* The common case, a whole message in one piece, is parsed in place. */
  if (first && final)
    {
      process_packet (self, in, len);
      return 0;
    }

  if (self->rx_len + len > CONFAB_MAX_PACKET_SIZE)
    {
      g_message ("close room=%s session=%" G_GUINT64_FORMAT ": message over %d bytes",
                 self->room->name, self->id, CONFAB_MAX_PACKET_SIZE);
      lws_close_reason (wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                        (unsigned char *) "message too large", 17);
      self->rx_len = 0;
      g_clear_pointer (&self->rx_buf, g_free);
      self->rx_alloc = 0;
      self->killing = TRUE;
      return -1;
    }
  if (self->rx_len + len > self->rx_alloc)
    {
      gsize want = MAX (self->rx_alloc * 2, self->rx_len + len);
      want = MIN (MAX (want, 4096), (gsize) CONFAB_MAX_PACKET_SIZE);
      self->rx_buf = g_realloc (self->rx_buf, want);
      self->rx_alloc = want;
    }
  memcpy (self->rx_buf + self->rx_len, in, len);
  self->rx_len += len;

  if (final)
    {
      process_packet (self, self->rx_buf, self->rx_len);
      self->rx_len = 0;
      if (self->rx_alloc > CONFAB_RELAY_RX_KEEP_BYTES)
        {
          g_clear_pointer (&self->rx_buf, g_free);
          self->rx_alloc = 0;
        }
    }
  return 0;
}

/* One write: as many queued messages as fit in CONFAB_RELAY_COALESCE_BYTES,
 * framed here and sent with a single send(), or one big message on its own. */
static int
write_queued (ConfabRelaySession *self)
{
  struct lws *wsi = self->wsi;
  guint8 *out = self->relay->scratch + LWS_PRE;
  gsize total = 0;

  while (self->ring_count > 0)
    {
      ConfabRelayBuf *buf = self->ring[self->ring_head];
      gsize frame = buf->hdr_len + (gsize) buf->len;

      if (total == 0 && frame > CONFAB_RELAY_COALESCE_BYTES)
        {
          /* Too big to coalesce: lws frames it in the buffer's own headroom
           * (the header is the same for every receiver). */
          int n = lws_write (wsi, confab_relay_buf_payload (buf), buf->len, LWS_WRITE_BINARY);
          self->ring[self->ring_head] = NULL;
          self->ring_head = (self->ring_head + 1) % CONFAB_RELAY_QUEUE_LENGTH;
          self->ring_count--;
          confab_relay_buf_unref (buf);
          return n < 0 ? -1 : 0;
        }
      if (total + frame > CONFAB_RELAY_COALESCE_BYTES)
        break;
      memcpy (out + total, buf->hdr, buf->hdr_len);
      memcpy (out + total + buf->hdr_len, confab_relay_buf_payload (buf), buf->len);
      total += frame;
      self->ring[self->ring_head] = NULL;
      self->ring_head = (self->ring_head + 1) % CONFAB_RELAY_QUEUE_LENGTH;
      self->ring_count--;
      confab_relay_buf_unref (buf);
    }

  /* Whole frames we framed ourselves: LWS_WRITE_RAW passes them through. */
  if (total > 0 && lws_write (wsi, out, total, LWS_WRITE_RAW) < 0)
    return -1;
  return 0;
}

gboolean
confab_relay_flush (gpointer data)
{
  ConfabRelay *relay = data;
  GList *link;

  relay->flush_source = 0;
  while ((link = g_queue_pop_head_link (&relay->dirty)) != NULL)
    {
      ConfabRelaySession *self = link->data;

      self->dirty = FALSE;
      if (self->write_requested || self->killing)
        continue;
      if (self->path == CONFAB_RELAY_PATH_WEBTRANSPORT)
        {
          confab_relay_wt_write (self);
          continue;
        }
      /* lws still holds part of an earlier write: wait for POLLOUT. */
      if (lws_partial_buffered (self->wsi))
        {
          request_write (self);
          continue;
        }
      if (write_queued (self) < 0)
        {
          /* The connection is broken; lws reports it and closes it. */
          self->killing = TRUE;
          shutdown (lws_get_socket_fd (self->wsi), SHUT_RDWR);
          continue;
        }
      if (self->ring_count > 0)
        request_write (self);
    }
  return G_SOURCE_REMOVE;
}

int
confab_relay_session_writeable (ConfabRelaySession *self)
{
  struct lws *wsi = self->wsi;

  self->write_requested = FALSE;
  if (self->going_away)
    {
      /* RFC 6455 close 1001 "going away": the server is going down, clients
       * reconnect now. Framed here and sent raw, like all our output (lws
       * 4.1 dropped the frame that lws_close_reason() + returning -1 from
       * WRITEABLE should send); the client answers with its own close, which
       * lws handles and then closes the connection. */
      guint8 frame[LWS_PRE + 14];
      guint8 *p = frame + LWS_PRE;

      p[0] = 0x88; /* FIN + close */
      p[1] = 12;
      p[2] = LWS_CLOSE_STATUS_GOINGAWAY >> 8;
      p[3] = LWS_CLOSE_STATUS_GOINGAWAY & 0xff;
      memcpy (p + 4, "going away", 10);
      self->going_away = FALSE;
      return lws_write (wsi, p, 14, LWS_WRITE_RAW) < 0 ? -1 : 0;
    }
  if (self->ping_pending)
    {
      /* A payload, because lws swallows empty pongs without telling us. */
      guint8 ping[LWS_PRE + 8] = { 0 };
      memcpy (ping + LWS_PRE, "confab-p", 8);
      self->ping_pending = FALSE;
      if (lws_write (wsi, ping + LWS_PRE, 8, LWS_WRITE_PING) < 0)
        return -1;
      if (self->ring_count > 0)
        request_write (self);
      return 0;
    }

  if (write_queued (self) < 0)
    return -1;
  if (self->ring_count > 0)
    request_write (self);
  return 0;
}

void
confab_relay_session_tick (ConfabRelaySession *self, gint64 now_us, gboolean ping)
{
  ConfabRelayConfig *config = &self->relay->config;

  if (self->killing)
    return;
  if (now_us - self->last_rx_us > (gint64) config->idle_timeout_ms * 1000)
    {
      /* PROTOCOL.md §4.7: nothing at all (not even a pong) for too long. */
      g_message ("close room=%s session=%" G_GUINT64_FORMAT ": idle for %u ms", self->room->name,
                 self->id, config->idle_timeout_ms);
      if (self->path == CONFAB_RELAY_PATH_WEBTRANSPORT)
        {
          confab_relay_wt_kill (self, 0, "idle");
          return;
        }
      self->killing = TRUE;
      /* lws timeouts are not serviced on the GLib loop in lws 4.1, and a dead
       * peer may never make us writable: shut the socket down, lws sees the
       * hangup at once and closes the connection through CLOSED as usual. */
      shutdown (lws_get_socket_fd (self->wsi), SHUT_RDWR);
      return;
    }
  /* WebTransport: QUIC keeps the path alive; clients send heartbeats. */
  if (ping && self->path == CONFAB_RELAY_PATH_WEBSOCKET)
    {
      self->ping_pending = TRUE;
      request_write (self);
    }
}

void
confab_relay_session_go_away (ConfabRelaySession *self)
{
  if (self->path == CONFAB_RELAY_PATH_WEBTRANSPORT)
    {
      /* The session keeps working until the client has moved: no gap. */
      if (!self->killing)
        confab_wt_session_drain (self->wt);
      return;
    }
  if (self->killing)
    return;
  /* Nothing more is queued for it; its close frame goes out next. */
  self->killing = TRUE;
  self->going_away = TRUE;
  self->write_requested = TRUE;
  lws_callback_on_writable (self->wsi);
}
