/* confab-audio-processing.cc: the C API over webrtc::AudioProcessing (0.3).
 * The only C++ in Confab: it stays in this file.
 *
 * Threads. The 0.3 header's contract is that the stream setters
 * (set_stream_delay_ms) and getters (stream_has_voice) run on the
 * ProcessStream() thread, and that a setting's getter never races its
 * setter. Rather than lean on the library's internal lock (it would make
 * the speaker's thread wait for a whole capture frame's processing), every
 * library call happens on the capture thread: the render side only copies
 * 10 ms frames, with the time they will be heard, into a lock-free
 * single-producer single-consumer ring, and the capture side analyses
 * whatever arrived just before it processes its own frame. Enabling and
 * disabling is an atomic flag the capture side applies. Nothing allocates
 * per frame. */
#define G_LOG_DOMAIN "confab-audio-processing"

#include "confab-audio-processing.h"

#include <atomic>
#include <string.h>
#include <webrtc/modules/audio_processing/include/audio_processing.h>
#include <webrtc/modules/interface/module_common_types.h>

#define FRAME CONFAB_AUDIO_PROCESSING_FRAME_SAMPLES
/* 640 ms of reference: far more than one capture period can lag behind. */
#define RENDER_SLOTS 64
/* Speaking: on once half of the last 100 ms was voice, off after 500 ms
 * without any (a pause between words keeps it on). A voice frame must also
 * be louder than -50 dBFS after processing (-45 while the AEC says the
 * frame may hold echo): WebRTC's VAD barely looks at the level and calls a
 * cancelled echo's faint residue (and the AEC's comfort noise) voice most
 * of the time. */
#define VOICE_WINDOW         10
#define VOICE_ATTACK         5
#define VOICE_HANGOVER       50
#define VOICE_MIN_POWER      (32768.0 * 32768.0 * 1e-5)    /* -50 dBFS, mean square */
#define VOICE_MIN_POWER_ECHO (32768.0 * 32768.0 * 3.16e-5) /* -45 dBFS */
#define MAX_DELAY_MS         500
/* Microphone frames held back before the canceller sees them, when the
 * reference does not lead the microphone by HOLD_BELOW_MS (see
 * confab_audio_processing_process_capture()). */
#define CAPTURE_HOLD  2
#define HOLD_BELOW_MS 20
#define ALIGN_PERIOD  100 /* capture frames: 1 s */
#define ALIGN_SLACK   3   /* frames: 30 ms */

GQuark
confab_audio_processing_error_quark (void)
{
  return g_quark_from_static_string ("confab-audio-processing-error-quark");
}

namespace
{
struct RenderSlot
{
  gint64 play_time_us; /* when its first sample is heard */
  gint16 pcm[FRAME];
};
} // namespace

struct _ConfabAudioProcessing
{
  std::atomic<int> refs;
  ConfabAudioProcessingFlags flags;
  webrtc::AudioProcessing *apm;

  /* Render thread (producer) */
  gint16 staging[FRAME];
  gsize staging_fill;
  gint64 staging_time_us;
  gint64 next_play_us;                /* where the next sample follows on */
  std::atomic<gint64> render_jump_us; /* largest |jump| since the last debug line */

  /* Shared: the ring, written by the render thread, read by the capture thread */
  RenderSlot *slots;
  std::atomic<guint32> write_pos;
  std::atomic<guint32> read_pos;
  std::atomic<guint64> render_dropped;
  std::atomic<int> wanted_enabled;
  std::atomic<int> speaking;

  /* Capture thread */
  gint16 held[CAPTURE_HOLD + 1][FRAME]; /* the last frames in, newest at held_next - 1 */
  guint held_next;
  guint hold; /* 0 or CAPTURE_HOLD, chosen with the first reference */
  gboolean hold_chosen;
  webrtc::AudioFrame *capture_frame;
  webrtc::AudioFrame *render_frame;
  gboolean applied_enabled;
  gboolean have_render;
  guint64 render_analysed;
  /* keep_aligned() */
  guint align_frames;
  gint64 align_min, align_max, align_base;
  gboolean align_based;
  guint align_skip, align_silence;
  guint64 align_skipped, align_inserted;
  gint64 last_render_play_us;
  guint frames_since_metrics;
  /* For the once-a-second debug line: how unevenly the two sides arrived */
  gint64 last_capture_us;
  guint max_render_burst;
  int min_delay_ms, max_delay_ms;
  gint64 max_capture_jump_us;
  guint32 voice_history;
  int hangover;

  /* Capture thread writes, anyone reads */
  GMutex stats_lock;
  ConfabAudioProcessingStats stats;
  double process_us_total;
};

/* Turns the sound-changing components on or off (capture thread, or before
 * the first frame). Voice activity stays on. */
static int
apply_enabled (ConfabAudioProcessing *self, gboolean enabled)
{
  webrtc::AudioProcessing *apm = self->apm;
  ConfabAudioProcessingFlags f = enabled ? self->flags : CONFAB_AUDIO_PROCESSING_NONE;
  int err = 0;

  err |= apm->echo_cancellation ()->Enable ((f & CONFAB_AUDIO_PROCESSING_ECHO_CANCEL) != 0);
  err |= apm->noise_suppression ()->Enable ((f & CONFAB_AUDIO_PROCESSING_NOISE_SUPPRESSION) != 0);
  err |= apm->high_pass_filter ()->Enable ((f & CONFAB_AUDIO_PROCESSING_NOISE_SUPPRESSION) != 0);
  err |= apm->gain_control ()->Enable ((f & CONFAB_AUDIO_PROCESSING_GAIN_CONTROL) != 0);
  self->applied_enabled = enabled;
  return err;
}

static void
processing_free (ConfabAudioProcessing *self)
{
  delete self->apm;
  delete self->capture_frame;
  delete self->render_frame;
  g_free (self->slots);
  g_mutex_clear (&self->stats_lock);
  delete self;
}

ConfabAudioProcessing *
confab_audio_processing_new (ConfabAudioProcessingFlags flags, GError **error)
{
  ConfabAudioProcessing *self = new ConfabAudioProcessing ();
  webrtc::Config config;
  webrtc::AudioProcessing *apm;
  int err = 0;

  self->refs = 1;
  self->flags = flags;
  self->slots = g_new0 (RenderSlot, RENDER_SLOTS);
  self->capture_frame = new webrtc::AudioFrame ();
  self->render_frame = new webrtc::AudioFrame ();
  self->wanted_enabled = TRUE;
  self->stats.echo_return_loss_enhancement_db = -100;
  self->stats.echo_delay_median_ms = -1;
  self->stats.echo_delay_std_ms = -1;
  self->min_delay_ms = G_MAXINT;
  self->align_min = G_MAXINT64;
  self->align_max = G_MININT64;
  g_mutex_init (&self->stats_lock);

  /* The 128 ms filter and the internal delay estimate: PipeWire's reported
   * latencies are good, but a graph change (another quantum, a Bluetooth
   * device) moves the real delay. The "experimental" AGC would steer an
   * analog volume we do not have: plain adaptive digital instead. */
  config.Set<webrtc::ExtendedFilter> (new webrtc::ExtendedFilter (true));
  config.Set<webrtc::DelayAgnostic> (new webrtc::DelayAgnostic (true));
  config.Set<webrtc::ExperimentalAgc> (new webrtc::ExperimentalAgc (false));
  apm = self->apm = webrtc::AudioProcessing::Create (config);
  if (apm == NULL)
    {
      g_set_error (error, CONFAB_AUDIO_PROCESSING_ERROR, CONFAB_AUDIO_PROCESSING_ERROR_INIT,
                   "Cannot create the audio processing");
      processing_free (self);
      return NULL;
    }
  err |= apm->Initialize (CONFAB_AUDIO_PROCESSING_RATE, CONFAB_AUDIO_PROCESSING_RATE,
                          CONFAB_AUDIO_PROCESSING_RATE, webrtc::AudioProcessing::kMono,
                          webrtc::AudioProcessing::kMono, webrtc::AudioProcessing::kMono);
  /* Both streams come from one PipeWire graph, resampled to its clock: no drift. */
  err |= apm->echo_cancellation ()->enable_drift_compensation (false);
  /* "moderate", not "high": in the real loop (aec-loop) high ducked the near
   * talker by 5-10 dB while both talked, moderate by 0-4 dB, and the echo
   * still goes 42-47 dB down alone, 31-38 dB while both talk. */
  err |=
      apm->echo_cancellation ()->set_suppression_level (webrtc::EchoCancellation::kLowSuppression);
  err |= apm->echo_cancellation ()->enable_metrics (true);
  err |= apm->echo_cancellation ()->enable_delay_logging (true);
  err |= apm->noise_suppression ()->set_level (webrtc::NoiseSuppression::kHigh);
  err |= apm->gain_control ()->set_mode (webrtc::GainControl::kAdaptiveDigital);
  err |= apm->gain_control ()->set_target_level_dbfs (3);
  err |= apm->gain_control ()->set_compression_gain_db (9);
  err |= apm->gain_control ()->enable_limiter (true);
  err |= apm->voice_detection ()->set_likelihood (webrtc::VoiceDetection::kLowLikelihood);
  err |= apm->voice_detection ()->set_frame_size_ms (10);
  err |= apm->voice_detection ()->Enable (true);
  err |= apply_enabled (self, TRUE);
  if (err != 0)
    {
      g_set_error (error, CONFAB_AUDIO_PROCESSING_ERROR, CONFAB_AUDIO_PROCESSING_ERROR_INIT,
                   "The audio processing refused its settings");
      processing_free (self);
      return NULL;
    }
  return self;
}

ConfabAudioProcessing *
confab_audio_processing_ref (ConfabAudioProcessing *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  self->refs.fetch_add (1, std::memory_order_relaxed);
  return self;
}

void
confab_audio_processing_unref (ConfabAudioProcessing *self)
{
  g_return_if_fail (self != NULL);
  if (self->refs.fetch_sub (1, std::memory_order_acq_rel) == 1)
    processing_free (self);
}

/* ---- render side: copy only ------------------------------------------------------------ */

static void
push_slot (ConfabAudioProcessing *self)
{
  guint32 w = self->write_pos.load (std::memory_order_relaxed);
  guint32 r = self->read_pos.load (std::memory_order_acquire);
  RenderSlot *slot;

  if (w - r >= RENDER_SLOTS)
    {
      /* The capture side is not running (or far behind): nothing echoes
       * what it never analyses, so drop this frame. */
      self->render_dropped.fetch_add (1, std::memory_order_relaxed);
      return;
    }
  slot = &self->slots[w % RENDER_SLOTS];
  slot->play_time_us = self->staging_time_us;
  memcpy (slot->pcm, self->staging, sizeof slot->pcm);
  self->write_pos.store (w + 1, std::memory_order_release);
}

/* Cuts @n samples (silence when @pcm is NULL), the first heard at
 * @play_time_us, into 10 ms slots. */
static void
stage (ConfabAudioProcessing *self, const gint16 *pcm, gsize n, gint64 play_time_us)
{
  gsize done = 0;

  while (done < n)
    {
      gsize take = MIN (n - done, FRAME - self->staging_fill);

      if (self->staging_fill == 0)
        self->staging_time_us =
            play_time_us + (gint64) done * G_USEC_PER_SEC / CONFAB_AUDIO_PROCESSING_RATE;
      if (pcm != NULL)
        memcpy (self->staging + self->staging_fill, pcm + done, take * sizeof (gint16));
      else
        memset (self->staging + self->staging_fill, 0, take * sizeof (gint16));
      self->staging_fill += take;
      done += take;
      if (self->staging_fill == FRAME)
        {
          push_slot (self);
          self->staging_fill = 0;
        }
    }
}

void
confab_audio_processing_push_render (ConfabAudioProcessing *self,
                                     const gint16 *pcm,
                                     gsize n_samples,
                                     gint64 play_time_us)
{
  /* For the debug line: the speaker's times run on to the microsecond
   * from one buffer to the next, unless the graph ran dry while PipeWire's
   * thread was late (a loaded machine) and the device played silence the
   * reference never had. Filling such gaps with silence was tried and did
   * not make the echo loop measurably better under load. */
  if (self->next_play_us != 0)
    {
      gint64 gap = play_time_us - self->next_play_us;

      if (ABS (gap) > self->render_jump_us.load (std::memory_order_relaxed))
        self->render_jump_us.store (ABS (gap), std::memory_order_relaxed);
    }
  stage (self, pcm, n_samples, play_time_us);
  self->next_play_us =
      play_time_us + (gint64) n_samples * G_USEC_PER_SEC / CONFAB_AUDIO_PROCESSING_RATE;
}

/* ---- capture side: every library call ------------------------------------------------- */

static void
fill_frame (webrtc::AudioFrame *frame, const gint16 *pcm)
{
  frame->UpdateFrame (0, 0, pcm, FRAME, CONFAB_AUDIO_PROCESSING_RATE,
                      webrtc::AudioFrame::kNormalSpeech, webrtc::AudioFrame::kVadUnknown, 1);
}

/* Analyses every reference frame that arrived since the last capture frame
 * (after the alignment's skips and silent frames, see keep_aligned()). */
static guint
drain_render (ConfabAudioProcessing *self)
{
  guint32 r = self->read_pos.load (std::memory_order_relaxed);
  guint32 w = self->write_pos.load (std::memory_order_acquire);
  guint n = 0;

  for (; self->align_silence > 0; self->align_silence--, n++)
    {
      static const gint16 silence[FRAME] = { 0 };

      fill_frame (self->render_frame, silence);
      self->apm->AnalyzeReverseStream (self->render_frame);
    }
  for (; r != w && self->align_skip > 0; r++, self->align_skip--)
    self->read_pos.store (r + 1, std::memory_order_release);
  for (; r != w; r++, n++)
    {
      RenderSlot *slot = &self->slots[r % RENDER_SLOTS];

      fill_frame (self->render_frame, slot->pcm);
      self->last_render_play_us = slot->play_time_us;
      self->read_pos.store (r + 1, std::memory_order_release);
      self->apm->AnalyzeReverseStream (self->render_frame);
    }
  if (n > 0)
    self->have_render = TRUE;
  self->render_analysed += n;
  return n;
}

/* Both streams run on one graph clock, so the reference frames analysed
 * and the capture frames processed should advance together, apart from
 * bursts when PipeWire's thread was late. A lasting difference means one
 * side lost frames (a capture buffer PipeWire dropped while we were late:
 * seen growing to 34 frames within 8 s in the app on a loaded machine); the
 * canceller then sees the echo that much out of place and lets it through
 * until its own delay estimate catches up. So once a second, if the whole
 * last second stayed off the first second's offset by ALIGN_SLACK frames or
 * more, the reference is brought back: its surplus frames are skipped, a
 * shortfall is made up with silence. Bursts (either side briefly ahead)
 * never last a second and are left alone. */
static void
keep_aligned (ConfabAudioProcessing *self)
{
  guint32 pending = self->write_pos.load (std::memory_order_acquire) -
                    self->read_pos.load (std::memory_order_relaxed);
  gint64 offset = (gint64) (self->render_analysed + pending) - (gint64) self->stats.capture_frames;

  if (!self->have_render)
    return;
  self->align_min = MIN (self->align_min, offset);
  self->align_max = MAX (self->align_max, offset);
  if (++self->align_frames < ALIGN_PERIOD)
    return;
  if (!self->align_based)
    {
      self->align_base = self->align_min;
      self->align_based = TRUE;
    }
  else if (self->align_min - self->align_base >= ALIGN_SLACK)
    {
      self->align_skip += (guint) (self->align_min - self->align_base);
      self->align_skipped += (guint) (self->align_min - self->align_base);
    }
  else if (self->align_max - self->align_base <= -ALIGN_SLACK)
    {
      self->align_silence += (guint) (self->align_base - self->align_max);
      self->align_inserted += (guint) (self->align_base - self->align_max);
    }
  self->align_frames = 0;
  self->align_min = G_MAXINT64;
  self->align_max = G_MININT64;
}

static double
frame_power (const gint16 *pcm)
{
  double sum = 0;

  for (int i = 0; i < FRAME; i++)
    sum += (double) pcm[i] * pcm[i];
  return sum / FRAME;
}

static gboolean
update_speaking (ConfabAudioProcessing *self, gboolean voice)
{
  gboolean speaking = self->speaking.load (std::memory_order_relaxed);

  self->voice_history = ((self->voice_history << 1) | (voice ? 1 : 0)) & ((1u << VOICE_WINDOW) - 1);
  if (voice)
    {
      guint n = 0;

      for (guint32 h = self->voice_history; h != 0; h &= h - 1)
        n++;
      if (speaking || n >= VOICE_ATTACK)
        {
          speaking = TRUE;
          self->hangover = VOICE_HANGOVER;
        }
    }
  else if (speaking && --self->hangover <= 0)
    speaking = FALSE;
  self->speaking.store (speaking, std::memory_order_relaxed);
  return speaking;
}

gboolean
confab_audio_processing_process_capture (ConfabAudioProcessing *self,
                                         gint16 *frame,
                                         gint64 capture_time_us)
{
  webrtc::AudioProcessing *apm = self->apm;
  gint64 t0 = g_get_monotonic_time (), spent;
  gboolean enabled = self->wanted_enabled.load (std::memory_order_relaxed);
  guint analysed;
  gboolean voice, speaking;
  int delay_ms = 0, erle_db = G_MININT, delay_median = -1, delay_std = -1;

  if (enabled != self->applied_enabled)
    apply_enabled (self, enabled);
  keep_aligned (self);
  analysed = drain_render (self);

  /* webrtc's definition: (t_render - t_analyze) + (t_process - t_capture);
   * the reference was analysed just now, so this is how long after our
   * frame was captured the newest reference frame will be heard. */
  if (self->have_render)
    delay_ms = (int) CLAMP ((self->last_render_play_us - capture_time_us) / 1000, 0, MAX_DELAY_MS);
  apm->set_stream_delay_ms (delay_ms);
  /* AEC1 compares each microphone frame with reference analysed at least
   * ~10 ms before it (its far-end buffer never runs below one frame) and
   * its own delay estimate cannot move the reference later than that. When
   * the echo reaches the microphone as soon as the reference is analysed
   * (a loopback or a virtual device in one PipeWire cycle: we tell it 0-5
   * ms), the echo looked non-causal to it (its estimate -12 to -20 ms, all
   * "poor") and it let most of the echo through (app-aec). Holding the
   * microphone back two frames puts that echo inside its filter, at the
   * price of 20 ms more latency; chosen once, with the first reference. */
  if (self->have_render && !self->hold_chosen)
    {
      self->hold = delay_ms < HOLD_BELOW_MS ? CAPTURE_HOLD : 0;
      self->hold_chosen = TRUE;
    }
  memcpy (self->held[self->held_next], frame, sizeof self->held[0]);
  if (enabled)
    fill_frame (self->capture_frame,
                self->held[(self->held_next + CAPTURE_HOLD + 1 - self->hold) % (CAPTURE_HOLD + 1)]);
  else
    fill_frame (self->capture_frame, frame);
  self->held_next = (self->held_next + 1) % (CAPTURE_HOLD + 1);
  apm->ProcessStream (self->capture_frame);
  /* Off means untouched, whatever the library did with a VAD-only chain. */
  if (enabled)
    memcpy (frame, self->capture_frame->data_, FRAME * sizeof (gint16));
  /* While the AEC says this frame may hold echo, what is left of it must
   * not count: 5 dB more is asked of a voice then. */
  voice = apm->voice_detection ()->stream_has_voice () &&
          frame_power (self->capture_frame->data_) >
              (enabled && apm->echo_cancellation ()->is_enabled () &&
                       apm->echo_cancellation ()->stream_has_echo ()
                   ? VOICE_MIN_POWER_ECHO
                   : VOICE_MIN_POWER);
  speaking = update_speaking (self, voice);
  self->max_render_burst = MAX (self->max_render_burst, analysed);
  self->min_delay_ms = MIN (self->min_delay_ms, delay_ms);
  self->max_delay_ms = MAX (self->max_delay_ms, delay_ms);
  if (self->last_capture_us != 0)
    self->max_capture_jump_us =
        MAX (self->max_capture_jump_us, ABS (capture_time_us - self->last_capture_us - 10000));
  self->last_capture_us = capture_time_us;

  spent = g_get_monotonic_time () - t0;
  /* The library averages these itself; once a second is plenty. */
  if ((self->frames_since_metrics = (self->frames_since_metrics + 1) % 100) == 0 &&
      apm->echo_cancellation ()->is_enabled ())
    {
      webrtc::EchoCancellation::Metrics metrics;
      float poor;

      if (apm->echo_cancellation ()->GetMetrics (&metrics) == 0)
        erle_db = metrics.echo_return_loss_enhancement.average;
      apm->echo_cancellation ()->GetDelayMetrics (&delay_median, &delay_std, &poor);
      g_debug ("ERLE %d dB, AEC delay %d ms (std %d, poor %.2f); told %d-%d ms; up to %u "
               "reference frames at once; capture times jumped up to %" G_GINT64_FORMAT " us, "
               "reference times %" G_GINT64_FORMAT
               " us; reference minus capture frames so far %" G_GINT64_FORMAT
               "; alignment skipped %" G_GUINT64_FORMAT ", added %" G_GUINT64_FORMAT,
               erle_db, delay_median, delay_std, poor, self->min_delay_ms, self->max_delay_ms,
               self->max_render_burst, self->max_capture_jump_us,
               self->render_jump_us.exchange (0, std::memory_order_relaxed),
               (gint64) (self->stats.render_frames + analysed) -
                   (gint64) (self->stats.capture_frames + 1),
               self->align_skipped, self->align_inserted);
      self->max_render_burst = 0;
      self->min_delay_ms = G_MAXINT;
      self->align_min = G_MAXINT64;
      self->align_max = G_MININT64;
      self->max_delay_ms = 0;
      self->max_capture_jump_us = 0;
    }
  g_mutex_lock (&self->stats_lock);
  self->stats.capture_frames++;
  self->stats.render_frames += analysed;
  self->stats.voice_frames += voice ? 1 : 0;
  self->stats.delay_ms = delay_ms;
  self->process_us_total += (double) spent;
  self->stats.process_us_max = MAX (self->stats.process_us_max, (double) spent);
  if (erle_db != G_MININT)
    {
      self->stats.echo_return_loss_enhancement_db = erle_db;
      self->stats.echo_delay_median_ms = delay_median;
      self->stats.echo_delay_std_ms = delay_std;
    }
  g_mutex_unlock (&self->stats_lock);
  return speaking;
}

void
confab_audio_processing_set_enabled (ConfabAudioProcessing *self, gboolean enabled)
{
  self->wanted_enabled.store (!!enabled, std::memory_order_relaxed);
}

gboolean
confab_audio_processing_get_enabled (ConfabAudioProcessing *self)
{
  return self->wanted_enabled.load (std::memory_order_relaxed);
}

gboolean
confab_audio_processing_get_speaking (ConfabAudioProcessing *self)
{
  return self->speaking.load (std::memory_order_relaxed);
}

void
confab_audio_processing_get_stats (ConfabAudioProcessing *self, ConfabAudioProcessingStats *stats)
{
  g_mutex_lock (&self->stats_lock);
  *stats = self->stats;
  stats->process_us_avg =
      self->stats.capture_frames > 0 ? self->process_us_total / self->stats.capture_frames : 0;
  g_mutex_unlock (&self->stats_lock);
  stats->render_dropped = self->render_dropped.load (std::memory_order_relaxed);
}
