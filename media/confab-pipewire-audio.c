/* confab-pipewire-audio.c: microphone capture and speaker playback as
 * pw_streams in S16 48 kHz mono (PipeWire's adapter converts from what the
 * device does). Between PipeWire's thread and the main context sits a
 * lock-free spa_ringbuffer per stream: the process callbacks only copy
 * samples (the microphone's through its ConfabAudioProcessing first) and
 * wake the main context, which cuts or fills 20 ms frames.
 *
 * The streams are connected with PW_STREAM_FLAG_RT_PROCESS: PipeWire calls
 * their process callbacks on its data thread, in the graph cycle that
 * carries the samples. On the pw_thread_loop's thread (as before) they
 * came late and out of step whenever that ordinary thread was starved (the
 * app's GTK work on 2 cores): the echo reference and the microphone
 * reached the canceller up to 2 frames apart, back and forth, and it let
 * the echo through in bursts (app-aec). So the callbacks never block for
 * long and never allocate: they copy, process 10 ms frames (~0.1-0.3 ms
 * each) and wake the main context. */
#define G_LOG_DOMAIN "confab-pipewire-audio"

#include "confab-pipewire-audio.h"

#include "confab-pipewire-private.h"

#include <spa/param/audio/format-utils.h>
#include <spa/utils/ringbuffer.h>
#include <string.h>

#define FRAME_BYTES   (CONFAB_AUDIO_FRAME_SAMPLES * 2)
#define RING_BYTES    32768 /* 341 ms of S16 mono; a power of two */
#define RING_MASK     (RING_BYTES - 1)
#define PLAYBACK_FILL (2 * FRAME_BYTES) /* keep 40 ms queued for the device */
#define QUANTUM       "480/48000"       /* 10 ms device periods */

/* What capture and playback share: the stream, its ring and its errors. */
typedef struct
{
  GObject *owner; /* borrowed: the object that embeds this */
  ConfabPipewire *pipewire;
  GSource *wakeup;
  struct pw_stream *stream; /* under the loop lock */
  struct spa_hook listener;
  char *target;
  const char *what; /* "microphone" / "speaker" */

  struct spa_ringbuffer ring;
  guint8 *ring_data;

  /* PipeWire thread */
  gboolean streamed;

  /* Under lock */
  GMutex lock;
  GError *pending_error;
  guint64 count;  /* chunks delivered / frames played */
  guint64 faults; /* overrun samples / underruns */

  /* Main context */
  gboolean failed;
} AudioStream;

static guint capture_signals[3];
static guint playback_signals[1];

static void audio_stream_report (AudioStream *s, ConfabPipewireError code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static void
audio_stream_report (AudioStream *s, ConfabPipewireError code, const char *format, ...)
{
  va_list args;

  g_mutex_lock (&s->lock);
  if (s->pending_error == NULL)
    {
      va_start (args, format);
      s->pending_error = g_error_new_valist (CONFAB_PIPEWIRE_ERROR, code, format, args);
      va_end (args);
    }
  g_mutex_unlock (&s->lock);
  confab_wakeup (s->wakeup);
}

static void
on_state_changed (void *data,
                  enum pw_stream_state old,
                  enum pw_stream_state state,
                  const char *error)
{
  AudioStream *s = data;

  g_debug ("%s stream %s -> %s (%s)", s->what, pw_stream_state_as_string (old),
           pw_stream_state_as_string (state), error ? error : "");
  if (state == PW_STREAM_STATE_STREAMING)
    s->streamed = TRUE;
  if (state == PW_STREAM_STATE_ERROR)
    audio_stream_report (
        s, s->streamed ? CONFAB_PIPEWIRE_ERROR_DEVICE_GONE : CONFAB_PIPEWIRE_ERROR_STREAM,
        "The %s stream failed: %s", s->what, error ? error : "unknown error");
  else if (state == PW_STREAM_STATE_UNCONNECTED && !confab_pipewire_is_connected (s->pipewire))
    audio_stream_report (s, CONFAB_PIPEWIRE_ERROR_DISCONNECTED, "Lost the connection to PipeWire");
  else if (state == PW_STREAM_STATE_UNCONNECTED)
    audio_stream_report (
        s, s->streamed ? CONFAB_PIPEWIRE_ERROR_DEVICE_GONE : CONFAB_PIPEWIRE_ERROR_STREAM,
        s->streamed ? "The %s disappeared" : "No such %s: %s", s->what,
        s->target != NULL ? s->target : "(default)");
}

/* Takes the pending error, if any; the first one stops the stream. */
static GError *
audio_stream_take_error (AudioStream *s)
{
  GError *error;

  g_mutex_lock (&s->lock);
  error = g_steal_pointer (&s->pending_error);
  g_mutex_unlock (&s->lock);
  if (error == NULL || s->failed)
    {
      g_clear_error (&error);
      return NULL;
    }
  s->failed = TRUE;
  return error;
}

static void
audio_stream_stop (AudioStream *s)
{
  if (s->stream == NULL)
    return;
  /* A process call PipeWire already queued for its loop must run before the
   * stream goes: disconnect, let the loop drain, then destroy. */
  confab_pipewire_lock (s->pipewire);
  pw_stream_disconnect (s->stream);
  confab_pipewire_unlock (s->pipewire);
  confab_pipewire_roundtrip (s->pipewire, 1000);
  confab_pipewire_lock (s->pipewire);
  spa_hook_remove (&s->listener);
  pw_stream_destroy (s->stream);
  s->stream = NULL;
  confab_pipewire_unlock (s->pipewire);
}

static void
audio_stream_clear (AudioStream *s)
{
  audio_stream_stop (s);
  if (s->wakeup != NULL)
    {
      g_source_destroy (s->wakeup);
      g_clear_pointer (&s->wakeup, g_source_unref);
    }
  g_clear_error (&s->pending_error);
  g_clear_pointer (&s->target, g_free);
  g_clear_pointer (&s->ring_data, g_free);
  g_mutex_clear (&s->lock);
  g_clear_object (&s->pipewire);
}

static gboolean
audio_stream_start (AudioStream *s,
                    GObject *owner,
                    ConfabPipewire *pipewire,
                    const char *target,
                    gboolean playback,
                    gboolean monitor_sink,
                    const struct pw_stream_events *events,
                    GSourceFunc on_wakeup,
                    GError **error)
{
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  guint8 buffer[512];
  struct spa_pod_builder b = SPA_POD_BUILDER_INIT (buffer, sizeof buffer);
  const struct spa_pod *params[1];
  struct spa_audio_info_raw info = {
    .format = SPA_AUDIO_FORMAT_S16,
    .rate = CONFAB_AUDIO_SAMPLE_RATE,
    .channels = 1,
    .position = { SPA_AUDIO_CHANNEL_MONO },
  };
  struct pw_properties *props;
  int res;

  g_mutex_init (&s->lock);
  s->owner = owner;
  s->pipewire = g_object_ref (pipewire);
  s->target = g_strdup (target);
  s->what = playback ? "speaker" : "microphone";
  s->ring_data = g_malloc0 (RING_BYTES);
  spa_ringbuffer_init (&s->ring);
  s->wakeup = confab_wakeup_source_new (context, on_wakeup, owner);

  props = pw_properties_new (
      PW_KEY_MEDIA_TYPE, "Audio", PW_KEY_MEDIA_CATEGORY, playback ? "Playback" : "Capture",
      PW_KEY_MEDIA_ROLE, "Communication", PW_KEY_APP_NAME, "Confab", PW_KEY_NODE_NAME,
      playback ? "confab-playback" : "confab-microphone", PW_KEY_NODE_DESCRIPTION,
      playback ? "Confab call audio" : "Confab microphone", PW_KEY_NODE_LATENCY, QUANTUM, NULL);
  if (target != NULL)
    {
      pw_properties_set (props, PW_KEY_TARGET_OBJECT, target);
      /* A device the user chose: losing it is an error, not a silent move. */
      pw_properties_set (props, PW_KEY_NODE_DONT_RECONNECT, "true");
    }
  if (monitor_sink)
    pw_properties_set (props, PW_KEY_STREAM_CAPTURE_SINK, "true");
  params[0] = spa_format_audio_raw_build (&b, SPA_PARAM_EnumFormat, &info);

  confab_pipewire_lock (pipewire);
  s->stream = pw_stream_new (confab_pipewire_get_core (pipewire),
                             playback ? "Confab call audio" : "Confab microphone", props);
  if (s->stream == NULL)
    {
      confab_pipewire_unlock (pipewire);
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM,
                   "Cannot create the %s stream", s->what);
      return FALSE;
    }
  pw_stream_add_listener (s->stream, &s->listener, events, s);
  res = pw_stream_connect (
      s->stream, playback ? PW_DIRECTION_OUTPUT : PW_DIRECTION_INPUT, PW_ID_ANY,
      PW_STREAM_FLAG_AUTOCONNECT | PW_STREAM_FLAG_MAP_BUFFERS | PW_STREAM_FLAG_RT_PROCESS, params,
      1);
  confab_pipewire_unlock (pipewire);
  if (res < 0)
    {
      g_set_error (error, CONFAB_PIPEWIRE_ERROR, CONFAB_PIPEWIRE_ERROR_STREAM,
                   "Cannot connect the %s stream: %s", s->what, g_strerror (-res));
      return FALSE;
    }
  return TRUE;
}

/* ---- capture ------------------------------------------------------------------------- */

struct _ConfabAudioCapture
{
  GObject parent_instance;
  AudioStream s;
  ConfabAudioProcessing *processing; /* owned; NULL for a monitor */

  /* PipeWire thread: the 10 ms frame being gathered for processing */
  gint16 frame[CONFAB_AUDIO_PROCESSING_FRAME_SAMPLES];
  guint32 frame_fill;
  gint64 frame_time_us; /* when its first sample reached the microphone */
  gboolean speaking_pw;

  /* Main context */
  gboolean speaking;
};

G_DEFINE_FINAL_TYPE (ConfabAudioCapture, confab_audio_capture, G_TYPE_OBJECT)

/* PipeWire thread: queues samples for the main context. */
static void
capture_write (AudioStream *s, const void *data, guint32 size)
{
  guint32 index, space;
  gint32 filled;

  filled = spa_ringbuffer_get_write_index (&s->ring, &index);
  space = RING_BYTES - CLAMP (filled, 0, RING_BYTES);
  if (size > space)
    {
      /* The main context is far behind: drop the newest, count it. */
      g_mutex_lock (&s->lock);
      s->faults += (size - space) / 2;
      g_mutex_unlock (&s->lock);
      size = space;
    }
  spa_ringbuffer_write_data (&s->ring, s->ring_data, RING_BYTES, index & RING_MASK, data, size);
  spa_ringbuffer_write_update (&s->ring, index + size);
  if (filled + (gint32) size >= FRAME_BYTES)
    confab_wakeup (s->wakeup);
}

/* PipeWire thread: @n samples whose last one reached the microphone at
 * @end_us, processed 10 ms at a time in place, then queued. */
static void
capture_process (ConfabAudioCapture *self, const gint16 *pcm, guint32 n, gint64 end_us)
{
  gint64 start_us = end_us - (gint64) n * G_USEC_PER_SEC / CONFAB_AUDIO_SAMPLE_RATE;
  guint32 done = 0;

  while (done < n)
    {
      guint32 take = MIN (n - done, CONFAB_AUDIO_PROCESSING_FRAME_SAMPLES - self->frame_fill);
      gboolean speaking;

      if (self->frame_fill == 0)
        self->frame_time_us = start_us + (gint64) done * G_USEC_PER_SEC / CONFAB_AUDIO_SAMPLE_RATE;
      memcpy (self->frame + self->frame_fill, pcm + done, take * sizeof (gint16));
      self->frame_fill += take;
      done += take;
      if (self->frame_fill < CONFAB_AUDIO_PROCESSING_FRAME_SAMPLES)
        break;
      self->frame_fill = 0;
      speaking = confab_audio_processing_process_capture (self->processing, self->frame,
                                                          self->frame_time_us);
      capture_write (&self->s, self->frame, sizeof self->frame);
      if (speaking != self->speaking_pw)
        {
          self->speaking_pw = speaking;
          confab_wakeup (self->s.wakeup);
        }
    }
}

/* PipeWire's latency report in microseconds (0 when it has none): the
 * graph's delay to or from the device plus the resampler's, and @queued_us
 * for the playback buffers still waiting (their b->size counts samples). */
static gint64
stream_time (struct pw_stream *stream, gint64 *now_us, gint64 *queued_us)
{
  struct pw_time t;

  *now_us = g_get_monotonic_time ();
  *queued_us = 0;
  if (pw_stream_get_time_n (stream, &t, sizeof t) < 0 || t.rate.denom == 0)
    return 0;
  if (t.now > 0)
    *now_us = t.now / 1000;
  *queued_us = (gint64) t.queued * G_USEC_PER_SEC / CONFAB_AUDIO_SAMPLE_RATE;
  return (t.delay + (gint64) t.buffered) * G_USEC_PER_SEC * t.rate.num / t.rate.denom;
}

/* The samples a capture buffer holds (0 for one without data). */
static guint32
capture_buffer_bytes (struct pw_buffer *b, const void **pcm)
{
  struct spa_data *d = &b->buffer->datas[0];
  guint32 offset;

  if (d->data == NULL || d->chunk == NULL || d->maxsize == 0)
    return 0;
  offset = d->chunk->offset % d->maxsize;
  *pcm = SPA_PTROFF (d->data, offset, const void);
  return MIN (d->chunk->size, d->maxsize - offset) & ~1u;
}

#define CAPTURE_BATCH 8

static void
on_capture_process (void *data)
{
  AudioStream *s = data;
  ConfabAudioCapture *self = SPA_CONTAINER_OF (s, ConfabAudioCapture, s);
  struct pw_buffer *batch[CAPTURE_BATCH];
  guint n = 0, i;
  gint64 now_us = 0, latency_us = 0, queued_us, after_us = 0;

  if (self->processing != NULL)
    latency_us = stream_time (s->stream, &now_us, &queued_us);
  /* Normally one buffer per cycle; after a stall several, the last the
   * newest: each is stamped by the samples that came after it. */
  while (n < CAPTURE_BATCH && (batch[n] = pw_stream_dequeue_buffer (s->stream)) != NULL)
    n++;
  for (i = 0; i < n; i++)
    {
      const void *pcm = NULL;
      guint32 size = capture_buffer_bytes (batch[i], &pcm);

      if (self->processing == NULL && size > 0)
        capture_write (s, pcm, size);
      after_us += (gint64) size / 2 * G_USEC_PER_SEC / CONFAB_AUDIO_SAMPLE_RATE;
    }
  for (i = 0; i < n; i++)
    {
      const void *pcm = NULL;
      guint32 size = capture_buffer_bytes (batch[i], &pcm);

      after_us -= (gint64) size / 2 * G_USEC_PER_SEC / CONFAB_AUDIO_SAMPLE_RATE;
      if (self->processing != NULL && size > 0)
        /* The newest sample of the cycle left the device latency_us ago. */
        capture_process (self, pcm, size / 2, now_us - latency_us - after_us);
      pw_stream_queue_buffer (s->stream, batch[i]);
    }
}

static const struct pw_stream_events capture_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_state_changed,
  .process = on_capture_process,
};

static gboolean
on_capture_wakeup (gpointer data)
{
  ConfabAudioCapture *self = data;
  AudioStream *s = &self->s;
  gint16 chunk[CONFAB_AUDIO_FRAME_SAMPLES];
  g_autoptr (GError) error = NULL;
  guint32 index;

  g_object_ref (self);
  while (!s->failed && spa_ringbuffer_get_read_index (&s->ring, &index) >= FRAME_BYTES)
    {
      spa_ringbuffer_read_data (&s->ring, s->ring_data, RING_BYTES, index & RING_MASK, chunk,
                                FRAME_BYTES);
      spa_ringbuffer_read_update (&s->ring, index + FRAME_BYTES);
      g_mutex_lock (&s->lock);
      s->count++;
      g_mutex_unlock (&s->lock);
      g_signal_emit (self, capture_signals[0], 0, chunk);
    }
  if (self->processing != NULL && !s->failed &&
      confab_audio_processing_get_speaking (self->processing) != self->speaking)
    {
      self->speaking = !self->speaking;
      g_signal_emit (self, capture_signals[2], 0, self->speaking);
    }
  error = audio_stream_take_error (s);
  if (error != NULL)
    {
      audio_stream_stop (s);
      g_signal_emit (self, capture_signals[1], 0, error);
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static void
confab_audio_capture_finalize (GObject *object)
{
  ConfabAudioCapture *self = CONFAB_AUDIO_CAPTURE (object);

  /* The stream first: its process callback uses the processing. */
  audio_stream_clear (&self->s);
  g_clear_pointer (&self->processing, confab_audio_processing_unref);
  G_OBJECT_CLASS (confab_audio_capture_parent_class)->finalize (object);
}

static void
confab_audio_capture_class_init (ConfabAudioCaptureClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_audio_capture_finalize;
  capture_signals[0] = g_signal_new ("chunk", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
                                     NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  capture_signals[1] =
      g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
  capture_signals[2] =
      g_signal_new ("speaking-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
confab_audio_capture_init (ConfabAudioCapture *self)
{
}

ConfabAudioCapture *
confab_audio_capture_new (ConfabPipewire *pipewire,
                          const char *target,
                          gboolean monitor_sink,
                          GError **error)
{
  g_autoptr (ConfabAudioCapture) self = NULL;

  g_return_val_if_fail (CONFAB_IS_PIPEWIRE (pipewire), NULL);
  self = g_object_new (CONFAB_TYPE_AUDIO_CAPTURE, NULL);
  /* Before the stream exists: its first process call may come at once. */
  if (!monitor_sink)
    {
      self->processing = confab_audio_processing_new (CONFAB_AUDIO_PROCESSING_ALL, error);
      if (self->processing == NULL)
        return NULL;
    }
  if (!audio_stream_start (&self->s, G_OBJECT (self), pipewire, target, FALSE, monitor_sink,
                           &capture_events, on_capture_wakeup, error))
    return NULL;
  return g_steal_pointer (&self);
}

ConfabAudioProcessing *
confab_audio_capture_get_processing (ConfabAudioCapture *self)
{
  g_return_val_if_fail (CONFAB_IS_AUDIO_CAPTURE (self), NULL);
  return self->processing;
}

gboolean
confab_audio_capture_get_speaking (ConfabAudioCapture *self)
{
  g_return_val_if_fail (CONFAB_IS_AUDIO_CAPTURE (self), FALSE);
  return self->speaking;
}

guint64
confab_audio_capture_get_chunks (ConfabAudioCapture *self)
{
  guint64 n;

  g_mutex_lock (&self->s.lock);
  n = self->s.count;
  g_mutex_unlock (&self->s.lock);
  return n;
}

guint64
confab_audio_capture_get_overrun_samples (ConfabAudioCapture *self)
{
  guint64 n;

  g_mutex_lock (&self->s.lock);
  n = self->s.faults;
  g_mutex_unlock (&self->s.lock);
  return n;
}

/* ---- playback ------------------------------------------------------------------------ */

struct _ConfabAudioPlayback
{
  GObject parent_instance;
  AudioStream s;
  ConfabAudioFillFunc fill;
  gpointer fill_data;
  gboolean started; /* PipeWire thread: data was queued once */
  /* Owned. The process callback runs on PipeWire's data thread, outside
   * the loop lock: it raises reference_busy before it reads the pointer,
   * and a replaced reference is released only once that is down again. */
  ConfabAudioProcessing *reference;
  gint reference_busy;
};

G_DEFINE_FINAL_TYPE (ConfabAudioPlayback, confab_audio_playback, G_TYPE_OBJECT)

static void
on_playback_process (void *data)
{
  AudioStream *s = data;
  ConfabAudioPlayback *self = SPA_CONTAINER_OF (s, ConfabAudioPlayback, s);
  ConfabAudioProcessing *reference;
  struct pw_buffer *b;
  struct spa_data *d;
  guint32 index, want, take;
  gint32 avail;

  b = pw_stream_dequeue_buffer (s->stream);
  if (b == NULL)
    return;
  d = &b->buffer->datas[0];
  if (d->data == NULL)
    {
      pw_stream_queue_buffer (s->stream, b);
      return;
    }
  want = d->maxsize & ~1u;
  if (b->requested > 0)
    want = MIN (want, (guint32) b->requested * 2);

  avail = spa_ringbuffer_get_read_index (&s->ring, &index);
  take = MIN ((guint32) CLAMP (avail, 0, RING_BYTES), want);
  spa_ringbuffer_read_data (&s->ring, s->ring_data, RING_BYTES, index & RING_MASK, d->data, take);
  spa_ringbuffer_read_update (&s->ring, index + take);
  if (take < want)
    {
      /* Nothing (or not enough) queued: silence, counted once the call
       * audio has begun. */
      memset (SPA_PTROFF (d->data, take, void), 0, want - take);
      if (self->started)
        {
          g_mutex_lock (&s->lock);
          s->faults++;
          g_mutex_unlock (&s->lock);
        }
    }
  if (take > 0)
    self->started = TRUE;
  g_atomic_int_set (&self->reference_busy, 1);
  reference = g_atomic_pointer_get (&self->reference);
  if (reference != NULL)
    {
      gint64 now_us, queued_us, latency_us = stream_time (s->stream, &now_us, &queued_us);

      /* Exactly what the speaker gets, heard after the device latency and
       * the buffers still queued ahead of this one. */
      confab_audio_processing_push_render (reference, d->data, want / 2,
                                           now_us + latency_us + queued_us);
    }
  g_atomic_int_set (&self->reference_busy, 0);
  d->chunk->offset = 0;
  d->chunk->stride = 2;
  d->chunk->size = want;
  b->size = want / 2;
  pw_stream_queue_buffer (s->stream, b);

  if (avail - (gint32) take < PLAYBACK_FILL)
    confab_wakeup (s->wakeup);
}

static const struct pw_stream_events playback_events = {
  PW_VERSION_STREAM_EVENTS,
  .state_changed = on_state_changed,
  .process = on_playback_process,
};

static gboolean
on_playback_wakeup (gpointer data)
{
  ConfabAudioPlayback *self = data;
  AudioStream *s = &self->s;
  gint16 frame[CONFAB_AUDIO_FRAME_SAMPLES];
  g_autoptr (GError) error = NULL;
  guint32 index;

  g_object_ref (self);
  /* Bounded: the ring holds RING_BYTES, we top it up to PLAYBACK_FILL. */
  while (!s->failed && spa_ringbuffer_get_write_index (&s->ring, &index) < PLAYBACK_FILL)
    {
      self->fill (frame, self->fill_data);
      spa_ringbuffer_write_data (&s->ring, s->ring_data, RING_BYTES, index & RING_MASK, frame,
                                 FRAME_BYTES);
      spa_ringbuffer_write_update (&s->ring, index + FRAME_BYTES);
      g_mutex_lock (&s->lock);
      s->count++;
      g_mutex_unlock (&s->lock);
    }
  error = audio_stream_take_error (s);
  if (error != NULL)
    {
      audio_stream_stop (s);
      g_signal_emit (self, playback_signals[0], 0, error);
    }
  g_object_unref (self);
  return G_SOURCE_CONTINUE;
}

static void
confab_audio_playback_finalize (GObject *object)
{
  ConfabAudioPlayback *self = CONFAB_AUDIO_PLAYBACK (object);

  audio_stream_clear (&self->s);
  g_clear_pointer (&self->reference, confab_audio_processing_unref);
  G_OBJECT_CLASS (confab_audio_playback_parent_class)->finalize (object);
}

static void
confab_audio_playback_class_init (ConfabAudioPlaybackClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = confab_audio_playback_finalize;
  playback_signals[0] =
      g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_audio_playback_init (ConfabAudioPlayback *self)
{
}

ConfabAudioPlayback *
confab_audio_playback_new (ConfabPipewire *pipewire,
                           const char *target,
                           ConfabAudioFillFunc fill,
                           gpointer user_data,
                           GError **error)
{
  g_autoptr (ConfabAudioPlayback) self = NULL;

  g_return_val_if_fail (CONFAB_IS_PIPEWIRE (pipewire), NULL);
  g_return_val_if_fail (fill != NULL, NULL);
  self = g_object_new (CONFAB_TYPE_AUDIO_PLAYBACK, NULL);
  self->fill = fill;
  self->fill_data = user_data;
  if (!audio_stream_start (&self->s, G_OBJECT (self), pipewire, target, TRUE, FALSE,
                           &playback_events, on_playback_wakeup, error))
    return NULL;
  /* Queue the first 40 ms before the device asks. */
  confab_wakeup (self->s.wakeup);
  return g_steal_pointer (&self);
}

void
confab_audio_playback_set_echo_reference (ConfabAudioPlayback *self,
                                          ConfabAudioProcessing *processing)
{
  ConfabAudioProcessing *old;

  g_return_if_fail (CONFAB_IS_AUDIO_PLAYBACK (self));
  if (processing != NULL)
    confab_audio_processing_ref (processing);
  old = g_atomic_pointer_exchange (&self->reference, processing);
  if (old == NULL)
    return;
  /* A process call on the data thread may still be pushing into @old: it
   * takes microseconds, so wait it out (bounded: 2 s). */
  for (guint i = 0; i < 20000 && g_atomic_int_get (&self->reference_busy); i++)
    g_usleep (100);
  confab_audio_processing_unref (old);
}

guint64
confab_audio_playback_get_frames (ConfabAudioPlayback *self)
{
  guint64 n;

  g_mutex_lock (&self->s.lock);
  n = self->s.count;
  g_mutex_unlock (&self->s.lock);
  return n;
}

guint64
confab_audio_playback_get_underruns (ConfabAudioPlayback *self)
{
  guint64 n;

  g_mutex_lock (&self->s.lock);
  n = self->s.faults;
  g_mutex_unlock (&self->s.lock);
  return n;
}

/* ---- mixing -------------------------------------------------------------------------- */

void
confab_audio_mix_add (gint32 *acc, const gint16 *pcm, gsize n_samples)
{
  for (gsize i = 0; i < n_samples; i++)
    acc[i] += pcm[i];
}

void
confab_audio_mix_finish (const gint32 *acc, gint16 *pcm, gsize n_samples)
{
  for (gsize i = 0; i < n_samples; i++)
    pcm[i] = (gint16) CLAMP (acc[i], G_MININT16, G_MAXINT16);
}
