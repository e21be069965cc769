/* test-pipewire-cli.c: confab-cli with real devices, inside a private
 * PipeWire (tests/pipewire-env.sh): a sender with `--video camera --audio
 * mic` and a receiver with `--play` talk through the real confab-relay; the
 * receiver decodes the camera's pictures, and the test microphone's tone
 * comes out of the receiver's speaker (the null sink, recorded from its
 * monitor here) at its pitch. */
#define G_LOG_DOMAIN "test-pipewire-cli"

#include "confab-pipewire-audio.h"
#include "confab-test-cli.h"
#include "confab-test-audio.h"
#include "confab-test-util.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The test microphone's sine (pipewire-env.sh), unlike --audio test's
 * 440 Hz: hearing it proves the microphone's path. */
#define MIC_FREQ 660.0

/* ---- recording the speaker ------------------------------------------------------------- */

static void
on_chunk (ConfabAudioCapture *capture, const gint16 *pcm, GArray *samples)
{
  /* Bounded: at most 30 s. */
  if (samples->len < 30 * 48000)
    g_array_append_vals (samples, pcm, CONFAB_AUDIO_FRAME_SAMPLES);
}

static int
compare_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* ---- tests ----------------------------------------------------------------------------- */

/* Bob joins first, so he sees Alice's first key frame. */
static void
run_call (const char *const *bob_args,
          const char *const *alice_args,
          ConfabTestCli **bob,
          ConfabTestCli **alice)
{
  gboolean never = FALSE;

  *bob = confab_test_cli_startv (bob_args);
  confab_test_run_until (&never, 500);
  *alice = confab_test_cli_startv (alice_args);
  confab_test_cli_wait (*alice, 30000);
  confab_test_cli_wait (*bob, 30000);
  g_assert_cmpint ((*alice)->status, ==, 0);
  g_assert_cmpint ((*bob)->status, ==, 0);
  g_assert_nonnull ((*alice)->summary);
  g_assert_nonnull ((*bob)->summary);
}

/* The camera's 720p30 pictures, encoded by Alice, decoded by Bob. */
static void
test_camera_call (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *bob_url = g_strdup_printf ("%s/lobby/bob/pwroom", relay->ws_base);
  g_autofree char *alice_url = g_strdup_printf ("%s/lobby/alice/pwroom", relay->ws_base);
  const char *bob_args[] = { "join",        bob_url,      "--video", "none",           "--audio",
                             "none",        "--duration", "7",       "--expect-peers", "1",
                             "--transport", "websocket",  NULL };
  /* --no-adapt: this is about the camera's own size and rate; on a loaded
   * machine Bob's reports could rightly move Alice down a tier. */
  const char *alice_args[] = { "join",           alice_url, "--video",     "camera:testcam",
                               "--audio",        "none",    "--duration",  "5",
                               "--expect-peers", "1",       "--transport", "websocket",
                               "--no-adapt",     NULL };
  g_autoptr (ConfabTestCli) bob = NULL;
  g_autoptr (ConfabTestCli) alice = NULL;
  JsonObject *sent, *video, *camera, *peer;
  gint64 sent_frames, decoded;

  run_call (bob_args, alice_args, &bob, &alice);
  sent = json_object_get_object_member (alice->summary, "sent");
  video = json_object_get_object_member (alice->summary, "video");
  camera = json_object_get_object_member (alice->summary, "camera");
  g_assert_cmpint (json_object_get_int_member (video, "width"), ==, 1280);
  g_assert_cmpint (json_object_get_int_member (video, "height"), ==, 720);
  g_assert_cmpstr (json_object_get_string_member (camera, "format"), ==, "I420");
  sent_frames = json_object_get_int_member (sent, "video_frames");
  /* ~5 s at 30 fps: allow a slow start, refuse a trickle. */
  g_assert_cmpint (sent_frames, >=, 120);

  peer = confab_test_summary_peer (bob->summary, NULL);
  decoded = json_object_get_int_member (peer, "decoded_video_frames");
  g_test_message ("alice sent %" G_GINT64_FORMAT " camera frames, bob decoded %" G_GINT64_FORMAT,
                  sent_frames, decoded);
  g_assert_cmpint (decoded * 10, >=, sent_frames * 9);
}

/* The test microphone's tone, sent by Alice, played by Bob's --play into the
 * null sink, recorded from its monitor here. */
static void
test_audio_loop (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autoptr (ConfabPipewire) pw = confab_pipewire_new (-1, &error);
  g_autoptr (ConfabAudioCapture) speaker = NULL;
  g_autoptr (GArray) heard = g_array_new (FALSE, FALSE, sizeof (gint16));
  g_autofree char *bob_url = g_strdup_printf ("%s/lobby/bob/pwroom3", relay->ws_base);
  g_autofree char *alice_url = g_strdup_printf ("%s/lobby/alice/pwroom3", relay->ws_base);
  const char *bob_args[] = { "join", bob_url,       "--video",    "none", "--audio",
                             "none", "--play",      "--duration", "7",    "--expect-peers",
                             "1",    "--transport", "websocket",  NULL };
  /* The microphone's path as captured: noise suppression would (rightly)
   * fade a steady tone out as noise. tests/test-aec-loop.c covers the
   * processed path. */
  const char *alice_args[] = {
    "join",        alice_url,          "--video",    "none", "--audio",
    "mic:testmic", "--no-echo-cancel", "--duration", "5",    "--expect-peers",
    "1",           "--transport",      "websocket",  NULL
  };
  g_autoptr (ConfabTestCli) bob = NULL;
  g_autoptr (ConfabTestCli) alice = NULL;
  JsonObject *sent, *peer;
  gint64 loud_start = -1;
  double freq, p_mic, p_off;
  gsize window = 48000;

  g_assert_no_error (error);
  speaker = confab_audio_capture_new (pw, "testsink", TRUE, &error);
  g_assert_no_error (error);
  g_signal_connect (speaker, "chunk", G_CALLBACK (on_chunk), heard);
  run_call (bob_args, alice_args, &bob, &alice);

  sent = json_object_get_object_member (alice->summary, "sent");
  g_assert_cmpint (json_object_get_int_member (sent, "audio_packets"), >=, 200);
  /* No generated tone: each packet is a 20 ms microphone chunk. */
  g_assert_cmpint (json_object_get_int_member (sent, "audio_packets"), <=,
                   json_object_get_int_member (
                       json_object_get_object_member (alice->summary, "microphone"), "chunks"));
  peer = confab_test_summary_peer (bob->summary, NULL);
  g_assert_cmpint (json_object_get_int_member (peer, "audio_played_frames"), >=, 200);

  for (guint i = 0; i < heard->len; i++)
    if (ABS (g_array_index (heard, gint16, i)) > 2000)
      {
        loud_start = i;
        break;
      }
  g_assert_cmpint (loud_start, >=, 0);
  /* One second, starting half a second into the sound (past Opus's start). */
  g_assert_cmpuint (heard->len, >=, loud_start + 24000 + window);
  /* Median of ten 100 ms estimates: one concealed packet must not move it. */
  {
    double estimates[10];

    for (int b = 0; b < 10; b++)
      estimates[b] = confab_test_tone_frequency (
          (gint16 *) heard->data + loud_start + 24000 + b * 4800, 4800, 48000);
    qsort (estimates, 10, sizeof (double), compare_double);
    freq = (estimates[4] + estimates[5]) / 2;
  }
  p_mic =
      confab_test_tone_power ((gint16 *) heard->data + loud_start + 24000, window, MIC_FREQ, 48000);
  p_off = confab_test_tone_power ((gint16 *) heard->data + loud_start + 24000, window, 440, 48000);
  g_test_message ("bob's speaker: %.2f Hz, power at %.0f Hz %.4f, at 440 Hz %.6f", freq, MIC_FREQ,
                  p_mic, p_off);
  g_assert_cmpfloat (fabs (freq - MIC_FREQ), <, 3);
  g_assert_cmpfloat (p_mic, >, 100 * p_off);
}

static void
test_missing_camera (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *url = g_strdup_printf ("%s/lobby/carol/pwroom2", relay->ws_base);
  const char *args[] = { "join",       url, "--video",     "camera:nosuchcam", "--audio", "none",
                         "--duration", "5", "--transport", "websocket",        NULL };
  g_autoptr (ConfabTestCli) run = confab_test_cli_startv (args);

  confab_test_cli_wait (run, 20000);
  g_assert_cmpint (run->status, ==, 2);
  g_assert_nonnull (strstr (run->err, "nosuchcam"));
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
  g_test_add_func ("/interop/pipewire/camera-call", test_camera_call);
  g_test_add_func ("/interop/pipewire/audio-loop", test_audio_loop);
  g_test_add_func ("/interop/pipewire/missing-camera", test_missing_camera);
  return g_test_run ();
}
