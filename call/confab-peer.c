/* confab-peer.c: per-peer receive state and statistics, and the peer's
 * receive pipeline when media is received: video jitter buffer -> decoder ->
 * latest-frame slot, and an audio jitter buffer the mixer pulls from. */
#define G_LOG_DOMAIN "confab-peer"

#include "confab-peer-private.h"

#include "confab-frame-slot.h"
#include "confab-video-decoder.h"

#include <string.h>

struct _ConfabPeer
{
  GObject parent_instance;

  guint64 session_id;
  char *user_id;
  char *display_name;
  gboolean present;
  gint64 last_packet_us;

  guint64 video_frames;
  guint64 video_keyframes;
  guint64 video_gaps;
  guint64 audio_packets;
  guint64 heartbeats;
  guint64 keyframe_requests;

  gboolean have_video_sequence;
  guint64 last_video_sequence;
  gboolean waiting_for_keyframe;
  gint64 gap_since_us;
  gint64 last_request_us;
  gboolean requested_once;

  /* What arrived, for DIAGNOSTICS: byte counts, the first arrival, and the
   * counters as they were at the last two samples (500 ms apart). */
  guint64 video_bytes;
  guint64 audio_bytes;
  gint64 first_video_us;
  gint64 first_audio_us;
  ConfabPeerRateSample samples[2];
  ConfabPeerRates last_rates;

  gboolean video_enabled;
  gboolean audio_enabled;
  gboolean is_speaking;
  gboolean decodes_h264; /* [confab] advertised in its heartbeats */
  gboolean screen_enabled;
  gboolean ever_video_enabled;
  gboolean ever_audio_enabled;

  /* Owned, while media is received */
  ConfabVideoJitterBuffer *video_jitter;
  ConfabVideoDecoder *video_decoder;
  ConfabFrameSlot *video_slot;
  ConfabAudioJitterBuffer *audio_jitter;
  guint64 decoded_video_frames;
  guint64 video_decode_errors;
  gboolean decoder_failed_to_start;
};

G_DEFINE_FINAL_TYPE (ConfabPeer, confab_peer, G_TYPE_OBJECT)

static void
confab_peer_finalize (GObject *object)
{
  ConfabPeer *self = CONFAB_PEER (object);

  g_free (self->user_id);
  g_free (self->display_name);
  confab_video_jitter_buffer_free (self->video_jitter);
  confab_video_decoder_free (self->video_decoder);
  confab_frame_slot_free (self->video_slot);
  confab_audio_jitter_buffer_free (self->audio_jitter);
  G_OBJECT_CLASS (confab_peer_parent_class)->finalize (object);
}

static void
confab_peer_class_init (ConfabPeerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_peer_finalize;
}

static void
confab_peer_init (ConfabPeer *self)
{
  self->user_id = g_strdup ("");
}

ConfabPeer *
confab_peer_new (guint64 session_id, gint64 now_us)
{
  ConfabPeer *self = g_object_new (CONFAB_TYPE_PEER, NULL);

  self->session_id = session_id;
  self->present = TRUE;
  self->last_packet_us = now_us;
  return self;
}

/* Ids are bytes on the wire; show them as text, replacing what is not UTF-8. */
static char *
bytes_to_text (const guint8 *data, gsize len)
{
  return g_utf8_make_valid ((const char *) data, (gssize) len);
}

gboolean
confab_peer_set_user_id (ConfabPeer *self, const guint8 *user_id, gsize len)
{
  if (len == strlen (self->user_id) && memcmp (self->user_id, user_id, len) == 0)
    return FALSE;
  g_free (self->user_id);
  self->user_id = bytes_to_text (user_id, len);
  return TRUE;
}

void
confab_peer_set_display_name (ConfabPeer *self, const guint8 *name, gsize len)
{
  g_free (self->display_name);
  self->display_name = len > 0 ? bytes_to_text (name, len) : NULL;
}

void
confab_peer_set_present (ConfabPeer *self, gboolean present)
{
  self->present = present;
}

void
confab_peer_touch (ConfabPeer *self, gint64 now_us)
{
  self->last_packet_us = now_us;
}

gboolean
confab_peer_is_silent (ConfabPeer *self, gint64 now_us)
{
  return now_us - self->last_packet_us > CONFAB_PEER_SILENCE_TIMEOUT_US;
}

void
confab_peer_on_video (
    ConfabPeer *self, gboolean has_sequence, guint64 sequence, gboolean is_key, gint64 now_us)
{
  self->video_frames++;
  if (is_key)
    {
      self->video_keyframes++;
      /* A key frame repairs everything and restarts the sequence baseline
       * (a sender that restarted its encoder restarts its numbering too). */
      self->waiting_for_keyframe = FALSE;
      self->have_video_sequence = has_sequence;
      self->last_video_sequence = sequence;
      return;
    }
  if (!has_sequence)
    return;
  if (self->have_video_sequence && sequence > self->last_video_sequence + 1)
    {
      self->video_gaps++;
      if (!self->waiting_for_keyframe)
        {
          self->waiting_for_keyframe = TRUE;
          self->gap_since_us = now_us;
        }
    }
  else if (!self->have_video_sequence)
    {
      /* Joined mid-stream: deltas without their key frame cannot be decoded. */
      self->waiting_for_keyframe = TRUE;
      self->gap_since_us = now_us;
    }
  else if (sequence <= self->last_video_sequence)
    return; /* late or duplicate: keep the newest as baseline */
  self->have_video_sequence = TRUE;
  self->last_video_sequence = sequence;
}

void
confab_peer_count_bytes (ConfabPeer *self, gboolean video, gsize len, gint64 now_us)
{
  if (video)
    {
      if (self->video_bytes == 0 && self->first_video_us == 0)
        self->first_video_us = now_us;
      self->video_bytes += len;
    }
  else
    {
      if (self->audio_bytes == 0 && self->first_audio_us == 0)
        self->first_audio_us = now_us;
      self->audio_bytes += len;
    }
}

/* Rates over the window since the older of the two samples (about 1 s with
 * 500 ms sampling); a kind that started arriving within the window reports
 * nothing yet, so a stream's start never reads as poor reception. */
void
confab_peer_sample_rates (ConfabPeer *self, gint64 now_us, ConfabPeerRates *rates)
{
  ConfabPeerRateSample *old = &self->samples[0];
  double seconds = (now_us - old->at_us) / 1e6;

  memset (rates, 0, sizeof *rates);
  if (old->at_us > 0 && seconds > 0.2)
    {
      if (self->first_video_us != 0 && self->first_video_us <= old->at_us)
        {
          rates->have_video = TRUE;
          rates->video_fps = (self->video_frames - old->video_frames) / seconds;
          rates->video_kbps = (self->video_bytes - old->video_bytes) * 8 / 1000.0 / seconds;
        }
      if (self->first_audio_us != 0 && self->first_audio_us <= old->at_us)
        {
          rates->have_audio = TRUE;
          rates->audio_fps = (self->audio_packets - old->audio_packets) / seconds;
          rates->audio_kbps = (self->audio_bytes - old->audio_bytes) * 8 / 1000.0 / seconds;
        }
    }
  self->samples[0] = self->samples[1];
  self->samples[1] = (ConfabPeerRateSample){ now_us, self->video_frames, self->video_bytes,
                                             self->audio_packets, self->audio_bytes };
  if (self->samples[0].at_us == 0)
    self->samples[0] = self->samples[1];
  self->last_rates = *rates;
}

double
confab_peer_get_last_video_fps (ConfabPeer *self)
{
  return self->last_rates.video_fps;
}

double
confab_peer_get_last_video_kbps (ConfabPeer *self)
{
  return self->last_rates.video_kbps;
}

void
confab_peer_on_audio (ConfabPeer *self)
{
  self->audio_packets++;
}

void
confab_peer_on_heartbeat (ConfabPeer *self,
                          gboolean video_enabled,
                          gboolean audio_enabled,
                          gboolean screen_enabled,
                          gboolean is_speaking)
{
  self->heartbeats++;
  self->is_speaking = is_speaking;
  self->screen_enabled = screen_enabled;
  self->video_enabled = video_enabled;
  self->audio_enabled = audio_enabled;
  self->ever_video_enabled |= video_enabled;
  self->ever_audio_enabled |= audio_enabled;
}

gboolean
confab_peer_take_keyframe_request (ConfabPeer *self, gint64 now_us)
{
  if (self->video_jitter != NULL)
    {
      if (!self->present ||
          !confab_video_jitter_buffer_take_keyframe_request (self->video_jitter, now_us))
        return FALSE;
      self->keyframe_requests++;
      return TRUE;
    }
  if (!self->waiting_for_keyframe || !self->present)
    return FALSE;
  if (now_us - self->gap_since_us < CONFAB_KEYFRAME_REQUEST_AFTER_US)
    return FALSE;
  if (self->requested_once && now_us - self->last_request_us < CONFAB_KEYFRAME_REQUEST_INTERVAL_US)
    return FALSE;
  self->requested_once = TRUE;
  self->last_request_us = now_us;
  self->keyframe_requests++;
  return TRUE;
}

gboolean
confab_peer_is_waiting_for_keyframe (ConfabPeer *self)
{
  if (self->video_jitter != NULL)
    return confab_video_jitter_buffer_is_waiting_for_keyframe (self->video_jitter);
  return self->waiting_for_keyframe;
}

/* ---- receiving media --------------------------------------------------------- */

void
confab_peer_set_receive_media (ConfabPeer *self, gboolean video, gboolean audio)
{
  if (video && self->video_jitter == NULL)
    {
      self->video_jitter = confab_video_jitter_buffer_new ();
      self->video_slot = confab_frame_slot_new ();
    }
  else if (!video)
    {
      g_clear_pointer (&self->video_jitter, confab_video_jitter_buffer_free);
      g_clear_pointer (&self->video_decoder, confab_video_decoder_free);
      /* The slot stays: a renderer may still take the last picture. */
    }
  if (audio && self->audio_jitter == NULL)
    {
      g_autoptr (GError) error = NULL;

      self->audio_jitter = confab_audio_jitter_buffer_new (&error);
      if (self->audio_jitter == NULL)
        g_warning ("No audio from peer %" G_GUINT64_FORMAT ": %s", self->session_id,
                   error->message);
    }
  else if (!audio)
    g_clear_pointer (&self->audio_jitter, confab_audio_jitter_buffer_free);
}

gboolean
confab_peer_service_video (ConfabPeer *self, gint64 now_us)
{
  g_autoptr (ConfabVideoFrame) newest = NULL;
  ConfabVideoJitterFrame frame;

  if (self->video_jitter == NULL)
    return FALSE;
  /* Decode everything released (deltas need their predecessors); only the
   * newest picture goes to the slot. */
  while (confab_video_jitter_buffer_pop (self->video_jitter, now_us, &frame))
    {
      g_autoptr (GError) error = NULL;
      ConfabVideoFrame *picture = NULL;
      gsize size;
      const guint8 *data = g_bytes_get_data (frame.data, &size);

      if (self->video_decoder == NULL)
        {
          /* A codec we cannot decode: asking for key frames would not help. */
          self->video_decode_errors++;
        }
      else if (confab_video_decoder_decode (self->video_decoder, data, size, frame.timestamp_us,
                                            &picture, &error))
        {
          if (picture != NULL)
            {
              g_clear_pointer (&newest, confab_video_frame_unref);
              newest = picture;
              self->decoded_video_frames++;
            }
        }
      else
        {
          self->video_decode_errors++;
          if (error != NULL)
            g_debug ("Peer %" G_GUINT64_FORMAT " frame %" G_GUINT64_FORMAT ": %s", self->session_id,
                     frame.sequence, error->message);
          confab_video_jitter_buffer_decode_failed (self->video_jitter, now_us);
        }
      confab_video_jitter_frame_clear (&frame);
    }
  if (newest == NULL)
    return FALSE;
  confab_frame_slot_put (self->video_slot, newest);
  return TRUE;
}

gboolean
confab_peer_receive_video (ConfabPeer *self,
                           ConfabVideoCodec codec,
                           guint64 sequence,
                           gboolean is_key,
                           const guint8 *data,
                           gsize len,
                           gint64 timestamp_us,
                           gint64 now_us)
{
  g_autoptr (GBytes) bytes = NULL;

  if (self->video_jitter == NULL)
    return FALSE;
  /* A new codec (the sender switched, e.g. for a room with an H.264-less
   * peer) needs a new decoder; its first frame is a key frame. */
  if (self->video_decoder == NULL || confab_video_decoder_get_codec (self->video_decoder) != codec)
    {
      g_autoptr (GError) error = NULL;

      g_clear_pointer (&self->video_decoder, confab_video_decoder_free);
      self->video_decoder = confab_video_decoder_new (codec, 1, &error);
      if (self->video_decoder == NULL && !self->decoder_failed_to_start)
        {
          /* Once per peer: an unknown codec number arrives with every frame. */
          self->decoder_failed_to_start = TRUE;
          g_warning ("Cannot decode video from peer %" G_GUINT64_FORMAT ": %s", self->session_id,
                     error->message);
        }
    }
  /* The payload lives in the call's per-packet arena: keep a copy. */
  bytes = g_bytes_new (data, len);
  confab_video_jitter_buffer_push (self->video_jitter, sequence, is_key, bytes, timestamp_us,
                                   now_us);
  return confab_peer_service_video (self, now_us);
}

gint64
confab_peer_get_video_deadline (ConfabPeer *self)
{
  return self->video_jitter != NULL ? confab_video_jitter_buffer_get_deadline (self->video_jitter)
                                    : -1;
}

void
confab_peer_receive_audio (
    ConfabPeer *self, guint64 sequence, const guint8 *data, gsize len, gint64 now_us)
{
  if (self->audio_jitter != NULL)
    confab_audio_jitter_buffer_push (self->audio_jitter, sequence, data, len, now_us);
}

ConfabVideoFrame *
confab_peer_take_video_frame (ConfabPeer *self)
{
  return self->video_slot != NULL ? confab_frame_slot_take (self->video_slot) : NULL;
}

guint64
confab_peer_get_decoded_video_frames (ConfabPeer *self)
{
  return self->decoded_video_frames;
}

guint64
confab_peer_get_video_decode_errors (ConfabPeer *self)
{
  return self->video_decode_errors;
}

guint64
confab_peer_get_video_frames_skipped (ConfabPeer *self)
{
  return self->video_slot != NULL ? confab_frame_slot_get_dropped (self->video_slot) : 0;
}

gboolean
confab_peer_get_video_jitter_stats (ConfabPeer *self, ConfabVideoJitterStats *stats)
{
  if (self->video_jitter == NULL)
    return FALSE;
  confab_video_jitter_buffer_get_stats (self->video_jitter, stats);
  return TRUE;
}

ConfabAudioJitterBuffer *
confab_peer_get_audio_jitter_buffer (ConfabPeer *self)
{
  return self->audio_jitter;
}

guint64
confab_peer_get_session_id (ConfabPeer *self)
{
  return self->session_id;
}

const char *
confab_peer_get_user_id (ConfabPeer *self)
{
  return self->user_id;
}

const char *
confab_peer_get_display_name (ConfabPeer *self)
{
  return self->display_name != NULL ? self->display_name : self->user_id;
}

gboolean
confab_peer_is_present (ConfabPeer *self)
{
  return self->present;
}

guint64
confab_peer_get_video_frames (ConfabPeer *self)
{
  return self->video_frames;
}

guint64
confab_peer_get_video_keyframes (ConfabPeer *self)
{
  return self->video_keyframes;
}

guint64
confab_peer_get_video_gaps (ConfabPeer *self)
{
  return self->video_gaps;
}

guint64
confab_peer_get_audio_packets (ConfabPeer *self)
{
  return self->audio_packets;
}

guint64
confab_peer_get_heartbeats (ConfabPeer *self)
{
  return self->heartbeats;
}

guint64
confab_peer_get_keyframe_requests_sent (ConfabPeer *self)
{
  return self->keyframe_requests;
}

gboolean
confab_peer_get_video_enabled (ConfabPeer *self)
{
  return self->video_enabled;
}

gboolean
confab_peer_get_audio_enabled (ConfabPeer *self)
{
  return self->audio_enabled;
}

gboolean
confab_peer_ever_video_enabled (ConfabPeer *self)
{
  return self->ever_video_enabled;
}

gboolean
confab_peer_ever_audio_enabled (ConfabPeer *self)
{
  return self->ever_audio_enabled;
}

gboolean
confab_peer_get_is_speaking (ConfabPeer *self)
{
  return self->is_speaking;
}

gboolean
confab_peer_get_screen_enabled (ConfabPeer *self)
{
  return self->screen_enabled;
}

gboolean
confab_peer_decodes (ConfabPeer *self, ConfabVideoCodec codec)
{
  if (codec != CONFAB_VIDEO_CODEC_H264)
    return TRUE;
  return self->decodes_h264;
}

void
confab_peer_set_decodes_h264 (ConfabPeer *self, gboolean decodes)
{
  self->decodes_h264 = decodes;
}
