/* confab-call.c: one client's side of a call (PROTOCOL.md §5). The receive
 * path unpacks into a reused arena and touches no heap per packet unless
 * someone listens to "media"; the send path packs into a reused scratch buffer
 * and allocates only the GBytes the transport queues. */
#define G_LOG_DOMAIN "confab-call"

#include "confab-call.h"

#include "confab-chat.h"
#include "confab-packet.h"
#include "confab-peer-private.h"
#include "confab-rtt.h"
#include "confab-video-decoder.h"

#include <math.h>
#include <string.h>

/* PROTOCOL.md §5: probe every 200 ms while the path is young, then every second. */
#define RTT_FAST_INTERVAL_MS  200
#define RTT_FAST_PROBES       10 /* 2 s */
#define RTT_SLOW_INTERVAL_MS  1000
#define HEARTBEAT_INTERVAL_MS 1000
/* PROTOCOL.md §5: receivers report per (peer, media type) every 500 ms and
 * send HEALTH every 5 s. */
#define DIAGNOSTICS_INTERVAL_MS 500
#define HEALTH_EVERY_TICKS      10
/* PROTOCOL.md §3: the relay passes 2 keyframe requests a second per session
 * (a window from the first) and drops the rest; ours is a little longer so
 * a request never lands just before the relay's window ends. */
#define KEYFRAME_REQUESTS_PER_WINDOW 2
#define KEYFRAME_WINDOW_US           (1100 * 1000)

struct _ConfabCall
{
  GObject parent_instance;

  /* Owned */
  ConfabTransport *transport;
  char *user_id;
  gsize user_id_len;
  ConfabArena *arena;
  guint8 *scratch; /* packed MediaPacket before wrapping */
  gsize scratch_size;
  GPtrArray *peers;             /* ConfabPeer, in order of appearance */
  GHashTable *peers_by_session; /* guint64* -> ConfabPeer (borrowed from peers) */
  GMainContext *context;
  GSource *rtt_timer;
  GSource *heartbeat_timer;
  GSource *diagnostics_timer;
  guint diagnostics_ticks;
  char *meeting_id;
  GSource *video_timer; /* the earliest video jitter buffer deadline */
  gint64 keyframe_window_us;
  guint keyframe_requests_in_window;
  gint64 video_timer_due;
  gboolean decode_video;
  gboolean buffer_audio;
  /* Decoding workers (confab_call_set_decode_threads); NULL: inline. */
  ConfabDecodePool *decode_pool;

  guint64 session_id;
  /* Sessions we had before a reconnect or path switch: still ours, never peers. */
  guint64 previous_session_ids[8];
  ConfabRtt rtt;
  guint rtt_probes_sent;
  gboolean video_enabled;
  gboolean audio_enabled;
  gboolean is_speaking;
  gboolean no_h264_advertisement;
  guint64 video_sequence;
  guint64 audio_sequence;
  guint64 sent_video_frames;
  guint64 sent_audio_packets;
  guint64 undecodable_packets;
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (ConfabCall, confab_call, G_TYPE_OBJECT)

enum
{
  SIGNAL_SESSION_ASSIGNED,
  SIGNAL_PEER_JOINED,
  SIGNAL_PEER_LEFT,
  SIGNAL_MEDIA,
  SIGNAL_KEYFRAME_REQUESTED,
  SIGNAL_VIDEO_FRAME,
  SIGNAL_DIAGNOSTICS,
  SIGNAL_CONGESTION,
  SIGNAL_CHAT_MESSAGE,
  SIGNAL_CLOSED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
stop_timer (GSource **timer)
{
  if (*timer == NULL)
    return;
  g_source_destroy (*timer);
  g_clear_pointer (timer, g_source_unref);
}

static GSource *
start_timer (ConfabCall *self, guint interval_ms, GSourceFunc func)
{
  GSource *source = g_timeout_source_new (interval_ms);

  g_source_set_callback (source, func, self, NULL);
  g_source_attach (source, self->context);
  return source;
}

static gboolean is_own_session (ConfabCall *self, guint64 session_id);

/* ---- sending --------------------------------------------------------------- */

static gboolean
send_media (ConfabCall *self, const ConfabMediaPacket *media)
{
  gsize len = protobuf_c_message_get_packed_size (&media->base);
  g_autoptr (GBytes) packet = NULL;

  if (len + 64 > CONFAB_MAX_PACKET_SIZE)
    return FALSE;
  if (self->scratch_size < len)
    {
      self->scratch_size = MAX (len, self->scratch_size * 2);
      self->scratch = g_realloc (self->scratch, self->scratch_size);
    }
  protobuf_c_message_pack (&media->base, self->scratch);
  packet =
      confab_packet_wrap (CONFAB_PACKET_MEDIA, self->user_id, self->session_id, self->scratch, len);
  return confab_transport_send (self->transport, packet);
}

static void
init_media (ConfabCall *self, ConfabMediaPacket *media, Confab__MediaPacket__MediaType type)
{
  confab__media_packet__init (media);
  media->media_type = type;
  media->user_id.data = (guint8 *) self->user_id;
  media->user_id.len = self->user_id_len;
}

static void
send_rtt_probe (ConfabCall *self)
{
  ConfabMediaPacket media;

  init_media (self, &media, CONFAB_MEDIA_RTT);
  media.timestamp = g_get_monotonic_time () / 1000.0;
  send_media (self, &media);
  self->rtt_probes_sent++;
}

/* [confab] What we decode: VP8 and VP9 always, H.264 when FFmpeg's decoder
 * is there (probed once per process). */
static gsize
decoded_codecs (Confab__VideoCodec codecs[3])
{
  static gsize h264_probed;
  static gboolean h264;
  gsize n = 0;

  if (g_once_init_enter (&h264_probed))
    {
      ConfabVideoDecoder *decoder = confab_video_decoder_new (CONFAB_VIDEO_CODEC_H264, 1, NULL);

      h264 = decoder != NULL;
      g_clear_pointer (&decoder, confab_video_decoder_free);
      g_once_init_leave (&h264_probed, 1);
    }
  codecs[n++] = (Confab__VideoCodec) CONFAB_VIDEO_CODEC_VP8;
  codecs[n++] = (Confab__VideoCodec) CONFAB_VIDEO_CODEC_VP9;
  if (h264)
    codecs[n++] = (Confab__VideoCodec) CONFAB_VIDEO_CODEC_H264;
  return n;
}

static void
send_heartbeat (ConfabCall *self)
{
  ConfabMediaPacket media;
  Confab__HeartbeatMetadata heartbeat = CONFAB__HEARTBEAT_METADATA__INIT;
  Confab__VideoCodec codecs[3];

  if (self->session_id == 0)
    return;
  init_media (self, &media, CONFAB_MEDIA_HEARTBEAT);
  media.timestamp = (double) confab_now_epoch_ms ();
  heartbeat.video_enabled = self->video_enabled;
  heartbeat.audio_enabled = self->audio_enabled;
  /* Nobody speaks through a muted microphone. */
  heartbeat.is_speaking = self->is_speaking && self->audio_enabled;
  /* Only a client that decodes what it receives advertises codecs. */
  if (self->decode_video && !self->no_h264_advertisement)
    {
      heartbeat.n_decodes = decoded_codecs (codecs);
      heartbeat.decodes = codecs;
    }
  media.heartbeat_metadata = &heartbeat;
  send_media (self, &media);
}

/* Whether a keyframe request would get past the relay now; one that would
 * not stays due at its peer and goes out when the window turns (the next
 * video packet asks again), instead of being dropped on the way. */
static gboolean
keyframe_request_allowed (ConfabCall *self, gint64 now)
{
  return now - self->keyframe_window_us >= KEYFRAME_WINDOW_US ||
         self->keyframe_requests_in_window < KEYFRAME_REQUESTS_PER_WINDOW;
}

static void
send_keyframe_request (ConfabCall *self, ConfabPeer *peer, gint64 now)
{
  ConfabMediaPacket media;
  const char *target = confab_peer_get_user_id (peer);

  /* Addressed by the target's user id; never encrypted (PROTOCOL.md §5). */
  if (now - self->keyframe_window_us >= KEYFRAME_WINDOW_US)
    {
      self->keyframe_window_us = now;
      self->keyframe_requests_in_window = 0;
    }
  self->keyframe_requests_in_window++;
  g_debug ("keyframe request to %s", target);
  init_media (self, &media, CONFAB_MEDIA_KEYFRAME_REQUEST);
  media.user_id.data = (guint8 *) target;
  media.user_id.len = strlen (target);
  media.data.data = (guint8 *) "VIDEO";
  media.data.len = 5;
  media.timestamp = (double) confab_now_epoch_ms ();
  send_media (self, &media);
}

gboolean
confab_call_send_video (ConfabCall *self, ConfabVideoCodec codec, const ConfabEncodedFrame *frame)
{
  ConfabMediaPacket media;
  Confab__VideoMetadata metadata = CONFAB__VIDEO_METADATA__INIT;
  gint64 now_real, now_mono;

  g_return_val_if_fail (CONFAB_IS_CALL (self), FALSE);
  if (self->session_id == 0 || frame->size == 0)
    return FALSE;

  init_media (self, &media, CONFAB_MEDIA_VIDEO);
  media.data.data = (guint8 *) frame->data;
  media.data.len = frame->size;
  media.frame_type = (char *) (frame->is_key ? "key" : "delta");
  /* Microseconds on the wall clock at capture, so receivers can measure latency. */
  now_real = g_get_real_time ();
  now_mono = g_get_monotonic_time ();
  media.timestamp = (double) (now_real - (frame->pts_us > 0 ? now_mono - frame->pts_us : 0));
  metadata.sequence = ++self->video_sequence;
  /* ConfabVideoCodec values are the wire values, the [confab] H.264 (100) included. */
  metadata.codec = (Confab__VideoCodec) codec;
  media.video_metadata = &metadata;
  if (!send_media (self, &media))
    return FALSE;
  self->sent_video_frames++;
  return TRUE;
}

gboolean
confab_call_send_audio (ConfabCall *self, const guint8 *opus, gsize len)
{
  ConfabMediaPacket media;
  Confab__AudioMetadata metadata = CONFAB__AUDIO_METADATA__INIT;

  g_return_val_if_fail (CONFAB_IS_CALL (self), FALSE);
  if (self->session_id == 0 || len == 0)
    return FALSE;

  init_media (self, &media, CONFAB_MEDIA_AUDIO);
  media.data.data = (guint8 *) opus;
  media.data.len = len;
  media.frame_type = (char *) "key";
  media.timestamp = (double) confab_now_epoch_ms ();
  metadata.audio_format = (char *) "opus";
  metadata.audio_number_of_channels = 1;
  metadata.audio_number_of_frames = 960;
  metadata.audio_sample_rate = 48000;
  metadata.sequence = ++self->audio_sequence;
  media.audio_metadata = &metadata;
  if (!send_media (self, &media))
    return FALSE;
  self->sent_audio_packets++;
  return TRUE;
}

char *
confab_call_send_chat (ConfabCall *self,
                       const char *text,
                       const char *display_name,
                       guint64 *timestamp_ms,
                       GError **error)
{
  g_autofree char *id = NULL;
  g_autofree char *name = NULL;
  g_autoptr (GBytes) message = NULL;
  g_autoptr (GBytes) packet = NULL;
  guint64 now_ms = confab_now_epoch_ms ();
  const char *end;

  g_return_val_if_fail (CONFAB_IS_CALL (self), NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (!confab_chat_text_check (text, -1, error))
    return NULL;
  if (self->session_id == 0 || self->closed)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "Not in the call yet");
      return NULL;
    }
  /* A name too long for receivers is cut at a character boundary. */
  name = g_strdup (display_name != NULL ? display_name : self->user_id);
  if (!g_utf8_validate (name, -1, &end))
    name[end - name] = '\0';
  if (strlen (name) > CONFAB_CHAT_MAX_DISPLAY_NAME)
    *g_utf8_find_prev_char (name, name + CONFAB_CHAT_MAX_DISPLAY_NAME + 1) = '\0';
  id = g_uuid_string_random ();
  message = confab_chat_message_pack (id, text, name, now_ms);
  packet = confab_packet_wrap (CONFAB_PACKET_CHAT, self->user_id, self->session_id,
                               g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  if (!confab_transport_send (self->transport, packet))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                           "The connection is busy; try again");
      return NULL;
    }
  if (timestamp_ms != NULL)
    *timestamp_ms = now_ms;
  return g_steal_pointer (&id);
}

void
confab_call_set_media_state (ConfabCall *self, gboolean video_enabled, gboolean audio_enabled)
{
  g_return_if_fail (CONFAB_IS_CALL (self));

  video_enabled = !!video_enabled;
  audio_enabled = !!audio_enabled;
  if (video_enabled == self->video_enabled && audio_enabled == self->audio_enabled)
    return;
  self->video_enabled = video_enabled;
  self->audio_enabled = audio_enabled;
  send_heartbeat (self);
}

void
confab_call_set_speaking (ConfabCall *self, gboolean is_speaking)
{
  g_return_if_fail (CONFAB_IS_CALL (self));

  is_speaking = !!is_speaking;
  if (is_speaking == self->is_speaking)
    return;
  self->is_speaking = is_speaking;
  /* PROTOCOL.md §5: a speaking change is announced at once. */
  send_heartbeat (self);
}

gboolean
confab_call_get_speaking (ConfabCall *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL (self), FALSE);
  return self->is_speaking;
}

/* ---- reports: DIAGNOSTICS and HEALTH ---------------------------------------- */

static void
send_wrapped (ConfabCall *self, int packet_type, const ProtobufCMessage *message)
{
  gsize len = protobuf_c_message_get_packed_size (message);
  g_autoptr (GBytes) packet = NULL;

  if (self->scratch_size < len)
    {
      self->scratch_size = MAX (len, self->scratch_size * 2);
      self->scratch = g_realloc (self->scratch, self->scratch_size);
    }
  protobuf_c_message_pack (message, self->scratch);
  packet = confab_packet_wrap (packet_type, self->user_id, self->session_id, self->scratch, len);
  confab_transport_send (self->transport, packet);
}

/* How well @peer's @kind reaches us, filled as upstream browsers fill it:
 * target_id is the reporter (us), sender_id the media sender's session id. */
static void
send_diagnostics (ConfabCall *self, ConfabPeer *peer, int kind, double fps, double kbps)
{
  Confab__DiagnosticsPacket diag = CONFAB__DIAGNOSTICS_PACKET__INIT;
  Confab__VideoMetrics video = CONFAB__VIDEO_METRICS__INIT;
  Confab__AudioMetrics audio = CONFAB__AUDIO_METRICS__INIT;
  char sender_id[24];
  char stream_id[40];

  g_snprintf (sender_id, sizeof sender_id, "%" G_GUINT64_FORMAT, confab_peer_get_session_id (peer));
  g_snprintf (stream_id, sizeof stream_id, "%s-%s", sender_id,
              kind == CONFAB_MEDIA_VIDEO ? "video" : "audio");
  diag.stream_id = stream_id;
  diag.sender_id = sender_id;
  diag.target_id = self->user_id;
  diag.timestamp_ms = (guint64) confab_now_epoch_ms ();
  diag.media_type = kind;
  if (kind == CONFAB_MEDIA_VIDEO)
    {
      video.fps_received = (float) fps;
      video.bitrate_kbps = (guint32) (kbps + 0.5);
      diag.video_metrics = &video;
    }
  else
    {
      audio.fps_received = (float) fps;
      audio.bitrate_kbps = (guint32) (kbps + 0.5);
      diag.audio_metrics = &audio;
    }
  send_wrapped (self, CONFAB_PACKET_DIAGNOSTICS, &diag.base);
}

static void
send_health (ConfabCall *self, gint64 now)
{
  Confab__HealthPacket health = CONFAB__HEALTH_PACKET__INIT;
  g_autoptr (GPtrArray) entries = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  char session_id[24];
  double rtt = confab_rtt_average (&self->rtt);

  g_snprintf (session_id, sizeof session_id, "%" G_GUINT64_FORMAT, self->session_id);
  health.session_id = session_id;
  health.meeting_id = self->meeting_id != NULL ? self->meeting_id : (char *) "";
  health.reporting_user_id.data = (guint8 *) self->user_id;
  health.reporting_user_id.len = self->user_id_len;
  health.timestamp_ms = (guint64) confab_now_epoch_ms ();
  health.reporting_audio_enabled = self->audio_enabled;
  health.reporting_video_enabled = self->video_enabled;
  health.active_server_type = (char *) confab_transport_get_kind (self->transport);
  health.active_server_rtt_ms = rtt >= 0 ? rtt : 0;
  /* Every 5 s, so a few small allocations are fine here. */
  for (guint i = 0; i < self->peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (self->peers, i);
      struct
      {
        Confab__HealthPacket__PeerStatsEntry entry;
        Confab__PeerStats stats;
        Confab__NetEqStats neteq;
        Confab__VideoStats video;
      } * e;
      ConfabAudioJitterBuffer *audio = confab_peer_get_audio_jitter_buffer (peer);
      ConfabVideoJitterStats vstats;

      if (!confab_peer_is_present (peer))
        continue;
      e = g_new0 (typeof (*e), 1);
      confab__health_packet__peer_stats_entry__init (&e->entry);
      confab__peer_stats__init (&e->stats);
      confab__net_eq_stats__init (&e->neteq);
      confab__video_stats__init (&e->video);
      e->entry.key = g_strdup_printf ("%" G_GUINT64_FORMAT, confab_peer_get_session_id (peer));
      g_ptr_array_add (keys, e->entry.key);
      e->entry.value = &e->stats;
      e->stats.audio_enabled = confab_peer_get_audio_enabled (peer);
      e->stats.video_enabled = confab_peer_get_video_enabled (peer);
      e->stats.can_listen = audio != NULL && confab_peer_get_audio_packets (peer) > 0;
      e->stats.can_see = confab_peer_get_decoded_video_frames (peer) > 0;
      if (audio != NULL)
        {
          ConfabAudioJitterStats astats;

          confab_audio_jitter_buffer_get_stats (audio, &astats);
          e->neteq.current_buffer_size_ms = astats.current_buffer_ms;
          e->neteq.packets_awaiting_decode = astats.packets_awaiting_decode;
          e->stats.neteq_stats = &e->neteq;
        }
      if (confab_peer_get_video_jitter_stats (peer, &vstats))
        {
          e->video.frames_buffered = vstats.frames_buffered;
          e->video.frames_decoded = confab_peer_get_decoded_video_frames (peer);
          e->video.fps_received = confab_peer_get_last_video_fps (peer);
          e->video.bitrate_kbps = (guint64) confab_peer_get_last_video_kbps (peer);
          e->stats.video_stats = &e->video;
        }
      g_ptr_array_add (entries, e);
    }
  health.n_peer_stats = entries->len;
  health.peer_stats = (Confab__HealthPacket__PeerStatsEntry **) entries->pdata;
  send_wrapped (self, CONFAB_PACKET_HEALTH, &health.base);
}

static gboolean
on_diagnostics_timer (gpointer data)
{
  ConfabCall *self = data;
  gint64 now = g_get_monotonic_time ();

  if (self->session_id == 0)
    return G_SOURCE_CONTINUE;
  for (guint i = 0; i < self->peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (self->peers, i);
      ConfabPeerRates rates;

      if (!confab_peer_is_present (peer))
        continue;
      confab_peer_sample_rates (peer, now, &rates);
      /* Only streams the peer says it sends: a camera turned off is not
       * poor reception. */
      if (rates.have_video && confab_peer_get_video_enabled (peer))
        send_diagnostics (self, peer, CONFAB_MEDIA_VIDEO, rates.video_fps, rates.video_kbps);
      if (rates.have_audio && confab_peer_get_audio_enabled (peer))
        send_diagnostics (self, peer, CONFAB_MEDIA_AUDIO, rates.audio_fps, rates.audio_kbps);
    }
  if (++self->diagnostics_ticks % HEALTH_EVERY_TICKS == 0)
    send_health (self, now);
  return G_SOURCE_CONTINUE;
}

/* A receiver's report about our media. */
static ConfabPeer *ensure_peer (ConfabCall *self, guint64 session_id, gint64 now);
static gboolean is_system (const ProtobufCBinaryData *user_id);

static void
on_diagnostics (ConfabCall *self, const ConfabPacketWrapper *wrapper, gint64 now)
{
  ProtobufCAllocator *allocator = confab_arena_allocator (self->arena);
  Confab__DiagnosticsPacket *diag;
  ConfabPeer *reporter;
  char *end = NULL;
  guint64 about;

  if (wrapper->session_id == 0 || is_own_session (self, wrapper->session_id) ||
      is_system (&wrapper->user_id))
    return;
  diag = confab__diagnostics_packet__unpack (allocator, wrapper->data.len, wrapper->data.data);
  if (diag == NULL || diag->sender_id == NULL)
    return;
  /* A report is a packet from a peer in the room like any other. */
  reporter = ensure_peer (self, wrapper->session_id, now);
  confab_peer_touch (reporter, now);
  if (wrapper->user_id.len > 0)
    confab_peer_set_user_id (reporter, wrapper->user_id.data, wrapper->user_id.len);
  about = g_ascii_strtoull (diag->sender_id, &end, 10);
  if (end == diag->sender_id || *end != '\0' || about != self->session_id)
    return;
  if (diag->media_type == CONFAB_MEDIA_VIDEO && diag->video_metrics != NULL)
    g_signal_emit (self, signals[SIGNAL_DIAGNOSTICS], 0, reporter, (int) diag->media_type,
                   (double) diag->video_metrics->fps_received,
                   (guint) diag->video_metrics->bitrate_kbps);
  else if (diag->media_type == CONFAB_MEDIA_AUDIO && diag->audio_metrics != NULL)
    g_signal_emit (self, signals[SIGNAL_DIAGNOSTICS], 0, reporter, (int) diag->media_type,
                   (double) diag->audio_metrics->fps_received,
                   (guint) diag->audio_metrics->bitrate_kbps);
}

/* ---- timers ---------------------------------------------------------------- */

static gboolean on_rtt_timer (gpointer data);

static gboolean
on_rtt_timer (gpointer data)
{
  ConfabCall *self = data;

  send_rtt_probe (self);
  if (self->rtt_probes_sent == RTT_FAST_PROBES)
    {
      /* Young path measured: settle to one probe a second. */
      stop_timer (&self->rtt_timer);
      self->rtt_timer = start_timer (self, RTT_SLOW_INTERVAL_MS, on_rtt_timer);
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
peer_gone (ConfabCall *self, ConfabPeer *peer)
{
  if (!confab_peer_is_present (peer))
    return;
  confab_peer_set_present (peer, FALSE);
  g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, peer);
}

/* TRUE when @peer fell silent while another present session of the same
 * user is live and newer: the user switched paths or moved relays (the relay
 * announces no LEFT for that, docs/relay.md), so the old session is over. */
static gboolean
is_superseded (ConfabCall *self, ConfabPeer *peer, gint64 now)
{
  const char *user = confab_peer_get_user_id (peer);
  gint64 last = confab_peer_get_last_packet_us (peer);

  if (*user == '\0' || now - last <= CONFAB_PEER_SUPERSEDED_SILENCE_US)
    return FALSE;
  for (guint i = 0; i < self->peers->len; i++)
    {
      ConfabPeer *other = g_ptr_array_index (self->peers, i);
      gint64 other_last = confab_peer_get_last_packet_us (other);

      if (other != peer && confab_peer_is_present (other) && other_last > last &&
          now - other_last <= CONFAB_PEER_SUPERSEDED_SILENCE_US &&
          g_str_equal (confab_peer_get_user_id (other), user))
        return TRUE;
    }
  return FALSE;
}

static gboolean
on_heartbeat_timer (gpointer data)
{
  ConfabCall *self = data;
  gint64 now = g_get_monotonic_time ();

  send_heartbeat (self);
  for (guint i = 0; i < self->peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (self->peers, i);

      if (!confab_peer_is_present (peer))
        continue;
      if (is_superseded (self, peer, now))
        {
          confab_peer_set_superseded (peer);
          peer_gone (self, peer);
        }
      else if (confab_peer_is_silent (peer, now))
        peer_gone (self, peer);
      else if (keyframe_request_allowed (self, now) &&
               confab_peer_take_keyframe_request (peer, now))
        send_keyframe_request (self, peer, now);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- receiving ------------------------------------------------------------- */

static ConfabPeer *
ensure_peer (ConfabCall *self, guint64 session_id, gint64 now)
{
  ConfabPeer *peer = g_hash_table_lookup (self->peers_by_session, &session_id);

  if (peer == NULL)
    {
      guint64 *key = g_new (guint64, 1);

      *key = session_id;
      peer = confab_peer_new (session_id, now);
      confab_peer_set_receive_media (peer, self->decode_video, self->buffer_audio);
      confab_peer_set_decode_pool (peer, self->decode_pool);
      g_ptr_array_add (self->peers, peer);
      g_hash_table_insert (self->peers_by_session, key, peer);
      g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, peer);
    }
  else if (!confab_peer_is_present (peer))
    {
      confab_peer_set_present (peer, TRUE);
      confab_peer_touch (peer, now);
      g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, peer);
    }
  return peer;
}

static gboolean
is_own_session (ConfabCall *self, guint64 session_id)
{
  if (session_id == self->session_id)
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (self->previous_session_ids); i++)
    if (self->previous_session_ids[i] == session_id)
      return TRUE;
  return FALSE;
}

static gboolean
is_system (const ProtobufCBinaryData *user_id)
{
  return user_id->len == strlen (CONFAB_SYSTEM_USER_ID) &&
         memcmp (user_id->data, CONFAB_SYSTEM_USER_ID, user_id->len) == 0;
}

static gboolean
is_us (ConfabCall *self, const ProtobufCBinaryData *user_id)
{
  return user_id->len == self->user_id_len &&
         memcmp (user_id->data, self->user_id, user_id->len) == 0;
}

static void
emit_media (ConfabCall *self, ConfabPeer *peer, const ConfabMediaPacket *media)
{
  g_autoptr (GBytes) data = NULL;
  guint64 sequence = 0;

  /* Copy the payload out of the arena only for someone who wants it. */
  if (!g_signal_has_handler_pending (self, signals[SIGNAL_MEDIA], 0, FALSE))
    return;
  data = g_bytes_new (media->data.data, media->data.len);
  if (media->video_metadata != NULL)
    sequence = media->video_metadata->sequence;
  else if (media->audio_metadata != NULL)
    sequence = media->audio_metadata->sequence;
  g_signal_emit (self, signals[SIGNAL_MEDIA], 0, peer, (int) media->media_type, data,
                 g_strcmp0 (media->frame_type, "key") == 0, sequence, media->timestamp);
}

static gboolean on_video_timer (gpointer data);

/* One timer for all peers' video jitter buffers: the earliest deadline. */
static void
schedule_video_timer (ConfabCall *self, gint64 now)
{
  gint64 due = -1;

  for (guint i = 0; i < self->peers->len; i++)
    {
      gint64 deadline = confab_peer_get_video_deadline (g_ptr_array_index (self->peers, i));

      if (deadline >= 0 && (due < 0 || deadline < due))
        due = deadline;
    }
  if (self->video_timer != NULL && due == self->video_timer_due)
    return;
  stop_timer (&self->video_timer);
  if (due < 0)
    return;
  /* Round up: waking before the deadline would release nothing. */
  self->video_timer = start_timer (self, (guint) MAX (0, (due - now + 999) / 1000), on_video_timer);
  self->video_timer_due = due;
}

static gboolean
on_video_timer (gpointer data)
{
  ConfabCall *self = data;
  gint64 now = g_get_monotonic_time ();

  g_clear_pointer (&self->video_timer, g_source_unref);
  for (guint i = 0; i < self->peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (self->peers, i);

      if (confab_peer_service_video (peer, now))
        g_signal_emit (self, signals[SIGNAL_VIDEO_FRAME], 0, peer);
      if (keyframe_request_allowed (self, now) && confab_peer_take_keyframe_request (peer, now))
        send_keyframe_request (self, peer, now);
    }
  schedule_video_timer (self, now);
  return G_SOURCE_REMOVE;
}

/* A worker decoded some of @data's frames (once per batch, on our context). */
static void
on_decoded (gpointer data, gpointer user_data)
{
  ConfabCall *self = user_data;
  ConfabPeer *peer = data;
  gint64 now = g_get_monotonic_time ();

  if (confab_peer_collect_decoded (peer, now))
    g_signal_emit (self, signals[SIGNAL_VIDEO_FRAME], 0, peer);
  /* A frame the decoder refused: the jitter buffer now waits for a key frame. */
  if (keyframe_request_allowed (self, now) && confab_peer_take_keyframe_request (peer, now))
    send_keyframe_request (self, peer, now);
  /* Pictures held for lip sync have a deadline of their own. */
  schedule_video_timer (self, now);
}

/* A peer's timestamp as integer microseconds; 0 for what is not a number or
 * does not fit (converting those would be undefined behaviour). */
static gint64
timestamp_us (double timestamp)
{
  if (!isfinite (timestamp) || timestamp < 0 || timestamp > 9.0e18)
    return 0;
  return (gint64) timestamp;
}

static void
receive_video (ConfabCall *self, ConfabPeer *peer, const ConfabMediaPacket *media, gint64 now)
{
  /* Receivers drop frames without a codec (PROTOCOL.md §5). */
  if (media->video_metadata == NULL || media->video_metadata->codec == 0)
    return;
  if (confab_peer_receive_video (peer, (ConfabVideoCodec) media->video_metadata->codec,
                                 media->video_metadata->sequence,
                                 g_strcmp0 (media->frame_type, "key") == 0, media->data.data,
                                 media->data.len, timestamp_us (media->timestamp), now))
    g_signal_emit (self, signals[SIGNAL_VIDEO_FRAME], 0, peer);
  schedule_video_timer (self, now);
}

static void
on_media (ConfabCall *self, const ConfabPacketWrapper *wrapper, gint64 now)
{
  ConfabMediaPacket *media;
  ConfabPeer *peer;
  ProtobufCAllocator *allocator = confab_arena_allocator (self->arena);

  media = confab__media_packet__unpack (allocator, wrapper->data.len, wrapper->data.data);
  if (media == NULL)
    {
      /* Encrypted (E2EE) or garbage: nothing a client without keys can use. */
      self->undecodable_packets++;
      return;
    }

  if (media->media_type == CONFAB_MEDIA_RTT)
    {
      /* Our own probe, echoed by the relay; nobody else's probe reaches us. */
      if (is_us (self, &media->user_id))
        confab_rtt_add (&self->rtt, g_get_monotonic_time () / 1000.0 - media->timestamp);
      return;
    }

  if (wrapper->session_id == 0 || is_own_session (self, wrapper->session_id) ||
      is_system (&wrapper->user_id))
    return;

  peer = ensure_peer (self, wrapper->session_id, now);
  confab_peer_touch (peer, now);
  if (wrapper->user_id.len > 0)
    confab_peer_set_user_id (peer, wrapper->user_id.data, wrapper->user_id.len);

  switch ((int) media->media_type)
    {
      case CONFAB_MEDIA_VIDEO:
        confab_peer_count_bytes (peer, TRUE, media->data.len, now);
        confab_peer_on_video (peer, media->video_metadata != NULL,
                              media->video_metadata != NULL ? media->video_metadata->sequence : 0,
                              g_strcmp0 (media->frame_type, "key") == 0, now);
        emit_media (self, peer, media);
        if (self->decode_video)
          receive_video (self, peer, media, now);
        if (keyframe_request_allowed (self, now) && confab_peer_take_keyframe_request (peer, now))
          send_keyframe_request (self, peer, now);
        break;

      case CONFAB_MEDIA_AUDIO:
        /* Receivers drop audio without metadata (PROTOCOL.md §5). */
        if (media->audio_metadata == NULL)
          break;
        confab_peer_on_audio (peer);
        confab_peer_count_bytes (peer, FALSE, media->data.len, now);
        emit_media (self, peer, media);
        if (self->buffer_audio)
          confab_peer_receive_audio (peer, media->audio_metadata->sequence, media->data.data,
                                     media->data.len, timestamp_us (media->timestamp * 1000) / 1000,
                                     now);
        break;

      case CONFAB_MEDIA_HEARTBEAT:
        if (media->heartbeat_metadata != NULL)
          confab_peer_on_heartbeat (peer, media->heartbeat_metadata->video_enabled,
                                    media->heartbeat_metadata->audio_enabled,
                                    media->heartbeat_metadata->screen_enabled,
                                    media->heartbeat_metadata->is_speaking);
        else
          confab_peer_on_heartbeat (peer, FALSE, FALSE, FALSE, FALSE);
        {
          gboolean h264 = FALSE;

          for (gsize i = 0;
               media->heartbeat_metadata != NULL && i < media->heartbeat_metadata->n_decodes; i++)
            h264 |= (int) media->heartbeat_metadata->decodes[i] == CONFAB_VIDEO_CODEC_H264;
          confab_peer_set_decodes_h264 (peer, h264);
        }
        break;

      case CONFAB_MEDIA_KEYFRAME_REQUEST:
        /* [confab] only requests addressed to us; upstream honours every one. */
        if (is_us (self, &media->user_id) &&
            (media->data.len == 0 ||
             (media->data.len == 5 && memcmp (media->data.data, "VIDEO", 5) == 0)))
          g_signal_emit (self, signals[SIGNAL_KEYFRAME_REQUESTED], 0, peer);
        break;

      default:
        break;
    }
}

static void
on_meeting (ConfabCall *self, const ConfabPacketWrapper *wrapper, gint64 now)
{
  ProtobufCAllocator *allocator = confab_arena_allocator (self->arena);
  ConfabMeetingPacket *meeting;
  ConfabPeer *peer;

  meeting = confab__meeting_packet__unpack (allocator, wrapper->data.len, wrapper->data.data);
  if (meeting == NULL || meeting->session_id == 0 || is_own_session (self, meeting->session_id))
    return;

  switch ((int) meeting->event_type)
    {
      case CONFAB_MEETING_PARTICIPANT_JOINED:
        peer = ensure_peer (self, meeting->session_id, now);
        confab_peer_touch (peer, now);
        if (meeting->target_user_id.len > 0)
          confab_peer_set_user_id (peer, meeting->target_user_id.data, meeting->target_user_id.len);
        if (meeting->display_name.len > 0)
          confab_peer_set_display_name (peer, meeting->display_name.data,
                                        meeting->display_name.len);
        break;

      case CONFAB_MEETING_PARTICIPANT_LEFT:
        peer = g_hash_table_lookup (self->peers_by_session, &meeting->session_id);
        if (peer != NULL)
          peer_gone (self, peer);
        break;

      default:
        break;
    }
}

/* [confab] chat (docs/protocol-extensions.md): checked here, because the
 * relay forwards whatever a client sends. */
static void
on_chat (ConfabCall *self, const ConfabPacketWrapper *wrapper, gint64 now)
{
  ConfabChatMessage *chat;
  ConfabPeer *peer;

  if (wrapper->session_id == 0 || is_own_session (self, wrapper->session_id) ||
      is_system (&wrapper->user_id))
    return;
  chat = confab__chat_message__unpack (confab_arena_allocator (self->arena), wrapper->data.len,
                                       wrapper->data.data);
  if (!confab_chat_message_is_valid (chat))
    {
      self->undecodable_packets++;
      return;
    }
  peer = ensure_peer (self, wrapper->session_id, now);
  confab_peer_touch (peer, now);
  if (wrapper->user_id.len > 0)
    confab_peer_set_user_id (peer, wrapper->user_id.data, wrapper->user_id.len);
  g_signal_emit (self, signals[SIGNAL_CHAT_MESSAGE], 0, peer, chat->id, chat->display_name,
                 chat->text, chat->timestamp_ms);
}

static void
on_session_assigned (ConfabCall *self, guint64 session_id)
{
  if (session_id == 0 || is_own_session (self, session_id))
    return;
  if (self->session_id != 0)
    {
      /* The transport moved to a new path or reconnected: same call, new
       * session. Activate it at once; timers and sequences go on. */
      memmove (self->previous_session_ids + 1, self->previous_session_ids,
               sizeof self->previous_session_ids - sizeof self->previous_session_ids[0]);
      self->previous_session_ids[0] = self->session_id;
      self->session_id = session_id;
      g_signal_emit (self, signals[SIGNAL_SESSION_ASSIGNED], 0, session_id);
      send_heartbeat (self);
      return;
    }
  self->session_id = session_id;
  g_signal_emit (self, signals[SIGNAL_SESSION_ASSIGNED], 0, session_id);
  /* The first non-probe packet makes the session active in the room. */
  send_heartbeat (self);
  self->heartbeat_timer = start_timer (self, HEARTBEAT_INTERVAL_MS, on_heartbeat_timer);
  self->diagnostics_timer = start_timer (self, DIAGNOSTICS_INTERVAL_MS, on_diagnostics_timer);
}

static void
on_transport_packet (ConfabTransport *transport, GBytes *bytes, ConfabCall *self)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  ConfabPacketWrapper *wrapper;
  gint64 now = g_get_monotonic_time ();

  confab_arena_reset (self->arena);
  wrapper = confab__packet_wrapper__unpack (confab_arena_allocator (self->arena), len, data);
  if (wrapper == NULL)
    {
      self->undecodable_packets++;
      return;
    }

  switch ((int) wrapper->packet_type)
    {
      case CONFAB_PACKET_SESSION_ASSIGNED:
        on_session_assigned (self, wrapper->session_id);
        break;
      case CONFAB_PACKET_MEDIA:
        on_media (self, wrapper, now);
        break;
      case CONFAB_PACKET_MEETING:
        on_meeting (self, wrapper, now);
        break;
      case CONFAB_PACKET_DIAGNOSTICS:
        on_diagnostics (self, wrapper, now);
        break;
      case CONFAB_PACKET_CONGESTION:
        /* The relay dropped our packets for the receiver named in user_id:
         * addressed to our session (PROTOCOL.md §4.6). */
        if (wrapper->session_id != 0 && wrapper->session_id == self->session_id)
          g_signal_emit (self, signals[SIGNAL_CONGESTION], 0);
        break;
      case CONFAB_PACKET_CHAT:
        on_chat (self, wrapper, now);
        break;
      default:
        /* Other packets from a peer still prove it is there. */
        if (wrapper->session_id != 0 && !is_own_session (self, wrapper->session_id) &&
            !is_system (&wrapper->user_id))
          {
            ConfabPeer *peer = g_hash_table_lookup (self->peers_by_session, &wrapper->session_id);
            if (peer != NULL)
              confab_peer_touch (peer, now);
          }
        break;
    }
}

static void
on_transport_connected (ConfabTransport *transport, ConfabCall *self)
{
  send_rtt_probe (self);
  self->rtt_timer = start_timer (self, RTT_FAST_INTERVAL_MS, on_rtt_timer);
}

static void
on_transport_closed (ConfabTransport *transport, const GError *error, ConfabCall *self)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  stop_timer (&self->rtt_timer);
  stop_timer (&self->heartbeat_timer);
  stop_timer (&self->diagnostics_timer);
  stop_timer (&self->video_timer);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, error);
}

/* ---- object ---------------------------------------------------------------- */

static void
confab_call_dispose (GObject *object)
{
  ConfabCall *self = CONFAB_CALL (object);

  stop_timer (&self->rtt_timer);
  stop_timer (&self->heartbeat_timer);
  stop_timer (&self->diagnostics_timer);
  stop_timer (&self->video_timer);
  if (self->decode_pool != NULL)
    {
      /* Peers may outlive us: back to inline, their streams closed, then
       * the workers stopped (a decode in flight finishes first). */
      for (guint i = 0; i < self->peers->len; i++)
        confab_peer_set_decode_pool (g_ptr_array_index (self->peers, i), NULL);
      confab_decode_pool_shutdown (self->decode_pool);
      g_clear_pointer (&self->decode_pool, confab_decode_pool_unref);
    }
  if (self->transport != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->transport, self);
      g_clear_object (&self->transport);
    }
  G_OBJECT_CLASS (confab_call_parent_class)->dispose (object);
}

static void
confab_call_finalize (GObject *object)
{
  ConfabCall *self = CONFAB_CALL (object);

  g_free (self->user_id);
  g_free (self->meeting_id);
  g_free (self->scratch);
  confab_arena_free (self->arena);
  g_hash_table_unref (self->peers_by_session);
  g_ptr_array_unref (self->peers);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (confab_call_parent_class)->finalize (object);
}

static void
confab_call_class_init (ConfabCallClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_call_dispose;
  object_class->finalize = confab_call_finalize;

  signals[SIGNAL_SESSION_ASSIGNED] =
      g_signal_new ("session-assigned", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
  signals[SIGNAL_PEER_JOINED] =
      g_signal_new ("peer-joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, CONFAB_TYPE_PEER);
  signals[SIGNAL_PEER_LEFT] =
      g_signal_new ("peer-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, CONFAB_TYPE_PEER);
  /* (peer, MediaPacket.MediaType, payload, is key, sequence, sender timestamp):
   * VIDEO and AUDIO as they arrive, for decoders. */
  signals[SIGNAL_MEDIA] = g_signal_new (
      "media", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 6,
      CONFAB_TYPE_PEER, G_TYPE_INT, G_TYPE_BYTES, G_TYPE_BOOLEAN, G_TYPE_UINT64, G_TYPE_DOUBLE);
  /* A peer asked us (by our user id) for a key frame. */
  signals[SIGNAL_KEYFRAME_REQUESTED] =
      g_signal_new ("keyframe-requested", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                    NULL, NULL, G_TYPE_NONE, 1, CONFAB_TYPE_PEER);
  /* A new decoded picture of this peer waits in confab_peer_take_video_frame()
   * (only with confab_call_set_receive_media()). */
  signals[SIGNAL_VIDEO_FRAME] =
      g_signal_new ("video-frame", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, CONFAB_TYPE_PEER);
  /* (ConfabPeer *peer, char *id, char *display_name, char *text, guint64 timestamp_ms):
   * strings valid during the emission only. */
  signals[SIGNAL_CHAT_MESSAGE] = g_signal_new (
      "chat-message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 5, CONFAB_TYPE_PEER, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
      G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE, G_TYPE_STRING | G_SIGNAL_TYPE_STATIC_SCOPE,
      G_TYPE_UINT64);
  /* A receiver's DIAGNOSTICS about our media (peer = the reporter,
   * MediaPacket.MediaType, fps received, kbps received). */
  signals[SIGNAL_DIAGNOSTICS] =
      g_signal_new ("diagnostics", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 4, CONFAB_TYPE_PEER, G_TYPE_INT, G_TYPE_DOUBLE, G_TYPE_UINT);
  /* The relay dropped our packets for a receiver that cannot keep up. */
  signals[SIGNAL_CONGESTION] =
      g_signal_new ("congestion", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 0);
  signals[SIGNAL_CLOSED] =
      g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_call_init (ConfabCall *self)
{
  /* Room for a typical key frame without a first overflow. */
  self->arena = confab_arena_new (256 * 1024);
  self->peers = g_ptr_array_new_with_free_func (g_object_unref);
  self->peers_by_session = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  confab_rtt_init (&self->rtt);
}

ConfabCall *
confab_call_new (ConfabTransport *transport, const char *user_id)
{
  ConfabCall *self;

  g_return_val_if_fail (CONFAB_IS_TRANSPORT (transport), NULL);
  g_return_val_if_fail (user_id != NULL, NULL);

  self = g_object_new (CONFAB_TYPE_CALL, NULL);
  self->transport = g_object_ref (transport);
  self->user_id = g_strdup (user_id);
  self->user_id_len = strlen (user_id);
  self->context = g_main_context_ref_thread_default ();
  g_signal_connect (transport, "connected", G_CALLBACK (on_transport_connected), self);
  g_signal_connect (transport, "packet", G_CALLBACK (on_transport_packet), self);
  g_signal_connect (transport, "closed", G_CALLBACK (on_transport_closed), self);
  return self;
}

void
confab_call_start (ConfabCall *self)
{
  g_return_if_fail (CONFAB_IS_CALL (self));
  confab_transport_open (self->transport);
}

void
confab_call_leave (ConfabCall *self)
{
  g_return_if_fail (CONFAB_IS_CALL (self));
  stop_timer (&self->rtt_timer);
  stop_timer (&self->heartbeat_timer);
  stop_timer (&self->diagnostics_timer);
  stop_timer (&self->video_timer);
  confab_transport_close (self->transport);
}

void
confab_call_set_receive_media (ConfabCall *self, gboolean decode_video, gboolean buffer_audio)
{
  g_return_if_fail (CONFAB_IS_CALL (self));
  self->decode_video = !!decode_video;
  self->buffer_audio = !!buffer_audio;
  for (guint i = 0; i < self->peers->len; i++)
    {
      confab_peer_set_receive_media (g_ptr_array_index (self->peers, i), self->decode_video,
                                     self->buffer_audio);
      confab_peer_set_decode_pool (g_ptr_array_index (self->peers, i), self->decode_pool);
    }
}

void
confab_call_set_decode_threads (ConfabCall *self, guint threads)
{
  ConfabDecodePool *old;

  g_return_if_fail (CONFAB_IS_CALL (self));
  threads = MIN (threads, 16);
  if (threads ==
      (self->decode_pool != NULL ? confab_decode_pool_get_threads (self->decode_pool) : 0))
    return;
  old = g_steal_pointer (&self->decode_pool);
  if (threads > 0)
    self->decode_pool = confab_decode_pool_new (threads, self->context, on_decoded, self);
  for (guint i = 0; i < self->peers->len; i++)
    confab_peer_set_decode_pool (g_ptr_array_index (self->peers, i), self->decode_pool);
  if (old != NULL)
    {
      confab_decode_pool_shutdown (old);
      confab_decode_pool_unref (old);
    }
}

guint
confab_call_get_decode_threads (ConfabCall *self)
{
  g_return_val_if_fail (CONFAB_IS_CALL (self), 0);
  return self->decode_pool != NULL ? confab_decode_pool_get_threads (self->decode_pool) : 0;
}

ConfabTransport *
confab_call_get_transport (ConfabCall *self)
{
  return self->transport;
}

const char *
confab_call_get_user_id (ConfabCall *self)
{
  return self->user_id;
}

guint64
confab_call_get_session_id (ConfabCall *self)
{
  return self->session_id;
}

double
confab_call_get_rtt_ms (ConfabCall *self)
{
  return confab_rtt_average (&self->rtt);
}

guint64
confab_call_get_sent_video_frames (ConfabCall *self)
{
  return self->sent_video_frames;
}

guint64
confab_call_get_sent_audio_packets (ConfabCall *self)
{
  return self->sent_audio_packets;
}

GPtrArray *
confab_call_get_peers (ConfabCall *self)
{
  return self->peers;
}

ConfabPeer *
confab_call_lookup_peer (ConfabCall *self, guint64 session_id)
{
  return g_hash_table_lookup (self->peers_by_session, &session_id);
}

void
confab_call_set_peer_video_wanted (ConfabCall *self, guint64 session_id, gboolean wanted)
{
  ConfabPeer *peer;
  gint64 now = g_get_monotonic_time ();

  g_return_if_fail (CONFAB_IS_CALL (self));
  peer = confab_call_lookup_peer (self, session_id);
  if (peer == NULL || confab_peer_get_video_wanted (peer) == !!wanted)
    return;
  confab_peer_set_video_wanted (peer, wanted);
  /* Shown again: a key frame now rather than at the sender's next one. */
  if (wanted && keyframe_request_allowed (self, now) &&
      confab_peer_take_keyframe_request (peer, now))
    send_keyframe_request (self, peer, now);
}

void
confab_call_set_meeting_id (ConfabCall *self, const char *meeting_id)
{
  g_return_if_fail (CONFAB_IS_CALL (self));
  g_free (self->meeting_id);
  self->meeting_id = g_strdup (meeting_id);
}

gboolean
confab_call_peers_decode (ConfabCall *self, ConfabVideoCodec codec)
{
  g_return_val_if_fail (CONFAB_IS_CALL (self), FALSE);
  /* Every browser decodes VP8 and VP9 (PROTOCOL.md §5). */
  if (codec != CONFAB_VIDEO_CODEC_H264)
    return TRUE;
  for (guint i = 0; i < self->peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (self->peers, i);

      if (confab_peer_is_present (peer) && !confab_peer_decodes (peer, codec))
        return FALSE;
    }
  return TRUE;
}

void
confab_call_set_advertise_codecs (ConfabCall *self, gboolean advertise)
{
  g_return_if_fail (CONFAB_IS_CALL (self));
  self->no_h264_advertisement = !advertise;
}
