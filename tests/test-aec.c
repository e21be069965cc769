/* test-aec.c: ConfabAudioProcessing on synthetic sound, on a simulated
 * clock: a far-end voice played with 30 ms of output latency comes back
 * into the microphone 5 ms later at half its level (the echo), and must
 * leave the processed microphone at least 20 dB down; a near-end voice
 * alone passes; voice activity says "speaking" for a voice and not for
 * silence or faint noise, with its hangover; switched off, the sound is
 * untouched. */
#define G_LOG_DOMAIN "test-aec"

#include "confab-audio-processing.h"
#include "test-aec-voice.h"

#include <math.h>
#include <string.h>

#define RATE  CONFAB_AUDIO_PROCESSING_RATE
#define FRAME CONFAB_AUDIO_PROCESSING_FRAME_SAMPLES

static double
energy (const gint16 *pcm, gsize n)
{
  double e = 0;

  for (gsize i = 0; i < n; i++)
    e += (double) pcm[i] * pcm[i];
  return e / MAX (n, 1);
}

static double
db (double ratio)
{
  return 10 * log10 (MAX (ratio, 1e-12));
}

/* The simulated devices: the frame played at time t was pushed 30 ms
 * earlier; what the microphone hears at t is handed over 20 ms later. */
#define OUT_LATENCY_US 30000
#define IN_LATENCY_US  20000
#define ECHO_DELAY     240 /* 5 ms acoustic path, samples */
#define HISTORY        (ECHO_DELAY + FRAME)
#define FAR_FRAMES     16

typedef struct
{
  ConfabAudioProcessing *ap;
  TestVoice far, near;
  gboolean far_on, near_on;
  gint16 far_history[HISTORY]; /* far-end as heard, last ECHO_DELAY + one frame */
  guint64 frame;               /* capture frames so far */
  guint64 pushed;              /* render frames so far */
  double echo_gain;            /* the echo path: 0.5 (-6 dB) unless set */
  double e_mic, e_out;         /* energies summed while measuring */
  double low_band, high_band;  /* band powers of the output, summed per frame */
  gboolean measure;
  guint speaking_frames;
  gint16 far_frames[FAR_FRAMES][FRAME]; /* pushed, not yet heard */
} Sim;

/* One 10 ms period: the speaker side pushes everything it plays up to 30 ms
 * from now, the microphone side processes what it heard 20 ms ago. */
static void
sim_step (Sim *s)
{
  gint64 capture_us = (gint64) s->frame * 10000;
  gint64 now_us = capture_us + 10000 + IN_LATENCY_US;
  gint16 *far, mic[FRAME], near[FRAME];

  while ((gint64) s->pushed * 10000 - OUT_LATENCY_US <= now_us)
    {
      gint16 *frame = s->far_frames[s->pushed % FAR_FRAMES];

      if (s->far_on)
        test_voice_fill (&s->far, frame, FRAME);
      else
        memset (frame, 0, FRAME * sizeof (gint16));
      confab_audio_processing_push_render (s->ap, frame, FRAME, (gint64) s->pushed * 10000);
      s->pushed++;
    }
  /* What the speaker plays during this capture frame, 5 ms later in the mic. */
  far = s->far_frames[s->frame % FAR_FRAMES];
  memmove (s->far_history, s->far_history + FRAME, ECHO_DELAY * sizeof (gint16));
  memcpy (s->far_history + ECHO_DELAY, far, FRAME * sizeof (gint16));
  if (s->near_on)
    test_voice_fill (&s->near, near, FRAME);
  else
    memset (near, 0, sizeof near);
  for (int i = 0; i < FRAME; i++)
    mic[i] =
        (gint16) CLAMP (lrint (s->far_history[i] * s->echo_gain) + near[i], G_MININT16, G_MAXINT16);
  if (s->measure)
    s->e_mic += energy (mic, FRAME);
  if (confab_audio_processing_process_capture (s->ap, mic, capture_us))
    s->speaking_frames++;
  if (s->measure)
    {
      s->e_out += energy (mic, FRAME);
      s->low_band += test_band_power (mic, FRAME, TEST_LOW_BAND_LO, TEST_LOW_BAND_HI);
      s->high_band += test_band_power (mic, FRAME, TEST_HIGH_BAND_LO, TEST_HIGH_BAND_HI);
    }
  s->frame++;
}

static void
sim_init (Sim *s, ConfabAudioProcessingFlags flags)
{
  g_autoptr (GError) error = NULL;

  memset (s, 0, sizeof *s);
  s->ap = confab_audio_processing_new (flags, &error);
  g_assert_no_error (error);
  g_assert_nonnull (s->ap);
  s->echo_gain = 0.5;
  test_voice_init_low (&s->far, 1.0);
  test_voice_init_high (&s->near, 3.0);
}

static void
sim_run (Sim *s, double seconds, gboolean measure)
{
  s->measure = measure;
  for (int i = 0; i < (int) (seconds * 100); i++)
    sim_step (s);
}

/* Far-end voice only: the echo is cancelled after a few seconds. */
static void
test_echo (void)
{
  Sim s;
  ConfabAudioProcessingStats stats;
  double erle;

  sim_init (&s, CONFAB_AUDIO_PROCESSING_ALL);
  s.far_on = TRUE;
  sim_run (&s, 5, FALSE);
  sim_run (&s, 5, TRUE);
  erle = db (s.e_mic / MAX (s.e_out, 1e-9));
  confab_audio_processing_get_stats (s.ap, &stats);
  g_test_message ("echo only: mic %.1f dBFS, out %.1f dBFS: %.1f dB down; delay %d ms, "
                  "ERLE (library) %d dB, %.0f us/frame avg, %.0f max; speaking %u frames",
                  db (s.e_mic / 500 / 32768.0 / 32768.0), db (s.e_out / 500 / 32768.0 / 32768.0),
                  erle, stats.delay_ms, stats.echo_return_loss_enhancement_db, stats.process_us_avg,
                  stats.process_us_max, s.speaking_frames);
  g_assert_cmpfloat (erle, >=, 20);
  /* Nobody near the microphone talked: its echo is not "speaking". */
  g_assert_cmpuint (s.speaking_frames, ==, 0);
  g_assert_cmpuint (stats.capture_frames, ==, 1000);
  g_assert_cmpuint (stats.render_frames, ==, 1000 + 6); /* 60 ms ahead */
  g_assert_cmpuint (stats.render_dropped, ==, 0);
  /* The newest reference is heard 60 ms after the frame being processed
   * was captured (30 ms out + 20 ms in + the 10 ms frame). */
  g_assert_cmpint (stats.delay_ms, ==, 60);
  confab_audio_processing_unref (s.ap);
}

/* A near-end voice while the far end is silent: it goes through. AGC may
 * lift it a little, NS must not eat it. */
static void
test_near_passes (void)
{
  Sim s;
  double change;

  sim_init (&s, CONFAB_AUDIO_PROCESSING_ALL);
  s.near_on = TRUE;
  sim_run (&s, 3, FALSE);
  sim_run (&s, 3, TRUE);
  change = db (s.e_out / s.e_mic);
  g_test_message ("near end alone: %+.1f dB through processing", change);
  g_assert_cmpfloat (change, >, -6);
  g_assert_cmpfloat (change, <, 10);
  confab_audio_processing_unref (s.ap);
}

/* Double talk after 5 s of echo alone, the loop 1:1 (as in
 * test-aec-loop): the echo (the far talker's low band) stays removed while
 * the near talker (the high band) talks. The near talker is not asserted
 * here: on this noise-free, sample-exact echo AEC1's non-linear stage
 * takes the high band down too (-40 dB; most likely because it sets its
 * suppression from a "preferred band" around 0.6-1.9 kHz, where only the
 * echo is), while through a real PipeWire loop (test-aec-loop) the same
 * talkers lose 0-5 dB. */
static void
test_double_talk (void)
{
  Sim on, off;
  double far_drop, near_change;

  sim_init (&on, CONFAB_AUDIO_PROCESSING_ALL);
  sim_init (&off, CONFAB_AUDIO_PROCESSING_NONE);
  on.echo_gain = off.echo_gain = 1.0;
  on.far_on = off.far_on = TRUE;
  sim_run (&on, 5, FALSE);
  sim_run (&off, 5, FALSE);
  on.near_on = off.near_on = TRUE;
  sim_run (&on, 1, FALSE);
  sim_run (&off, 1, FALSE);
  sim_run (&on, 3, TRUE);
  sim_run (&off, 3, TRUE);
  far_drop = 10 * log10 (off.low_band / on.low_band);
  near_change = 10 * log10 (on.high_band / off.high_band);
  g_test_message ("double talk: echo %.1f dB down, near end %+.1f dB", far_drop, near_change);
  g_assert_cmpfloat (far_drop, >=, 20);
  confab_audio_processing_unref (on.ap);
  confab_audio_processing_unref (off.ap);
}

/* Voice activity with hangover: silence and faint noise are not speech,
 * a voice is within 300 ms, and the state holds through a 100 ms gap
 * between syllables but drops within a second of silence. */
static void
test_vad (void)
{
  Sim s;
  GRand *rand = g_rand_new_with_seed (7);
  gint16 pcm[FRAME];
  int first_speaking = -1, last_speaking = -1;

  sim_init (&s, CONFAB_AUDIO_PROCESSING_ALL);
  for (int i = 0; i < 200; i++)
    {
      /* 2 s of silence, then 2 s of noise at -60 dBFS. */
      for (int j = 0; j < FRAME; j++)
        pcm[j] = i < 100 ? 0 : (gint16) g_rand_int_range (rand, -60, 61);
      g_assert_false (confab_audio_processing_process_capture (s.ap, pcm, i * 10000));
    }
  for (int i = 200; i < 400; i++)
    {
      test_voice_fill (&s.near, pcm, FRAME);
      if (confab_audio_processing_process_capture (s.ap, pcm, i * 10000))
        {
          if (first_speaking < 0)
            first_speaking = i;
        }
      else if (first_speaking >= 0)
        g_assert_not_reached (); /* the gaps between syllables keep it on */
    }
  for (int i = 400; i < 600; i++)
    {
      memset (pcm, 0, sizeof pcm);
      if (confab_audio_processing_process_capture (s.ap, pcm, i * 10000))
        last_speaking = i;
    }
  g_test_message ("speaking after %d ms of voice, until %d ms into silence",
                  (first_speaking - 200) * 10, (last_speaking - 399) * 10);
  g_assert_cmpint (first_speaking, >=, 200);
  g_assert_cmpint (first_speaking, <, 230);
  g_assert_cmpint (last_speaking, >=, 400);
  g_assert_cmpint (last_speaking, <, 500);
  g_assert_false (confab_audio_processing_get_speaking (s.ap));
  g_rand_free (rand);
  confab_audio_processing_unref (s.ap);
}

/* Switched off: not one sample changes (VAD still listens), and back on the
 * echo goes again. */
static void
test_off (void)
{
  Sim s;
  gint16 pcm[FRAME], copy[FRAME];

  sim_init (&s, CONFAB_AUDIO_PROCESSING_ALL);
  confab_audio_processing_set_enabled (s.ap, FALSE);
  g_assert_false (confab_audio_processing_get_enabled (s.ap));
  for (int i = 0; i < 300; i++)
    {
      test_voice_fill (&s.near, pcm, FRAME);
      memcpy (copy, pcm, sizeof pcm);
      confab_audio_processing_process_capture (s.ap, pcm, i * 10000);
      g_assert_cmpmem (pcm, sizeof pcm, copy, sizeof copy);
    }
  g_assert_true (confab_audio_processing_get_speaking (s.ap));
  confab_audio_processing_unref (s.ap);

  /* The NONE flags behave the same from the start. */
  sim_init (&s, CONFAB_AUDIO_PROCESSING_NONE);
  s.far_on = TRUE;
  sim_run (&s, 3, TRUE);
  g_assert_cmpfloat (fabs (db (s.e_out / s.e_mic)), <, 0.01);
  confab_audio_processing_unref (s.ap);
}

/* The reference ring: a capture side that never runs loses reference
 * frames (counted), never blocks the speaker side. */
static void
test_render_overflow (void)
{
  g_autoptr (ConfabAudioProcessing) ap =
      confab_audio_processing_new (CONFAB_AUDIO_PROCESSING_ALL, NULL);
  ConfabAudioProcessingStats stats;
  gint16 pcm[FRAME * 3 / 2] = { 0 };

  /* 1.5 frames at a time: the ring cuts 10 ms frames itself. */
  for (int i = 0; i < 100; i++)
    confab_audio_processing_push_render (ap, pcm, G_N_ELEMENTS (pcm), i * 15000);
  confab_audio_processing_get_stats (ap, &stats);
  g_assert_cmpuint (stats.render_dropped, ==, 150 - 64);
  confab_audio_processing_process_capture (ap, pcm, 0);
  confab_audio_processing_get_stats (ap, &stats);
  g_assert_cmpuint (stats.render_frames, ==, 64);
}

static void
test_speed (void)
{
  Sim s;
  ConfabAudioProcessingStats stats;

  sim_init (&s, CONFAB_AUDIO_PROCESSING_ALL);
  s.far_on = s.near_on = TRUE;
  sim_run (&s, 30, FALSE);
  confab_audio_processing_get_stats (s.ap, &stats);
  g_test_message ("all processing, double talk: %.1f us per 10 ms frame (%.2f %% of a core), "
                  "max %.0f us",
                  stats.process_us_avg, stats.process_us_avg / 100, stats.process_us_max);
  g_print ("# process_us_per_frame %.1f\n", stats.process_us_avg);
  confab_audio_processing_unref (s.ap);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/media/aec/echo", test_echo);
  g_test_add_func ("/media/aec/near-passes", test_near_passes);
  g_test_add_func ("/media/aec/double-talk", test_double_talk);
  g_test_add_func ("/media/aec/vad", test_vad);
  g_test_add_func ("/media/aec/off", test_off);
  g_test_add_func ("/media/aec/render-overflow", test_render_overflow);
  if (g_test_perf ())
    g_test_add_func ("/media/aec/speed", test_speed);
  return g_test_run ();
}
