/* confab-peer.c: per-peer receive state and statistics, and the peer's
 * receive pipeline when media is received: video jitter buffer -> decoder ->
 * latest-frame slot, and an audio jitter buffer the mixer pulls from. */
#define G_LOG_DOMAIN "confab-peer"

#include "confab-peer-private.h"

#include "confab-decode-pool.h"
#include "confab-frame-slot.h"
#include "confab-lip-sync.h"
#include "confab-video-decoder.h"

#include <stdlib.h>
#include <string.h>

#define SYNC_QUEUE    8  /* > 150 ms at 30 fps */
#define AUDIO_TS_RING 64 /* the audio jitter buffer's 1.28 s */
#define LATENCY_RING  1024

struct _ConfabPeer
{
  GObject parent_instance;

  guint64 session_id;
  char *user_id;
  char *display_name;
  gboolean present;
  gboolean superseded; /* left because a newer session of its user is live */
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
  double last_decoded_fps;

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
  int decoded_width; /* the last decoded picture's */
  int decoded_height;
  gint64 first_decoded_us;
  gint64 last_decoded_us;
  guint64 video_decode_errors;
  /* Whether anyone shows the pictures (confab_peer_set_video_wanted): when
   * not, only key frames are decoded. The decoder is then behind the
   * stream (deltas skipped) until the next key frame: stale. */
  gboolean video_unwanted;
  gboolean video_stale;
  guint64 video_frames_unwanted;
  /* Decoding on a worker (confab_peer_set_decode_pool): the stream replaces
   * video_decoder. A worker too far behind skipped to the next key frame:
   * the decoder is stale until then, for a reason other than being unwanted. */
  ConfabDecodeStream *decode_stream;
  ConfabDecodePool *decode_pool; /* the stream's (it holds a reference) */
  ConfabVideoCodec video_codec;  /* of the frames arriving now */
  gboolean video_behind;
  guint64 video_frames_behind;

  /* Lip sync: decoded pictures waiting for the audio to catch up (oldest
   * first), and the audio playout clock the mixer drives. */
  ConfabVideoFrame *sync_frames[SYNC_QUEUE];
  gint64 sync_since_us[SYNC_QUEUE];
  guint sync_len;
  gboolean sync_held_counted; /* the head was counted as held */
  ConfabLipSyncClock lip_clock;
  guint64 video_frames_held;
  guint64 video_frames_dropped_late;
  /* Sender timestamps (epoch ms) of the last audio packets, by sequence. */
  guint64 audio_ts_sequence[AUDIO_TS_RING];
  gint64 audio_ts_ms[AUDIO_TS_RING];
  /* Capture-to-decode latency of the last pictures, µs. */
  gint32 latency_us[LATENCY_RING];
  guint64 latency_count;
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
  confab_decode_stream_close (self->decode_stream);
  confab_frame_slot_free (self->video_slot);
  for (guint i = 0; i < self->sync_len; i++)
    confab_video_frame_unref (self->sync_frames[i]);
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
  confab_lip_sync_clock_init (&self->lip_clock);
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
  if (present)
    self->superseded = FALSE;
}

void
confab_peer_set_superseded (ConfabPeer *self)
{
  self->superseded = TRUE;
}

gboolean
confab_peer_is_superseded (ConfabPeer *self)
{
  return self->superseded;
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

gint64
confab_peer_get_last_packet_us (ConfabPeer *self)
{
  return self->last_packet_us;
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
  /* Pictures decoded: what the person sees (fewer than received while the
   * peer's video is not wanted). */
  self->last_decoded_fps = old->at_us > 0 && seconds > 0.2
                               ? (self->decoded_video_frames - old->video_decoded) / seconds
                               : 0;
  self->samples[0] = self->samples[1];
  self->samples[1] = (ConfabPeerRateSample){ now_us,
                                             self->video_frames,
                                             self->video_bytes,
                                             self->audio_packets,
                                             self->audio_bytes,
                                             self->decoded_video_frames };
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

double
confab_peer_get_last_decoded_fps (ConfabPeer *self)
{
  return self->last_decoded_fps;
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
      /* Not shown: the sender's regular key frames (every ~5 s) are enough,
       * and what is skipped on purpose is no loss to repair. */
      if (!self->present || self->video_unwanted)
        return FALSE;
      if (self->requested_once &&
          now_us - self->last_request_us < CONFAB_KEYFRAME_REQUEST_INTERVAL_US)
        return FALSE;
      /* Shown again after skipped deltas: ask at once, not after the 1 s a
       * loss waits; else the jitter buffer's loss rule. */
      if (!self->video_stale &&
          !confab_video_jitter_buffer_take_keyframe_request (self->video_jitter, now_us))
        return FALSE;
      self->requested_once = TRUE;
      self->last_request_us = now_us;
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
      g_clear_pointer (&self->decode_stream, confab_decode_stream_close);
      self->decode_pool = NULL;
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

void
confab_peer_set_video_wanted (ConfabPeer *self, gboolean wanted)
{
  self->video_unwanted = !wanted;
}

gboolean
confab_peer_get_video_wanted (ConfabPeer *self)
{
  return !self->video_unwanted;
}

guint64
confab_peer_get_video_frames_unwanted (ConfabPeer *self)
{
  return self->video_frames_unwanted;
}

/* Capture (the sender's wall clock, epoch µs) to now on ours: the same
 * clock on one machine, offset by the clocks' difference otherwise. */
static void
record_latency (ConfabPeer *self, gint64 latency)
{
  if (latency < -G_USEC_PER_SEC || latency > 60 * G_USEC_PER_SEC)
    return; /* clocks too far apart to mean anything */
  self->latency_us[self->latency_count % LATENCY_RING] = (gint32) latency;
  self->latency_count++;
}

static void
enqueue_synced (ConfabPeer *self, ConfabVideoFrame *picture, gint64 now_us)
{
  if (self->sync_len == SYNC_QUEUE)
    {
      /* Full (a hold bound the audio never met): the oldest goes. */
      confab_video_frame_unref (self->sync_frames[0]);
      memmove (self->sync_frames, self->sync_frames + 1,
               sizeof self->sync_frames[0] * (SYNC_QUEUE - 1));
      memmove (self->sync_since_us, self->sync_since_us + 1,
               sizeof self->sync_since_us[0] * (SYNC_QUEUE - 1));
      self->sync_len--;
      self->video_frames_dropped_late++;
    }
  self->sync_frames[self->sync_len] = picture;
  self->sync_since_us[self->sync_len] = now_us;
  self->sync_len++;
}

static void
pop_synced (ConfabPeer *self)
{
  self->sync_len--;
  memmove (self->sync_frames, self->sync_frames + 1, sizeof self->sync_frames[0] * self->sync_len);
  memmove (self->sync_since_us, self->sync_since_us + 1,
           sizeof self->sync_since_us[0] * self->sync_len);
}

/* Hands the renderer what the audio clock allows; TRUE when a picture went
 * to the slot. */
static gboolean
release_synced (ConfabPeer *self, gint64 now_us)
{
  gboolean shown = FALSE;

  while (self->sync_len > 0)
    {
      ConfabVideoFrame *head = self->sync_frames[0];
      gint64 held = now_us - self->sync_since_us[0];

      switch (
          confab_lip_sync_decide (&self->lip_clock, head->pts_us, held, self->sync_len > 1, now_us))
        {
          case CONFAB_LIP_SYNC_HOLD:
            if (!self->sync_held_counted)
              {
                self->video_frames_held++;
                self->sync_held_counted = TRUE;
              }
            return shown;
          case CONFAB_LIP_SYNC_DROP:
            self->video_frames_dropped_late++;
            confab_video_frame_unref (head);
            break;
          case CONFAB_LIP_SYNC_SHOW:
          default:
            confab_frame_slot_put (self->video_slot, head);
            confab_video_frame_unref (head);
            shown = TRUE;
            break;
        }
      pop_synced (self);
      self->sync_held_counted = FALSE;
    }
  return shown;
}

/* A decoded picture, inline or from a worker: counted, then shown through
 * the lip-sync queue when the audio clock runs, else kept in @newest (only
 * the newest of a batch goes to the slot). Takes @picture. */
static void
on_picture (ConfabPeer *self,
            ConfabVideoFrame *picture,
            gint64 latency_us,
            gboolean synced,
            ConfabVideoFrame **newest,
            gint64 now_us)
{
  self->decoded_video_frames++;
  self->decoded_width = picture->width;
  self->decoded_height = picture->height;
  if (self->first_decoded_us == 0)
    self->first_decoded_us = now_us;
  self->last_decoded_us = now_us;
  record_latency (self, latency_us);
  if (synced)
    enqueue_synced (self, picture, now_us);
  else
    {
      g_clear_pointer (newest, confab_video_frame_unref);
      *newest = picture;
    }
}

static gboolean
audio_clock_runs (ConfabPeer *self, gint64 now_us)
{
  return confab_lip_sync_clock_now (&self->lip_clock, now_us) >= 0 || self->sync_len > 0;
}

/* Takes @newest. */
static gboolean
show_pictures (ConfabPeer *self, ConfabVideoFrame *newest, gint64 now_us)
{
  gboolean shown = FALSE;

  if (newest != NULL)
    {
      confab_frame_slot_put (self->video_slot, newest);
      confab_video_frame_unref (newest);
      shown = TRUE;
    }
  shown |= release_synced (self, now_us);
  return shown;
}

/* Hands one released frame to the worker. */
static void
submit_to_worker (ConfabPeer *self, ConfabVideoJitterFrame *frame)
{
  guint dropped = 0;
  gboolean queued =
      confab_decode_stream_submit (self->decode_stream, self->video_codec, frame->is_key,
                                   frame->sequence, frame->data, frame->timestamp_us, &dropped);

  self->video_frames_behind += dropped + (queued ? 0 : 1);
  if (queued && frame->is_key)
    self->video_stale = self->video_behind = FALSE;
  else if (dropped > 0 || !queued)
    {
      /* The worker fell behind: skip to the next key frame rather than
       * delay, and ask for one (confab_peer_take_keyframe_request: at
       * once, as for a stale decoder). */
      self->video_stale = self->video_behind = TRUE;
      g_debug ("Peer %" G_GUINT64_FORMAT ": decoder behind, %u frames skipped", self->session_id,
               dropped + (queued ? 0 : 1));
    }
}

gboolean
confab_peer_service_video (ConfabPeer *self, gint64 now_us)
{
  g_autoptr (ConfabVideoFrame) newest = NULL;
  ConfabVideoJitterFrame frame;
  gboolean synced = audio_clock_runs (self, now_us);

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

      if (!frame.is_key && (self->video_unwanted || self->video_stale))
        {
          /* Nobody shows it (or the decoder missed its references since):
           * skipped, not lost; the next key frame resumes. */
          self->video_stale = TRUE;
          if (self->video_behind)
            self->video_frames_behind++;
          else
            self->video_frames_unwanted++;
        }
      else if (self->decode_stream != NULL)
        submit_to_worker (self, &frame);
      else if (self->video_decoder == NULL)
        {
          /* A codec we cannot decode: asking for key frames would not help. */
          self->video_decode_errors++;
        }
      else if (confab_video_decoder_decode (self->video_decoder, data, size, frame.timestamp_us,
                                            &picture, &error))
        {
          if (frame.is_key)
            self->video_stale = self->video_behind = FALSE;
          if (picture != NULL)
            on_picture (self, picture,
                        picture->pts_us > 0 ? g_get_real_time () - picture->pts_us : G_MININT64,
                        synced, &newest, now_us);
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
  return show_pictures (self, g_steal_pointer (&newest), now_us);
}

gboolean
confab_peer_collect_decoded (ConfabPeer *self, gint64 now_us)
{
  g_autoptr (ConfabVideoFrame) newest = NULL;
  ConfabDecodeResult result;
  gboolean synced = audio_clock_runs (self, now_us);

  if (self->decode_stream == NULL)
    return FALSE;
  while (confab_decode_stream_pop (self->decode_stream, &result))
    {
      switch (result.outcome)
        {
          case CONFAB_DECODE_PICTURE:
            on_picture (self, result.picture, result.latency_us, synced, &newest, now_us);
            break;
          case CONFAB_DECODE_NO_DECODER:
            self->video_decode_errors++;
            break;
          case CONFAB_DECODE_FAILED:
            self->video_decode_errors++;
            if (self->video_jitter != NULL)
              confab_video_jitter_buffer_decode_failed (self->video_jitter, now_us);
            break;
          case CONFAB_DECODE_NO_PICTURE:
          default:
            break;
        }
    }
  return show_pictures (self, g_steal_pointer (&newest), now_us);
}

void
confab_peer_set_decode_pool (ConfabPeer *self, ConfabDecodePool *pool)
{
  if (self->video_jitter == NULL)
    pool = NULL; /* video not received: nothing to decode */
  if (pool == self->decode_pool && (pool == NULL) == (self->decode_stream == NULL))
    return;
  g_clear_pointer (&self->decode_stream, confab_decode_stream_close);
  self->decode_pool = pool;
  if (pool != NULL)
    {
      self->decode_stream = confab_decode_stream_new (pool, self);
      g_clear_pointer (&self->video_decoder, confab_video_decoder_free);
    }
  /* Mid-stream, a new decoder has none of the references: skip to the next
   * key frame (and ask for one at once). */
  if (self->video_frames > 0)
    self->video_stale = TRUE;
}

guint64
confab_peer_get_video_frames_behind (ConfabPeer *self)
{
  return self->video_frames_behind;
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
   * peer) needs a new decoder; its first frame is a key frame. A worker
   * makes its own from the codec its frames come with. */
  self->video_codec = codec;
  if (self->decode_stream == NULL &&
      (self->video_decoder == NULL ||
       confab_video_decoder_get_codec (self->video_decoder) != codec))
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
  gint64 due = self->video_jitter != NULL
                   ? confab_video_jitter_buffer_get_deadline (self->video_jitter)
                   : -1;
  gint64 now = g_get_monotonic_time ();

  if (self->sync_len > 0)
    {
      gint64 sync_due = confab_lip_sync_due (&self->lip_clock, self->sync_frames[0]->pts_us,
                                             now - self->sync_since_us[0], now);

      due = due < 0 ? sync_due : MIN (due, sync_due);
    }
  return due;
}

void
confab_peer_receive_audio (ConfabPeer *self,
                           guint64 sequence,
                           const guint8 *data,
                           gsize len,
                           gint64 timestamp_ms,
                           gint64 now_us)
{
  if (self->audio_jitter == NULL)
    return;
  self->audio_ts_sequence[sequence % AUDIO_TS_RING] = sequence;
  self->audio_ts_ms[sequence % AUDIO_TS_RING] = timestamp_ms;
  confab_audio_jitter_buffer_push (self->audio_jitter, sequence, data, len, now_us);
}

ConfabAudioPlayout
confab_peer_pull_audio (ConfabPeer *self, gint64 now_us, gint16 *pcm)
{
  ConfabAudioPlayout how;
  ConfabAudioJitterStats stats;
  guint64 seq;

  g_return_val_if_fail (self->audio_jitter != NULL, CONFAB_AUDIO_PLAYOUT_SILENCE);
  how = confab_audio_jitter_buffer_pull (self->audio_jitter, now_us, pcm);
  if (how == CONFAB_AUDIO_PLAYOUT_SILENCE)
    return how;
  /* The audio heard now was captured when its packet was sent: that is the
   * clock the peer's video follows. */
  confab_audio_jitter_buffer_get_stats (self->audio_jitter, &stats);
  seq = stats.last_sequence;
  if (self->audio_ts_sequence[seq % AUDIO_TS_RING] == seq &&
      self->audio_ts_ms[seq % AUDIO_TS_RING] > 0)
    confab_lip_sync_clock_played (&self->lip_clock, self->audio_ts_ms[seq % AUDIO_TS_RING] * 1000,
                                  now_us);
  return how;
}

guint64
confab_peer_get_video_frames_held (ConfabPeer *self)
{
  return self->video_frames_held;
}

guint64
confab_peer_get_video_frames_dropped_late (ConfabPeer *self)
{
  return self->video_frames_dropped_late;
}

static int
compare_gint32 (gconstpointer a, gconstpointer b)
{
  gint32 x = *(const gint32 *) a, y = *(const gint32 *) b;

  return (x > y) - (x < y);
}

gboolean
confab_peer_get_video_latency (ConfabPeer *self, double *p50_ms, double *p95_ms)
{
  guint n = (guint) MIN (self->latency_count, LATENCY_RING);
  g_autofree gint32 *sorted = NULL;

  if (n == 0)
    return FALSE;
  /* Summaries only: a sorted copy of the last 1024. */
  sorted = g_memdup2 (self->latency_us, n * sizeof (gint32));
  qsort (sorted, n, sizeof (gint32), compare_gint32);
  *p50_ms = sorted[(n - 1) * 50 / 100] / 1000.0;
  *p95_ms = sorted[(n - 1) * 95 / 100] / 1000.0;
  return TRUE;
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

void
confab_peer_get_decoded_video_format (ConfabPeer *self, int *width, int *height, double *fps)
{
  gint64 span = self->last_decoded_us - self->first_decoded_us;

  *width = self->decoded_width;
  *height = self->decoded_height;
  *fps = span > 0 ? (self->decoded_video_frames - 1) * (double) G_USEC_PER_SEC / span : 0;
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
