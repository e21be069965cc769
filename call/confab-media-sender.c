/* confab-media-sender.c: captured pictures and microphone chunks -> encoders
 * -> ConfabCall, following PROTOCOL.md §5's camera tiers. Per picture: one
 * rate check on the caller's context, then a hand-over to the encoder
 * thread (a one-slot mailbox: a newer picture replaces one still waiting),
 * which scales only when the picture is larger than the tier (into a reused
 * frame) and encodes; the packet goes back to the caller's context to be
 * sent. Nothing is allocated per frame. */
#define G_LOG_DOMAIN "confab-media-sender"

#include "confab-media-sender.h"

#include "confab-audio-encoder.h"
#include "confab-packet.h"

#include <libswscale/swscale.h>
#include <string.h>
#include <time.h>

/* Sent video remembered for the ratios: one second at up to 60 fps. */
#define SENT_RING      128
#define SENT_WINDOW_US G_USEC_PER_SEC
#define MAX_STEPS_KEPT 256

typedef struct
{
  gint64 at_us;
  guint32 bytes;
} SentFrame;

/* One picture for the encoder thread, with what the tier and the peers
 * (read on the caller's context) say to make of it. */
typedef struct
{
  ConfabVideoFrame *frame; /* NULL: nothing waiting */
  ConfabVideoCodec codec;
  int width;
  int height;
  int fps;
  guint kbps;
} EncodeJob;

/* What the encoder thread made of a job. encoded.data points into the
 * encoder's buffer: the thread encodes nothing more until the caller's
 * context has sent it (ready back to FALSE), so nothing is copied. */
typedef struct
{
  gboolean ready;
  ConfabEncodedFrame encoded;
  ConfabVideoCodec codec;
  int width;
  int height;
  int fps;
  gint64 encode_us;
  gboolean codec_switched;
  GError *error;
} EncodeResult;

struct _ConfabMediaSender
{
  GObject parent_instance;

  /* Owned */
  ConfabCall *call;
  ConfabAudioEncoder *audio_encoder;
  GArray *steps; /* ConfabMediaSenderStep */
  GSource *quality_timer;
  GSource *encoded_source; /* woken by the encoder thread with a result */
  gulong call_handlers[5];

  /* The encoder thread's own: nothing else touches them while it runs. */
  GThread *thread;
  ConfabVideoEncoder *video_encoder;
  struct SwsContext *sws;
  ConfabVideoFrame *scaled; /* reused while the encoder alone holds it */
  ConfabVideoCodec thread_codec;
  int thread_width;
  int thread_height;
  int thread_fps;
  guint thread_kbps;

  /* Between the two threads, under lock. */
  GMutex lock;
  GCond wake;     /* the encoder thread: a job, a sent result, or quit */
  GCond finished; /* confab_media_sender_flush(): a result or idle */
  EncodeJob job;
  EncodeResult result;
  gboolean keyframe_requested; /* applied to the next encode */
  gboolean keyframe_on_push;   /* caller's context: the next pushed picture is a key */
  gboolean busy;
  gboolean quit;
  guint64 frames_replaced;

  ConfabMediaSenderConfig config;
  ConfabQuality quality;
  int source_fps;
  gboolean video_enabled;
  gboolean audio_enabled;
  gboolean failed;

  /* What the encoder last produced (from its results). */
  ConfabVideoCodec codec;
  int enc_width;
  int enc_height;
  int enc_fps;
  gint64 next_frame_us;

  SentFrame sent[SENT_RING];
  guint sent_head;

  gint64 encode_us_total;
  guint64 encode_count;
  gint64 caller_us_total; /* hand-overs and sends: the caller's thread's CPU time */
  guint64 keyframes_forced;
  guint64 frames_rate_skipped;
  guint codec_switches;
};

G_DEFINE_FINAL_TYPE (ConfabMediaSender, confab_media_sender, G_TYPE_OBJECT)

enum
{
  SIGNAL_LEVEL_CHANGED,
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

/* CPU time of the calling thread: what sending costs the caller's context,
 * not counting the time the encoder thread (or anything else) had the core. */
static gint64
thread_cpu_us (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}

static void
fail (ConfabMediaSender *self, const GError *error)
{
  if (self->failed)
    return;
  self->failed = TRUE;
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

/* ---- quality ----------------------------------------------------------------- */

static void
record_step (ConfabMediaSender *self, ConfabQualityChange change, gint64 now)
{
  ConfabMediaSenderStep step = { now, change, *confab_quality_get_level (&self->quality) };

  if (self->steps->len < MAX_STEPS_KEPT)
    g_array_append_val (self->steps, step);
}

static void
update_quality (ConfabMediaSender *self, gint64 now)
{
  ConfabQualityChange change;
  gint64 next;

  if (!self->config.adapt)
    return;
  change = confab_quality_update (&self->quality, now);
  /* One timer, for when the rule may next change its mind. */
  next = confab_quality_next_update (&self->quality, now);
  g_source_set_ready_time (self->quality_timer, next);
  if (change == CONFAB_QUALITY_START)
    return;
  record_step (self, change, now);
  g_debug ("Camera tier %s to %dx%d@%d, %u kbps", change == CONFAB_QUALITY_DOWN ? "down" : "up",
           confab_quality_get_level (&self->quality)->width,
           confab_quality_get_level (&self->quality)->height,
           confab_quality_get_level (&self->quality)->fps,
           confab_quality_get_level (&self->quality)->bitrate_kbps);
  g_signal_emit (self, signals[SIGNAL_LEVEL_CHANGED], 0);
}

static gboolean
on_quality_due (gpointer data)
{
  ConfabMediaSender *self = data;

  g_source_set_ready_time (self->quality_timer, -1);
  update_quality (self, g_get_monotonic_time ());
  return G_SOURCE_CONTINUE;
}

static gboolean
quality_timer_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  return callback (data);
}

/* A source that runs its callback when its ready time comes (a timer, or
 * woken from another thread with ready time 0). */
static GSourceFuncs quality_timer_funcs = { .dispatch = quality_timer_dispatch };

/* Frames and kbps we sent in the second before @end. */
static void
sent_rates (ConfabMediaSender *self, gint64 end, double *fps, double *kbps)
{
  guint frames = 0;
  guint64 bytes = 0;

  for (guint i = 0; i < SENT_RING; i++)
    if (self->sent[i].at_us > 0 && self->sent[i].at_us <= end &&
        end - self->sent[i].at_us < SENT_WINDOW_US)
      {
        frames++;
        bytes += self->sent[i].bytes;
      }
  *fps = frames * (double) G_USEC_PER_SEC / SENT_WINDOW_US;
  *kbps = bytes * 8 / 1000.0 * G_USEC_PER_SEC / SENT_WINDOW_US;
}

/* What a receiver's second should have held. Its second ended a little
 * before its report reached us (the report's trip, our packets' trip to it,
 * its own delays under load): of the seconds ending in the last 250 ms, the
 * least we sent in, so that a key frame on a window's edge does not read as
 * poor reception (a 720p key frame is a quarter of a second's bitrate). */
static void
expected_rates (ConfabMediaSender *self, gint64 now, double *fps, double *kbps)
{
  sent_rates (self, now, fps, kbps);
  for (gint64 back = 50 * 1000; back <= 250 * 1000; back += 50 * 1000)
    {
      double f, k;

      sent_rates (self, now - back, &f, &k);
      *fps = MIN (*fps, f);
      *kbps = MIN (*kbps, k);
    }
}

static void
on_diagnostics (ConfabCall *call,
                ConfabPeer *reporter,
                int media_type,
                double fps,
                guint kbps,
                ConfabMediaSender *self)
{
  gint64 now = g_get_monotonic_time ();
  double sent_fps, sent_kbps;

  if (media_type != CONFAB_MEDIA_VIDEO || !self->video_enabled)
    return;
  expected_rates (self, now, &sent_fps, &sent_kbps);
  /* Hardly anything sent (just started, camera stalled): no ratio to judge. */
  if (sent_fps < 1 || sent_kbps < 1)
    return;
  g_debug ("Peer %" G_GUINT64_FORMAT " gets %.1f fps %u kbps of %.1f fps %.0f kbps",
           confab_peer_get_session_id (reporter), fps, kbps, sent_fps, sent_kbps);
  confab_quality_report (&self->quality, confab_peer_get_session_id (reporter),
                         MIN (fps / sent_fps, 2.0), MIN (kbps / sent_kbps, 2.0), now);
  update_quality (self, now);
}

static void
on_congestion (ConfabCall *call, ConfabMediaSender *self)
{
  gint64 now = g_get_monotonic_time ();

  confab_quality_congestion (&self->quality, now);
  update_quality (self, now);
}

static void
on_peer_left (ConfabCall *call, ConfabPeer *peer, ConfabMediaSender *self)
{
  confab_quality_forget (&self->quality, confab_peer_get_session_id (peer));
}

/* The encoder thread makes the next picture it encodes a key frame. */
static void
request_keyframe (ConfabMediaSender *self)
{
  g_mutex_lock (&self->lock);
  self->keyframe_requested = TRUE;
  g_mutex_unlock (&self->lock);
}

static void
on_keyframe_requested (ConfabCall *call, ConfabPeer *peer, ConfabMediaSender *self)
{
  /* Before the first picture there is nothing to repair: it is a key frame. */
  if (self->enc_width == 0)
    return;
  self->keyframes_forced++;
  request_keyframe (self);
}

/* A new session (path switch, reconnect): peers meet it and wait for a key frame. */
static void
on_session_assigned (ConfabCall *call, guint64 session_id, ConfabMediaSender *self)
{
  if (self->enc_width != 0)
    request_keyframe (self);
}

/* ---- the encoder thread ------------------------------------------------------ */

/* An encoder for @job, reusing the one we have when only the bitrate
 * differs (applied in place). A new encoder starts with a key frame: a codec
 * or size switch needs one. */
static gboolean
thread_ensure_encoder (ConfabMediaSender *self,
                       const EncodeJob *job,
                       gboolean *codec_switched,
                       GError **error)
{
  if (self->video_encoder != NULL && job->codec == self->thread_codec &&
      job->width == self->thread_width && job->height == self->thread_height &&
      job->fps == self->thread_fps)
    {
      if (job->kbps != self->thread_kbps &&
          confab_video_encoder_set_bitrate (self->video_encoder, job->kbps))
        self->thread_kbps = job->kbps;
      return TRUE;
    }
  *codec_switched = self->video_encoder != NULL && job->codec != self->thread_codec;
  g_clear_pointer (&self->video_encoder, confab_video_encoder_free);
  self->video_encoder =
      confab_video_encoder_new (job->codec, job->width, job->height, job->fps, job->kbps, 0, error);
  if (self->video_encoder == NULL)
    return FALSE;
  self->thread_codec = job->codec;
  self->thread_width = job->width;
  self->thread_height = job->height;
  self->thread_fps = job->fps;
  self->thread_kbps = job->kbps;
  return TRUE;
}

/* @frame scaled into a reused frame of @width x @height. */
static ConfabVideoFrame *
thread_scale (ConfabMediaSender *self, const ConfabVideoFrame *frame, int width, int height)
{
  if (self->scaled == NULL || self->scaled->width != width || self->scaled->height != height ||
      !confab_video_frame_is_writable (self->scaled))
    {
      g_clear_pointer (&self->scaled, confab_video_frame_unref);
      self->scaled = confab_video_frame_new (width, height);
    }
  self->sws =
      sws_getCachedContext (self->sws, frame->width, frame->height, AV_PIX_FMT_YUV420P, width,
                            height, AV_PIX_FMT_YUV420P, SWS_BILINEAR, NULL, NULL, NULL);
  if (self->sws == NULL)
    return NULL;
  {
    /* libswscale reads four planes' pointers and strides (the fourth: alpha). */
    const guint8 *const src[4] = { frame->planes[0], frame->planes[1], frame->planes[2], NULL };
    const int src_strides[4] = { frame->strides[0], frame->strides[1], frame->strides[2], 0 };
    guint8 *const dst[4] = { self->scaled->planes[0], self->scaled->planes[1],
                             self->scaled->planes[2], NULL };
    const int dst_strides[4] = { self->scaled->strides[0], self->scaled->strides[1],
                                 self->scaled->strides[2], 0 };

    sws_scale (self->sws, src, src_strides, 0, frame->height, dst, dst_strides);
  }
  self->scaled->pts_us = frame->pts_us;
  return self->scaled;
}

static void
thread_encode (ConfabMediaSender *self,
               const EncodeJob *job,
               gboolean keyframe,
               EncodeResult *result)
{
  const ConfabVideoFrame *input = job->frame;
  gint64 t0 = g_get_monotonic_time ();

  if (!thread_ensure_encoder (self, job, &result->codec_switched, &result->error))
    return;
  if (keyframe)
    confab_video_encoder_request_keyframe (self->video_encoder);
  if (job->width != job->frame->width || job->height != job->frame->height)
    {
      input = thread_scale (self, job->frame, job->width, job->height);
      if (input == NULL)
        {
          g_set_error (&result->error, CONFAB_MEDIA_ERROR, CONFAB_MEDIA_ERROR_INVALID,
                       "Cannot scale %dx%d to %dx%d", job->frame->width, job->frame->height,
                       job->width, job->height);
          return;
        }
    }
  if (!confab_video_encoder_encode (self->video_encoder, input, &result->encoded, &result->error))
    return;
  result->codec = job->codec;
  result->width = job->width;
  result->height = job->height;
  result->fps = job->fps;
  result->encode_us = g_get_monotonic_time () - t0;
}

/* One picture at a time, the newest: the caller's context only hands over
 * and sends, so a 720p encode never holds up what else runs there (the
 * app's grid). */
static gpointer
encoder_thread (gpointer data)
{
  ConfabMediaSender *self = data;

  g_mutex_lock (&self->lock);
  for (;;)
    {
      EncodeJob job;
      EncodeResult result = { 0 };
      gboolean keyframe;

      /* A result not yet sent still points into the encoder's buffer. */
      while (!self->quit && (self->job.frame == NULL || self->result.ready))
        g_cond_wait (&self->wake, &self->lock);
      if (self->quit)
        break;
      job = self->job;
      self->job.frame = NULL;
      keyframe = self->keyframe_requested;
      self->keyframe_requested = FALSE;
      self->busy = TRUE;
      g_mutex_unlock (&self->lock);

      thread_encode (self, &job, keyframe, &result);
      confab_video_frame_unref (job.frame);

      g_mutex_lock (&self->lock);
      self->busy = FALSE;
      result.ready = TRUE;
      self->result = result;
      g_cond_broadcast (&self->finished);
      /* Thread-safe: wakes the caller's context, which sends it. */
      g_source_set_ready_time (self->encoded_source, 0);
    }
  g_mutex_unlock (&self->lock);
  return NULL;
}

/* ---- video ------------------------------------------------------------------- */

/* The codec to send now: H.264 only while every present peer decodes it. */
static ConfabVideoCodec
choose_codec (ConfabMediaSender *self)
{
  if (self->config.codec != CONFAB_VIDEO_CODEC_H264)
    return self->config.codec;
  return confab_call_peers_decode (self->call, CONFAB_VIDEO_CODEC_H264) ? CONFAB_VIDEO_CODEC_H264
                                                                        : CONFAB_VIDEO_CODEC_VP9;
}

/* @frame fitted into the tier's box, aspect kept, never larger, even sizes. */
static void
fit_size (const ConfabQualityLevel *level, int width, int height, int *out_w, int *out_h)
{
  double scale = MIN (1.0, MIN ((double) level->width / width, (double) level->height / height));

  *out_w = (int) (width * scale + 0.5);
  *out_h = (int) (height * scale + 0.5);
  /* The tier's own size when the aspect is the same (854x480 is not exactly
   * 16:9), as ConfabQuality makes its levels. */
  if (width >= level->width && ABS (*out_w - level->width) <= 2)
    *out_w = level->width;
  if (height >= level->height && ABS (*out_h - level->height) <= 2)
    *out_h = level->height;
  *out_w = MAX (16, *out_w & ~1);
  *out_h = MAX (16, *out_h & ~1);
  *out_w = MIN (*out_w, width & ~1);
  *out_h = MIN (*out_h, height & ~1);
}

/* The encoder thread's result, on the caller's context: sent, counted. */
static void
deliver_result (ConfabMediaSender *self)
{
  EncodeResult result;
  gint64 now = g_get_monotonic_time ();
  gint64 t0 = thread_cpu_us ();

  g_mutex_lock (&self->lock);
  result = self->result;
  self->result.error = NULL;
  g_mutex_unlock (&self->lock);
  if (!result.ready)
    return;

  if (result.error != NULL)
    {
      fail (self, result.error);
      g_error_free (result.error);
    }
  else
    {
      if (result.codec_switched)
        self->codec_switches++;
      self->codec = result.codec;
      self->enc_width = result.width;
      self->enc_height = result.height;
      self->enc_fps = result.fps;
      self->encode_us_total += result.encode_us;
      self->encode_count++;
      /* Encoded before the camera went off: receivers dropped the stream. */
      if (self->video_enabled && result.encoded.size > 0 &&
          confab_call_send_video (self->call, result.codec, &result.encoded))
        {
          self->sent[self->sent_head] =
              (SentFrame){ now, (guint32) MIN (result.encoded.size, G_MAXUINT32) };
          self->sent_head = (self->sent_head + 1) % SENT_RING;
        }
    }

  /* Sent: the encoder's buffer is free for the next picture. */
  g_mutex_lock (&self->lock);
  self->result.ready = FALSE;
  g_cond_signal (&self->wake);
  g_mutex_unlock (&self->lock);
  self->caller_us_total += thread_cpu_us () - t0;
}

static gboolean
on_encoded (gpointer data)
{
  ConfabMediaSender *self = data;

  g_source_set_ready_time (self->encoded_source, -1);
  /* An "error" handler may drop the last reference to us. */
  g_object_ref (self);
  deliver_result (self);
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

gboolean
confab_media_sender_push_video (ConfabMediaSender *self, ConfabVideoFrame *frame, GError **error)
{
  const ConfabQualityLevel *level;
  gint64 interval;
  int width, height, fps;
  double cut;
  EncodeJob job;
  ConfabVideoFrame *replaced;
  gint64 t0;

  g_return_val_if_fail (CONFAB_IS_MEDIA_SENDER (self), FALSE);
  g_return_val_if_fail (frame != NULL, FALSE);
  if (!self->video_enabled || self->failed || confab_call_get_session_id (self->call) == 0)
    return TRUE;
  t0 = thread_cpu_us ();

  /* Faster than the tier's rate: skip, keeping the survivors on the tier's
   * grid. A source no faster than the tier (a 30 fps camera at the top
   * tier) is never thinned: its timestamps jitter (hand-over times), and
   * a jittery frame is no reason to drop one. */
  level = confab_quality_get_level (&self->quality);
  interval = G_USEC_PER_SEC / level->fps;
  if (self->source_fps > 0 && self->source_fps <= level->fps)
    self->next_frame_us = 0;
  else
    {
      /* A source that restarted its clock starts the schedule afresh. */
      if (frame->pts_us + G_USEC_PER_SEC < self->next_frame_us)
        self->next_frame_us = 0;
      if (self->next_frame_us != 0 && frame->pts_us < self->next_frame_us - interval * 2 / 5)
        {
          self->frames_rate_skipped++;
          return TRUE;
        }
      /* After a gap, not sooner than most of an interval. */
      self->next_frame_us = self->next_frame_us == 0 ? frame->pts_us + interval
                                                     : MAX (self->next_frame_us + interval,
                                                            frame->pts_us + interval * 4 / 5);
    }

  fit_size (level, frame->width, frame->height, &width, &height);
  fps = self->source_fps > 0 ? MIN (level->fps, self->source_fps) : level->fps;
  /* The tier's bitrate, scaled down with what the source lacks. */
  cut = MIN (1.0, ((double) width * height * fps) /
                      ((double) level->width * level->height * level->fps));
  job = (EncodeJob){
    .frame = confab_video_frame_ref (frame),
    .codec = choose_codec (self),
    .width = width,
    .height = height,
    .fps = fps,
    .kbps = (guint) MAX (30.0, level->bitrate_kbps * cut),
  };

  /* The newest picture wins: one the encoder has not started on yet is
   * dropped, never queued, so a slow encode costs frames, not latency. */
  g_mutex_lock (&self->lock);
  replaced = self->job.frame;
  if (replaced != NULL)
    self->frames_replaced++;
  self->job = job;
  if (self->keyframe_on_push)
    self->keyframe_requested = TRUE;
  self->keyframe_on_push = FALSE;
  g_cond_signal (&self->wake);
  g_mutex_unlock (&self->lock);
  if (replaced != NULL)
    confab_video_frame_unref (replaced);
  self->caller_us_total += thread_cpu_us () - t0;
  return TRUE;
}

gboolean
confab_media_sender_flush (ConfabMediaSender *self)
{
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_return_val_if_fail (CONFAB_IS_MEDIA_SENDER (self), FALSE);
  for (;;)
    {
      gboolean ready;

      g_mutex_lock (&self->lock);
      while (!self->result.ready && (self->job.frame != NULL || self->busy))
        if (!g_cond_wait_until (&self->finished, &self->lock, end))
          {
            g_mutex_unlock (&self->lock);
            return FALSE;
          }
      ready = self->result.ready;
      g_mutex_unlock (&self->lock);
      if (!ready)
        return TRUE;
      deliver_result (self);
    }
}

/* ---- audio ------------------------------------------------------------------- */

gboolean
confab_media_sender_push_audio (ConfabMediaSender *self, const gint16 *samples, GError **error)
{
  guint8 packet[CONFAB_AUDIO_MAX_PACKET];
  gssize len;

  g_return_val_if_fail (CONFAB_IS_MEDIA_SENDER (self), FALSE);
  if (!self->audio_enabled || self->failed || confab_call_get_session_id (self->call) == 0)
    return TRUE;
  if (self->audio_encoder == NULL)
    {
      self->audio_encoder = confab_audio_encoder_new (0, error);
      if (self->audio_encoder == NULL)
        goto failed;
    }
  len = confab_audio_encoder_encode (self->audio_encoder, samples, packet, sizeof packet, error);
  if (len < 0)
    goto failed;
  confab_call_send_audio (self->call, packet, len);
  return TRUE;

failed:
  fail (self, error != NULL ? *error : NULL);
  return FALSE;
}

/* ---- state ------------------------------------------------------------------- */

static void
announce_state (ConfabMediaSender *self)
{
  confab_call_set_media_state (self->call, self->video_enabled, self->audio_enabled);
}

void
confab_media_sender_set_video_enabled (ConfabMediaSender *self, gboolean enabled)
{
  g_return_if_fail (CONFAB_IS_MEDIA_SENDER (self));
  enabled = !!enabled;
  if (enabled == self->video_enabled)
    return;
  self->video_enabled = enabled;
  if (enabled)
    {
      /* Receivers dropped the stream: start it again with a key frame. */
      request_keyframe (self);
      self->next_frame_us = 0;
    }
  else
    {
      ConfabVideoFrame *waiting;

      memset (self->sent, 0, sizeof self->sent);
      g_mutex_lock (&self->lock);
      waiting = g_steal_pointer (&self->job.frame);
      g_mutex_unlock (&self->lock);
      g_clear_pointer (&waiting, confab_video_frame_unref);
    }
  announce_state (self);
}

void
confab_media_sender_set_audio_enabled (ConfabMediaSender *self, gboolean enabled)
{
  g_return_if_fail (CONFAB_IS_MEDIA_SENDER (self));
  enabled = !!enabled;
  if (enabled == self->audio_enabled)
    return;
  self->audio_enabled = enabled;
  announce_state (self);
}

gboolean
confab_media_sender_get_video_enabled (ConfabMediaSender *self)
{
  return self->video_enabled;
}

gboolean
confab_media_sender_get_audio_enabled (ConfabMediaSender *self)
{
  return self->audio_enabled;
}

void
confab_media_sender_request_keyframe (ConfabMediaSender *self)
{
  g_return_if_fail (CONFAB_IS_MEDIA_SENDER (self));
  /* With the next job, in the same hand-over: a picture of an old camera
   * still waiting (or taken meanwhile) must not get it instead. */
  if (self->enc_width != 0)
    self->keyframe_on_push = TRUE;
}

void
confab_media_sender_set_source_fps (ConfabMediaSender *self, int fps)
{
  g_return_if_fail (CONFAB_IS_MEDIA_SENDER (self));
  self->source_fps = fps > 0 ? CLAMP (fps, 1, 240) : 0;
}

void
confab_media_sender_get_video_format (
    ConfabMediaSender *self, int *width, int *height, int *fps, guint *bitrate_kbps)
{
  const ConfabQualityLevel *level = confab_quality_get_level (&self->quality);

  if (width != NULL)
    *width = level->width;
  if (height != NULL)
    *height = level->height;
  if (fps != NULL)
    *fps = level->fps;
  if (bitrate_kbps != NULL)
    *bitrate_kbps = level->bitrate_kbps;
}

void
confab_media_sender_get_encoded_format (ConfabMediaSender *self, int *width, int *height, int *fps)
{
  if (width != NULL)
    *width = self->enc_width;
  if (height != NULL)
    *height = self->enc_height;
  if (fps != NULL)
    *fps = self->enc_fps;
}

ConfabVideoCodec
confab_media_sender_get_codec (ConfabMediaSender *self)
{
  return self->enc_width != 0 ? self->codec : choose_codec (self);
}

const ConfabMediaSenderStep *
confab_media_sender_get_steps (ConfabMediaSender *self, guint *n_steps)
{
  *n_steps = self->steps->len;
  return (const ConfabMediaSenderStep *) self->steps->data;
}

double
confab_media_sender_get_encode_ms_avg (ConfabMediaSender *self)
{
  return self->encode_count > 0 ? self->encode_us_total / 1000.0 / self->encode_count : 0;
}

double
confab_media_sender_get_caller_us_avg (ConfabMediaSender *self)
{
  return self->encode_count > 0 ? (double) self->caller_us_total / self->encode_count : 0;
}

guint64
confab_media_sender_get_keyframes_forced (ConfabMediaSender *self)
{
  return self->keyframes_forced;
}

guint64
confab_media_sender_get_frames_rate_skipped (ConfabMediaSender *self)
{
  return self->frames_rate_skipped;
}

guint
confab_media_sender_get_codec_switches (ConfabMediaSender *self)
{
  return self->codec_switches;
}

guint64
confab_media_sender_get_frames_replaced (ConfabMediaSender *self)
{
  guint64 n;

  g_mutex_lock (&self->lock);
  n = self->frames_replaced;
  g_mutex_unlock (&self->lock);
  return n;
}

/* ---- object ------------------------------------------------------------------ */

static void
confab_media_sender_dispose (GObject *object)
{
  ConfabMediaSender *self = CONFAB_MEDIA_SENDER (object);

  /* First the thread, which may be in an encode and then wakes
   * encoded_source: joined, nothing of ours runs there any more. */
  if (self->thread != NULL)
    {
      g_mutex_lock (&self->lock);
      self->quit = TRUE;
      g_cond_signal (&self->wake);
      g_mutex_unlock (&self->lock);
      g_clear_pointer (&self->thread, g_thread_join);
    }
  if (self->encoded_source != NULL)
    {
      g_source_destroy (self->encoded_source);
      g_clear_pointer (&self->encoded_source, g_source_unref);
    }
  if (self->quality_timer != NULL)
    {
      g_source_destroy (self->quality_timer);
      g_clear_pointer (&self->quality_timer, g_source_unref);
    }
  if (self->call != NULL)
    {
      for (guint i = 0; i < G_N_ELEMENTS (self->call_handlers); i++)
        g_clear_signal_handler (&self->call_handlers[i], self->call);
      g_clear_object (&self->call);
    }
  G_OBJECT_CLASS (confab_media_sender_parent_class)->dispose (object);
}

static void
confab_media_sender_finalize (GObject *object)
{
  ConfabMediaSender *self = CONFAB_MEDIA_SENDER (object);

  g_clear_pointer (&self->video_encoder, confab_video_encoder_free);
  g_clear_pointer (&self->audio_encoder, confab_audio_encoder_free);
  g_clear_pointer (&self->scaled, confab_video_frame_unref);
  g_clear_pointer (&self->sws, sws_freeContext);
  g_clear_pointer (&self->job.frame, confab_video_frame_unref);
  g_clear_error (&self->result.error);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->wake);
  g_cond_clear (&self->finished);
  g_array_unref (self->steps);
  G_OBJECT_CLASS (confab_media_sender_parent_class)->finalize (object);
}

static void
confab_media_sender_class_init (ConfabMediaSenderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_media_sender_dispose;
  object_class->finalize = confab_media_sender_finalize;

  signals[SIGNAL_LEVEL_CHANGED] =
      g_signal_new ("level-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ERROR] =
      g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_media_sender_init (ConfabMediaSender *self)
{
  self->steps = g_array_new (FALSE, FALSE, sizeof (ConfabMediaSenderStep));
  g_mutex_init (&self->lock);
  g_cond_init (&self->wake);
  g_cond_init (&self->finished);
  self->video_enabled = TRUE;
  self->audio_enabled = TRUE;
}

ConfabMediaSender *
confab_media_sender_new (ConfabCall *call, const ConfabMediaSenderConfig *config)
{
  ConfabMediaSender *self;
  gint64 now = g_get_monotonic_time ();

  g_return_val_if_fail (CONFAB_IS_CALL (call), NULL);
  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (CONFAB_TYPE_MEDIA_SENDER, NULL);
  self->call = g_object_ref (call);
  self->config = *config;
  if (self->config.codec == 0)
    self->config.codec = CONFAB_VIDEO_CODEC_VP9;
  self->codec = self->config.codec;
  confab_quality_init (&self->quality, config->max_width > 0 ? config->max_width : 1280,
                       config->max_height > 0 ? config->max_height : 720,
                       config->max_fps > 0 ? config->max_fps : 30, now);
  record_step (self, CONFAB_QUALITY_START, now);
  self->call_handlers[0] =
      g_signal_connect (call, "diagnostics", G_CALLBACK (on_diagnostics), self);
  self->call_handlers[1] = g_signal_connect (call, "congestion", G_CALLBACK (on_congestion), self);
  self->call_handlers[2] = g_signal_connect (call, "peer-left", G_CALLBACK (on_peer_left), self);
  self->call_handlers[3] =
      g_signal_connect (call, "keyframe-requested", G_CALLBACK (on_keyframe_requested), self);
  self->call_handlers[4] =
      g_signal_connect (call, "session-assigned", G_CALLBACK (on_session_assigned), self);
  if (self->config.adapt)
    {
      self->quality_timer = g_source_new (&quality_timer_funcs, sizeof (GSource));
      g_source_set_callback (self->quality_timer, on_quality_due, self, NULL);
      g_source_attach (self->quality_timer, g_main_context_get_thread_default ());
    }
  /* Results are sent from the caller's context, as signals are emitted. */
  self->encoded_source = g_source_new (&quality_timer_funcs, sizeof (GSource));
  g_source_set_callback (self->encoded_source, on_encoded, self, NULL);
  g_source_set_name (self->encoded_source, "confab-media-sender encoded");
  g_source_attach (self->encoded_source, g_main_context_get_thread_default ());
  self->thread = g_thread_new ("confab-encoder", encoder_thread, self);
  announce_state (self);
  return self;
}
