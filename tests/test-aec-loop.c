/* test-aec-loop.c: echo cancellation in a real call, inside a private
 * PipeWire (tests/pipewire-env.sh). The acoustic path is a loopback this
 * test adds: whatever is played into its sink "echo-in" comes out of its
 * source "echomic", 1:1 (a speaker the microphone hears at full level,
 * worse than any laptop). Bob, the real confab-cli under test, plays the
 * call into echo-in and uses echomic as his microphone. Carol (this test,
 * a ConfabCall over the real relay) is the far end: she sends a low-pitched
 * synthetic talker and decodes what Bob sends. Bob's own talker, a
 * high-pitched one, is played into echo-in by this test too. Run once with
 * Bob's processing off and once on: the far end's echo (the low band) must
 * drop by >= 15 dB while Bob's voice (the high band) stays within a few
 * dB; Bob's heartbeats say he is speaking. Pure tones would not do: see
 * test-aec-voice.h. The test records echo-in's monitor (what Bob's
 * microphone hears), so each figure is taken against what really reached
 * the microphone, and the phases follow the audio that flowed rather than
 * the clock: on a loaded machine the call lasts longer, and no window is
 * short of audio or measured before the canceller had its echo. */
#define G_LOG_DOMAIN "test-aec-loop"

#include "confab-audio-decoder.h"
#include "confab-audio-encoder.h"
#include "confab-call.h"
#include "confab-packet.h"
#include "confab-pipewire-audio.h"
#include "confab-pipewire-devices.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-ws-transport.h"
#include "test-aec-voice.h"

#include <math.h>
#include <signal.h>
#include <string.h>

#define RATE 48000

/* ---- the acoustic path: a loopback node ------------------------------------------------ */

static gboolean
nodes_present (ConfabDeviceMonitor *monitor)
{
  return confab_device_monitor_lookup (monitor, CONFAB_DEVICE_SPEAKER, "echo-in") != NULL &&
         confab_device_monitor_lookup (monitor, CONFAB_DEVICE_MICROPHONE, "echomic") != NULL;
}

static void
on_device_added (ConfabDeviceMonitor *monitor, ConfabDevice *device, gboolean *done)
{
  *done = nodes_present (monitor);
}

/* pw-loopback with a mono sink and source; killed by the caller (and by
 * pipewire-env.sh's teardown if this test crashes). */
static GSubprocess *
echo_path_start (ConfabPipewire *pw)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabDeviceMonitor) monitor = confab_device_monitor_new (pw, &error);
  GSubprocess *loopback;
  gboolean done = FALSE;

  g_assert_no_error (error);
  loopback = g_subprocess_new (
      G_SUBPROCESS_FLAGS_NONE, &error, "pw-loopback", "--name", "echo-path", "-c", "1", "-m",
      "[ MONO ]", "--capture-props",
      "media.class=Audio/Sink node.name=echo-in node.description=Echo-path priority.session=10",
      "--playback-props", "media.class=Audio/Source node.name=echomic node.description=Echo-mic",
      NULL);
  g_assert_no_error (error);
  g_signal_connect (monitor, "device-added", G_CALLBACK (on_device_added), &done);
  done = nodes_present (monitor);
  g_assert_true (confab_test_run_until (&done, 10000));
  return loopback;
}

/* ---- Bob's own voice ------------------------------------------------------------------ */

static void
fill_talker (gint16 *pcm, gpointer data)
{
  test_voice_fill (data, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
}

/* ---- what was heard and sent, on the test's clock --------------------------------------- */

/* 20 ms chunks of audio in arrival order, each with the test's clock (s
 * since Bob was started) when it arrived. */
typedef struct
{
  GArray *pcm;     /* gint16 */
  GArray *arrival; /* double per CONFAB_AUDIO_FRAME_SAMPLES */
} Track;

static void
track_init (Track *track)
{
  track->pcm = g_array_new (FALSE, FALSE, sizeof (gint16));
  track->arrival = g_array_new (FALSE, FALSE, sizeof (double));
}

static void
track_clear (Track *track)
{
  g_clear_pointer (&track->pcm, g_array_unref);
  g_clear_pointer (&track->arrival, g_array_unref);
}

static void
track_append (Track *track, const gint16 *pcm, double t)
{
  if (track->arrival->len >= 60 * 50) /* a minute at most */
    return;
  g_array_append_vals (track->pcm, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
  g_array_append_val (track->arrival, t);
}

/* Index of the first chunk that arrived at or after @t. */
static guint
track_index (Track *track, double t)
{
  guint i = 0;

  while (i < track->arrival->len && g_array_index (track->arrival, double, i) < t)
    i++;
  return i;
}

/* Chunks that arrived since @t. */
static guint
track_count_since (Track *track, double t)
{
  return track->arrival->len - track_index (track, t);
}

/* Band power of what arrived within [@t0, @t1). */
static double
track_power (Track *track, double t0, double t1, double low, double high)
{
  guint i0 = track_index (track, t0), i1 = track_index (track, t1);

  return test_band_power ((const gint16 *) track->pcm->data + i0 * CONFAB_AUDIO_FRAME_SAMPLES,
                          (i1 - i0) * CONFAB_AUDIO_FRAME_SAMPLES, low, high);
}

/* ---- Carol: the far end, and what Bob sends -------------------------------------------- */

typedef struct
{
  double t;
  gboolean speaking;
} SpeakingChange;

typedef struct
{
  ConfabTransport *transport;
  ConfabCall *call;
  ConfabAudioEncoder *encoder;
  ConfabAudioDecoder *decoder;
  TestVoice voice;
  gint64 start_us; /* Bob started */
  guint64 sent;
  Track heard;       /* Bob's audio, decoded */
  Track mic;         /* what Bob's microphone hears: the monitor of echo-in */
  guint mic_checked; /* chunks of it looked at for Carol's voice */
  guint bob_heartbeats;
  guint bob_speaking_heartbeats;
  guint decode_errors;
  /* Bob's is_speaking over time, from his heartbeats (sent every second
   * and at once on a change), as they arrived. */
  GArray *speaking; /* SpeakingChange */
} Carol;

static double
carol_now (Carol *carol)
{
  return (g_get_monotonic_time () - carol->start_us) / 1e6;
}

/* The test's clock, seconds since Bob was started: Carol talks from 0.5
 * s. The phases then follow the audio that actually flowed, not the
 * clock, so a loaded machine (a late Bob, a PipeWire graph that loses
 * cycles) makes the call longer, never the windows emptier: */
#define SEND_START 0.5
/* the echo canceller gets this much echo at Bob's microphone first */
#define SETTLE_S 4.0
/* each measuring window holds this much audio, both at the microphone and
 * from Bob */
#define WINDOW_S 3.5
/* Bob's talker plays this long before the double-talk window */
#define TALK_LEAD_S 1.0
/* no phase may take longer than this (wall clock) */
#define PHASE_LIMIT_S 15.0
/* a 20 ms chunk louder than this at the microphone is the far end's echo */
#define ECHO_ONSET_POWER 1e-5 /* -50 dBFS */

static double
overlap (double a0, double a1, double b0, double b1)
{
  return MAX (0, MIN (a1, b1) - MAX (a0, b0));
}

/* Share of [@t0, @t1) Bob's heartbeats said he was speaking. */
static double
speaking_share (Carol *carol, double t0, double t1)
{
  double total = 0;

  for (guint i = 0; i < carol->speaking->len; i++)
    {
      SpeakingChange *change = &g_array_index (carol->speaking, SpeakingChange, i);
      double until = i + 1 < carol->speaking->len
                         ? g_array_index (carol->speaking, SpeakingChange, i + 1).t
                         : carol_now (carol);

      if (change->speaking)
        total += overlap (change->t, until, t0, t1);
    }
  return total / (t1 - t0);
}

static gboolean
from_bob (ProtobufCBinaryData *user_id)
{
  return user_id->len == 3 && memcmp (user_id->data, "bob", 3) == 0;
}

/* Straight from the wire (the call's own handlers run too). */
static void
on_packet (ConfabTransport *transport, GBytes *bytes, Carol *carol)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  ConfabPacketWrapper *wrapper = confab__packet_wrapper__unpack (NULL, len, data);
  Confab__MediaPacket *media;

  if (wrapper == NULL)
    return;
  if (wrapper->packet_type == CONFAB_PACKET_MEDIA &&
      (media = confab__media_packet__unpack (NULL, wrapper->data.len, wrapper->data.data)) != NULL)
    {
      if (from_bob (&media->user_id) && media->media_type == CONFAB_MEDIA_AUDIO)
        {
          gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];

          if (confab_audio_decoder_decode (carol->decoder, media->data.data, media->data.len, pcm,
                                           NULL))
            track_append (&carol->heard, pcm, carol_now (carol));
          else
            carol->decode_errors++;
        }
      else if (from_bob (&media->user_id) && media->media_type == CONFAB_MEDIA_HEARTBEAT &&
               media->heartbeat_metadata != NULL)
        {
          SpeakingChange change = { carol_now (carol), media->heartbeat_metadata->is_speaking };

          carol->bob_heartbeats++;
          if (change.speaking)
            carol->bob_speaking_heartbeats++;
          g_array_append_val (carol->speaking, change);
        }
      confab__media_packet__free_unpacked (media, NULL);
    }
  confab__packet_wrapper__free_unpacked (wrapper, NULL);
}

static void
on_mic_chunk (ConfabAudioCapture *capture, gpointer samples, Carol *carol)
{
  track_append (&carol->mic, samples, carol_now (carol));
}

/* Every 20 ms of wall clock, one Opus packet of Carol's talker (catching
 * up after a late wake-up, as a real sender's clock would). */
static gboolean
on_send_tick (gpointer data)
{
  Carol *carol = data;
  gint64 elapsed = g_get_monotonic_time () - carol->start_us - (gint64) (SEND_START * 1e6);
  guint64 due = elapsed < 0 ? 0 : (guint64) (elapsed / 20000) + 1;

  if (confab_call_get_session_id (carol->call) == 0)
    return G_SOURCE_CONTINUE;
  for (; carol->sent < due; carol->sent++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 packet[CONFAB_AUDIO_MAX_PACKET];
      gssize len;

      test_voice_fill (&carol->voice, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
      len = confab_audio_encoder_encode (carol->encoder, pcm, packet, sizeof packet, NULL);
      g_assert_cmpint (len, >, 0);
      confab_call_send_audio (carol->call, packet, len);
    }
  return G_SOURCE_CONTINUE;
}

/* ---- the phases ---------------------------------------------------------------------------- */

typedef gboolean (*Condition) (Carol *carol, double since);

/* Runs the main loop until @condition holds (checked whenever audio or a
 * packet arrived, i.e. every few ms) or PHASE_LIMIT_S pass; the test's
 * clock when it held. */
static double
run_phase (Carol *carol, const char *what, Condition condition, double since)
{
  double limit = carol_now (carol) + PHASE_LIMIT_S;

  while (!condition (carol, since))
    {
      if (carol_now (carol) > limit)
        g_error ("%s: not within %.0f s (%u chunks at the microphone, %u from Bob)", what,
                 PHASE_LIMIT_S, carol->mic.arrival->len, carol->heard.arrival->len);
      g_main_context_iteration (NULL, TRUE);
    }
  return carol_now (carol);
}

/* The far end's voice reached Bob's microphone: his speaker plays her. */
static gboolean
echo_heard (Carol *carol, double since)
{
  carol->mic_checked = MAX (carol->mic_checked, track_index (&carol->mic, since));
  for (; carol->mic_checked < carol->mic.arrival->len; carol->mic_checked++)
    {
      guint i = carol->mic_checked;
      const gint16 *pcm =
          (const gint16 *) carol->mic.pcm->data + (gsize) i * CONFAB_AUDIO_FRAME_SAMPLES;
      double power = 0;

      for (guint j = 0; j < CONFAB_AUDIO_FRAME_SAMPLES; j++)
        power += (pcm[j] / 32768.0) * (pcm[j] / 32768.0);
      if (power / CONFAB_AUDIO_FRAME_SAMPLES > ECHO_ONSET_POWER)
        return TRUE;
    }
  return FALSE;
}

static gboolean
mic_settled (Carol *carol, double since)
{
  return track_count_since (&carol->mic, since) >= (guint) (SETTLE_S * 50);
}

static gboolean
talker_lead (Carol *carol, double since)
{
  return track_count_since (&carol->mic, since) >= (guint) (TALK_LEAD_S * 50);
}

/* A whole window of audio at the microphone and from Bob. */
static gboolean
window_full (Carol *carol, double since)
{
  return track_count_since (&carol->mic, since) >= (guint) (WINDOW_S * 50) &&
         track_count_since (&carol->heard, since) >= (guint) (WINDOW_S * 50);
}

/* ---- measuring --------------------------------------------------------------------------- */

typedef struct
{
  /* dB re full scale, each at Bob's microphone and in what he sent */
  double mic_echo_alone, echo_alone;   /* low band while only Carol talked */
  double mic_echo_double, echo_double; /* the same while both talked */
  double mic_near_double, near_double; /* high band while both talked */
  double windows[4];                   /* echo alone, both talking: [t0, t1) each */
  guint speaking_heartbeats, heartbeats;
  double speaking_echo, speaking_talk; /* fraction of each window Bob was "speaking" */
  double process_us_avg;
  int erle_db, delay_ms, aec_delay_ms;
} LoopResult;

static double
db (double power)
{
  return 10 * log10 (MAX (power, 1e-15));
}

/* One call; @processing: Bob's microphone processing on or off. */
static void
run_loop (gboolean processing, LoopResult *result)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (ConfabPipewire) pw = confab_pipewire_new (-1, &error);
  g_autofree char *room = confab_test_unique_room ("echo");
  g_autofree char *bob_url = g_strdup_printf ("%s/lobby/bob/%s", relay->ws_base, room);
  g_autofree char *carol_url = g_strdup_printf ("%s/lobby/carol/%s", relay->ws_base, room);
  g_autoptr (GSubprocess) loopback = NULL;
  g_autoptr (ConfabAudioPlayback) talker_out = NULL;
  g_autoptr (ConfabAudioCapture) mic_monitor = NULL;
  g_autoptr (ConfabTestCli) bob = NULL;
  TestVoice talker;
  Carol carol = { 0 };
  /* Bob stays until told to leave (SIGINT); 120 s is a bound, not a plan. */
  const char *bob_args[] = {
    "join",    bob_url,       "--video",        "none",
    "--audio", "mic:echomic", "--play=echo-in", "--duration",
    "120",     "--transport", "websocket",      processing ? NULL : "--no-echo-cancel",
    NULL
  };
  JsonObject *mic, *playback;
  double *w = result->windows, onset;
  guint tick;

  g_assert_no_error (error);
  loopback = echo_path_start (pw);

  track_init (&carol.heard);
  track_init (&carol.mic);
  carol.speaking = g_array_new (FALSE, FALSE, sizeof (SpeakingChange));
  carol.decoder = confab_audio_decoder_new (&error);
  g_assert_no_error (error);
  carol.encoder = confab_audio_encoder_new (0, &error);
  g_assert_no_error (error);
  test_voice_init_low (&carol.voice, 1.0);
  carol.transport = confab_ws_transport_new (carol_url, &error);
  g_assert_no_error (error);
  g_signal_connect (carol.transport, "packet", G_CALLBACK (on_packet), &carol);
  carol.call = confab_call_new (carol.transport, "carol");
  confab_call_set_media_state (carol.call, FALSE, TRUE);
  confab_call_start (carol.call);
  /* What Bob's microphone hears is what goes into echo-in (1:1): recorded
   * from its monitor, to check the far end really played and to measure
   * what Bob sent against what he heard. */
  mic_monitor = confab_audio_capture_new (pw, "echo-in", TRUE, &error);
  g_assert_no_error (error);
  g_signal_connect (mic_monitor, "chunk", G_CALLBACK (on_mic_chunk), &carol);

  carol.start_us = g_get_monotonic_time ();
  bob = confab_test_cli_startv (bob_args);
  tick = g_timeout_add (5, on_send_tick, &carol);

  /* Carol alone: her voice must reach Bob's microphone (through his
   * speaker), then the canceller gets SETTLE_S of it, then the window. */
  onset = run_phase (&carol, "Carol's voice at Bob's microphone", echo_heard, 0);
  w[0] = run_phase (&carol, "settling", mic_settled, onset);
  w[1] = run_phase (&carol, "the echo-alone window", window_full, w[0]);
  /* Both talk. */
  test_voice_init_high (&talker, 5.0);
  talker_out = confab_audio_playback_new (pw, "echo-in", fill_talker, &talker, &error);
  g_assert_no_error (error);
  w[2] = run_phase (&carol, "Bob's talker", talker_lead, w[1]);
  w[3] = run_phase (&carol, "the double-talk window", window_full, w[2]);

  g_subprocess_send_signal (bob->process, SIGINT);
  confab_test_cli_wait (bob, 40000);
  g_source_remove (tick);
  result->speaking_echo = speaking_share (&carol, w[0], w[1]);
  result->speaking_talk = speaking_share (&carol, w[2], w[3]);
  g_assert_cmpint (bob->status, ==, 0);

  mic = json_object_get_object_member (bob->summary, "microphone");
  playback = json_object_get_object_member (bob->summary, "playback");
  g_assert_nonnull (mic);
  g_assert_nonnull (playback);
  g_assert_cmpint (json_object_get_boolean_member (mic, "echo_cancel"), ==, processing);
  result->process_us_avg = json_object_get_double_member (mic, "process_us_avg");
  result->erle_db = json_object_get_int_member (mic, "erle_db");
  result->delay_ms = json_object_get_int_member (mic, "echo_delay_ms");
  result->aec_delay_ms = json_object_get_int_member (mic, "aec_delay_ms");
  /* Bob's speaker fed the echo canceller everything it played. */
  g_assert_cmpint (json_object_get_int_member (mic, "reference_frames"), >=, 800);
  g_assert_cmpint (json_object_get_int_member (mic, "reference_dropped"), ==, 0);

  g_assert_cmpuint (carol.decode_errors, ==, 0);
  result->mic_echo_alone =
      db (track_power (&carol.mic, w[0], w[1], TEST_LOW_BAND_LO, TEST_LOW_BAND_HI));
  result->echo_alone =
      db (track_power (&carol.heard, w[0], w[1], TEST_LOW_BAND_LO, TEST_LOW_BAND_HI));
  result->mic_echo_double =
      db (track_power (&carol.mic, w[2], w[3], TEST_LOW_BAND_LO, TEST_LOW_BAND_HI));
  result->echo_double =
      db (track_power (&carol.heard, w[2], w[3], TEST_LOW_BAND_LO, TEST_LOW_BAND_HI));
  result->mic_near_double =
      db (track_power (&carol.mic, w[2], w[3], TEST_HIGH_BAND_LO, TEST_HIGH_BAND_HI));
  result->near_double =
      db (track_power (&carol.heard, w[2], w[3], TEST_HIGH_BAND_LO, TEST_HIGH_BAND_HI));
  result->heartbeats = carol.bob_heartbeats;
  result->speaking_heartbeats = carol.bob_speaking_heartbeats;
  g_test_message ("processing %s: Carol heard at Bob's microphone from %.2f s; windows %.2f-%.2f "
                  "and %.2f-%.2f s; Bob's microphone %" G_GINT64_FORMAT " chunks, %" G_GINT64_FORMAT
                  " overrun samples, his speaker %" G_GINT64_FORMAT " frames, %" G_GINT64_FORMAT
                  " underruns; the test's talker %" G_GUINT64_FORMAT " underruns",
                  processing ? "on" : "off", onset, w[0], w[1], w[2], w[3],
                  json_object_get_int_member (mic, "chunks"),
                  json_object_get_int_member (mic, "overrun_samples"),
                  json_object_get_int_member (playback, "frames"),
                  json_object_get_int_member (playback, "underruns"),
                  confab_audio_playback_get_underruns (talker_out));
  g_test_message ("processing %s: echo alone %.1f dB (%.1f at the microphone); both talking: echo "
                  "%.1f dB (%.1f), Bob %.1f dB (%.1f); speaking %.0f %% of echo alone, %.0f %% of "
                  "both talking; %u of %u heartbeats speaking; %.0f us/10 ms, ERLE %d dB, delay "
                  "%d ms (AEC's estimate %d ms)",
                  processing ? "on" : "off", result->echo_alone, result->mic_echo_alone,
                  result->echo_double, result->mic_echo_double, result->near_double,
                  result->mic_near_double, 100 * result->speaking_echo, 100 * result->speaking_talk,
                  result->speaking_heartbeats, result->heartbeats, result->process_us_avg,
                  result->erle_db, result->delay_ms, result->aec_delay_ms);
  {
    g_autoptr (GString) changes = g_string_new (NULL);
    gboolean last = FALSE;

    for (guint i = 0; i < carol.speaking->len; i++)
      {
        SpeakingChange *change = &g_array_index (carol.speaking, SpeakingChange, i);

        if (change->speaking != last)
          g_string_append_printf (changes, " %s %.2f", change->speaking ? "on" : "off", change->t);
        last = change->speaking;
      }
    g_test_message ("processing %s: Bob speaking:%s", processing ? "on" : "off", changes->str);
  }
  if (bob->out != NULL && strstr (bob->out, "ERLE") != NULL)
    g_test_message ("Bob's processing, once a second:\n%s", bob->out);
  /* The far end really played at Bob's microphone while it was measured
   * (her talker is about -27 dBFS in its band, the loop 1:1), and Bob's own
   * voice too. */
  g_assert_cmpfloat (result->mic_echo_alone, >, -35);
  g_assert_cmpfloat (result->mic_echo_double, >, -35);
  g_assert_cmpfloat (result->mic_near_double, >, -45);

  g_clear_object (&mic_monitor);
  g_clear_object (&talker_out);
  g_clear_object (&carol.call);
  g_clear_object (&carol.transport);
  track_clear (&carol.heard);
  track_clear (&carol.mic);
  g_array_unref (carol.speaking);
  confab_audio_decoder_free (carol.decoder);
  confab_audio_encoder_free (carol.encoder);
  g_subprocess_send_signal (loopback, SIGTERM);
  g_subprocess_wait (loopback, NULL, NULL);
  /* Let the transport's lws context go (an idle callback). */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
test_echo_loop (void)
{
  LoopResult off = { 0 }, on = { 0 };
  double echo_drop, double_drop, near_change;

  run_loop (FALSE, &off);
  run_loop (TRUE, &on);
  /* Each against what Bob's microphone heard in the same window, so a far
   * end or a talker that played less in one call (underruns on a loaded
   * machine) does not count as cancelled or ducked. */
  echo_drop = (on.mic_echo_alone - on.echo_alone) - (off.mic_echo_alone - off.echo_alone);
  double_drop = (on.mic_echo_double - on.echo_double) - (off.mic_echo_double - off.echo_double);
  near_change = (on.near_double - on.mic_near_double) - (off.near_double - off.mic_near_double);
  g_test_message ("echo alone %.1f dB down with processing; both talking: echo %.1f dB down, "
                  "Bob's voice %+.1f dB",
                  echo_drop, double_drop, near_change);
  /* Without processing the echo is really there in what Bob sends: the
   * loop is 1:1, and Opus keeps the level. */
  g_assert_cmpfloat (off.echo_alone, >, -35);
  g_assert_cmpfloat (off.near_double, >, -45);
  /* Measured 33-56 dB alone; 15 dB is the least that makes an echo hard
   * to notice under speech. While both talk AEC1 adapts less and now and
   * then goes astray: 11-46 dB measured, so only 6 dB is asked there. */
  g_assert_cmpfloat (echo_drop, >=, 15);
  g_assert_cmpfloat (double_drop, >=, 6);
  /* While both talk, the echo canceller's suppression (AEC1's non-linear
   * stage) takes some of Bob's voice too. With "low" suppression and the
   * data-thread processing, on a quiet machine (2026-11-26 05:00-05:30) it
   * is bimodal: -4.9 dB (echo alone ~62 dB down) or -8.8 to -9.3 dB (echo
   * alone ~96 dB down: the output gated to silence), about half the runs
   * each, plain and ASan alike; which mode a run takes is not understood
   * yet. Earlier: +0.3 to -4.2 dB with "moderate" on a busy machine. 12 dB
   * still fails a canceller that swallows the near talker (20 dB and more),
   * not one that only ducks him a little more. */
  g_assert_cmpfloat (near_change, >=, -12);
  /* Bob's heartbeats: while only Carol talks he is not speaking (without
   * processing her echo made him "speak" all along: measured 0-20 %),
   * once he talks he is (77-100 %). */
  g_assert_cmpfloat (on.speaking_echo, <=, 0.4);
  g_assert_cmpfloat (on.speaking_talk, >=, 0.6);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("PIPEWIRE_RUNTIME_DIR") == NULL)
    {
      g_print ("1..0 # SKIP run inside tests/pipewire-env.sh\n");
      return 0;
    }
  g_test_add_func ("/interop/aec/echo-loop", test_echo_loop);
  return g_test_run ();
}
