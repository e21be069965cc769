/* confab-playout.c: pulls, mixes and plays every peer's audio on the
 * speaker's clock, and hands the mix to the echo canceller. */
#define G_LOG_DOMAIN "confab-playout"

#include "confab-playout.h"

#include "confab-peer.h"

struct _ConfabPlayout
{
  GObject parent_instance;

  ConfabCall *call;         /* owned; NULL: silence */
  char *target;             /* NULL: the default speaker */
  ConfabPipewire *pipewire; /* owned while playing: a retarget reopens on it */
  ConfabAudioProcessing *echo_processing;
  ConfabAudioPlayback *playback; /* while playing */
  /* After the speaker vanished: the peers' audio is still pulled (and
   * dropped) in real time, so their jitter buffers do not pile up what
   * would play sped up once a speaker is chosen again, and their pictures
   * keep their lip-sync clock. */
  GSource *drain; /* on the thread-default context, where the speaker pulled */
  gint64 drain_start_us;
  guint64 drained_frames;
};

G_DEFINE_FINAL_TYPE (ConfabPlayout, confab_playout, G_TYPE_OBJECT)

enum
{
  SIGNAL_ERROR,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

void
confab_playout_mix (ConfabCall *call, gint16 *pcm)
{
  GPtrArray *peers = call != NULL ? confab_call_get_peers (call) : NULL;
  gint32 mix[CONFAB_AUDIO_FRAME_SAMPLES] = { 0 };
  gint16 frame[CONFAB_AUDIO_FRAME_SAMPLES];
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; peers != NULL && i < peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (peers, i);

      if (confab_peer_get_audio_jitter_buffer (peer) == NULL)
        continue;
      /* Through the peer: its audio clock paces its pictures (lip sync). */
      confab_peer_pull_audio (peer, now, frame);
      confab_audio_mix_add (mix, frame, CONFAB_AUDIO_FRAME_SAMPLES);
    }
  confab_audio_mix_finish (mix, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
}

/* The speaker's clock asks for 20 ms, on the call's thread (the jitter
 * buffers are not thread-safe). */
static void
fill (gint16 *pcm, gpointer data)
{
  ConfabPlayout *self = data;

  confab_playout_mix (self->call, pcm);
}

/* Without a speaker: every frame that a speaker would have asked for by
 * now is pulled and dropped (at most 10 per wake-up, so a stalled main
 * loop catches up over a few wake-ups instead of in one long burst). */
static gboolean
drain_tick (gpointer data)
{
  ConfabPlayout *self = data;
  gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
  guint64 due = (guint64) (g_get_monotonic_time () - self->drain_start_us) /
                (CONFAB_AUDIO_FRAME_SAMPLES * G_USEC_PER_SEC / 48000);

  for (guint n = 0; self->drained_frames < due && n < 10; n++, self->drained_frames++)
    confab_playout_mix (self->call, pcm);
  return G_SOURCE_CONTINUE;
}

static void
start_draining (ConfabPlayout *self)
{
  if (self->drain != NULL || self->call == NULL)
    return;
  self->drain_start_us = g_get_monotonic_time ();
  self->drained_frames = 0;
  self->drain = g_timeout_source_new (20);
  g_source_set_callback (self->drain, drain_tick, self, NULL);
  g_source_attach (self->drain, g_main_context_get_thread_default ());
}

static void
stop_draining (ConfabPlayout *self)
{
  if (self->drain == NULL)
    return;
  g_source_destroy (self->drain);
  g_clear_pointer (&self->drain, g_source_unref);
}

static void
on_playback_error (ConfabAudioPlayback *playback, const GError *error, ConfabPlayout *self)
{
  g_autoptr (ConfabPlayout) keep = g_object_ref (self);

  /* The playback is mid-emission; it holds its own reference until done. */
  confab_playout_stop (self);
  start_draining (self);
  g_signal_emit (self, signals[SIGNAL_ERROR], 0, error);
}

ConfabPlayout *
confab_playout_new (ConfabCall *call, const char *target)
{
  ConfabPlayout *self;

  g_return_val_if_fail (call == NULL || CONFAB_IS_CALL (call), NULL);
  self = g_object_new (CONFAB_TYPE_PLAYOUT, NULL);
  confab_playout_set_call (self, call);
  self->target = target != NULL && target[0] != '\0' ? g_strdup (target) : NULL;
  return self;
}

void
confab_playout_set_call (ConfabPlayout *self, ConfabCall *call)
{
  g_return_if_fail (CONFAB_IS_PLAYOUT (self));
  g_set_object (&self->call, call);
}

void
confab_playout_set_echo_processing (ConfabPlayout *self, ConfabAudioProcessing *processing)
{
  g_return_if_fail (CONFAB_IS_PLAYOUT (self));
  if (processing != NULL)
    confab_audio_processing_ref (processing);
  g_clear_pointer (&self->echo_processing, confab_audio_processing_unref);
  self->echo_processing = processing;
  if (self->playback != NULL)
    confab_audio_playback_set_echo_reference (self->playback, processing);
}

gboolean
confab_playout_start (ConfabPlayout *self, ConfabPipewire *pipewire, GError **error)
{
  g_return_val_if_fail (CONFAB_IS_PLAYOUT (self), FALSE);
  if (self->playback != NULL)
    return TRUE;
  self->playback = confab_audio_playback_new (pipewire, self->target, fill, self, error);
  if (self->playback == NULL)
    {
      start_draining (self);
      return FALSE;
    }
  stop_draining (self);
  g_set_object (&self->pipewire, pipewire);
  g_signal_connect (self->playback, "error", G_CALLBACK (on_playback_error), self);
  /* What the speaker plays is what the microphone may hear again. */
  if (self->echo_processing != NULL)
    confab_audio_playback_set_echo_reference (self->playback, self->echo_processing);
  return TRUE;
}

void
confab_playout_stop (ConfabPlayout *self)
{
  g_return_if_fail (CONFAB_IS_PLAYOUT (self));
  stop_draining (self);
  if (self->playback == NULL)
    return;
  g_signal_handlers_disconnect_by_data (self->playback, self);
  g_clear_object (&self->playback);
  g_clear_object (&self->pipewire);
}

gboolean
confab_playout_set_target (ConfabPlayout *self, const char *target, GError **error)
{
  g_autoptr (ConfabPipewire) pipewire = NULL;

  g_return_val_if_fail (CONFAB_IS_PLAYOUT (self), FALSE);
  if (target != NULL && target[0] == '\0')
    target = NULL;
  if (g_strcmp0 (target, self->target) == 0)
    return TRUE;
  g_free (self->target);
  self->target = g_strdup (target);
  if (self->playback == NULL)
    return TRUE;
  /* A new stream on the new device (its target.object is fixed when it
   * connects); the peers' jitter buffers keep their audio across the few
   * milliseconds between the two. */
  pipewire = g_object_ref (self->pipewire);
  confab_playout_stop (self);
  if (!confab_playout_start (self, pipewire, error))
    return FALSE;
  g_debug ("Speaker now %s", target != NULL ? target : "the default");
  return TRUE;
}

gboolean
confab_playout_is_playing (ConfabPlayout *self)
{
  g_return_val_if_fail (CONFAB_IS_PLAYOUT (self), FALSE);
  return self->playback != NULL;
}

ConfabAudioPlayback *
confab_playout_get_playback (ConfabPlayout *self)
{
  g_return_val_if_fail (CONFAB_IS_PLAYOUT (self), NULL);
  return self->playback;
}

static void
confab_playout_dispose (GObject *object)
{
  ConfabPlayout *self = CONFAB_PLAYOUT (object);

  confab_playout_stop (self);
  g_clear_object (&self->call);
  g_clear_object (&self->pipewire);
  G_OBJECT_CLASS (confab_playout_parent_class)->dispose (object);
}

static void
confab_playout_finalize (GObject *object)
{
  ConfabPlayout *self = CONFAB_PLAYOUT (object);

  g_clear_pointer (&self->echo_processing, confab_audio_processing_unref);
  g_free (self->target);
  G_OBJECT_CLASS (confab_playout_parent_class)->finalize (object);
}

static void
confab_playout_class_init (ConfabPlayoutClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = confab_playout_dispose;
  object_class->finalize = confab_playout_finalize;
  signals[SIGNAL_ERROR] =
      g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, G_TYPE_ERROR | G_SIGNAL_TYPE_STATIC_SCOPE);
}

static void
confab_playout_init (ConfabPlayout *self)
{
}
