/* test-playout.c: ConfabPlayout without a speaker, inside a private PipeWire
 * (tests/pipewire-env.sh) with the real relay and a real confab-cli talking:
 * while the speaker it was given does not exist, the playout still pulls
 * the talker's audio in real time (its jitter buffer plays on, never piles
 * up and restarts); started on the test speaker, the device pulls instead
 * and nothing pulls twice. */
#define G_LOG_DOMAIN "test-playout"

#include "confab-call.h"
#include "confab-peer.h"
#include "confab-pipewire.h"
#include "confab-playout.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-ws-transport.h"

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default context for @ms (bounded: a timer ends it). */
static void
run_for (guint ms)
{
  gboolean done = FALSE;
  guint id = g_timeout_add (ms, on_timeout, &done);

  while (!done)
    g_main_context_iteration (NULL, TRUE);
  (void) id;
}

static void
on_playout_error (ConfabPlayout *playout, const GError *error, gpointer data)
{
  g_test_message ("playout error: %s", error->message);
  *(gboolean *) data = TRUE;
}

/* The talker's audio jitter buffer, once its packets arrive. */
static ConfabAudioJitterBuffer *
talker_buffer (ConfabCall *call)
{
  GPtrArray *peers = confab_call_get_peers (call);

  for (guint i = 0; i < peers->len; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (peers, i);

      if (g_strcmp0 (confab_peer_get_user_id (peer), "talker") == 0 &&
          confab_peer_get_audio_jitter_buffer (peer) != NULL &&
          confab_peer_get_audio_packets (peer) > 0)
        return confab_peer_get_audio_jitter_buffer (peer);
    }
  return NULL;
}

/* Frames the buffer handed out (played, repaired or silent) so far. */
static guint64
pulled (ConfabAudioJitterBuffer *buffer, guint64 *resets, double *level_ms)
{
  ConfabAudioJitterStats stats;

  confab_audio_jitter_buffer_get_stats (buffer, &stats);
  *resets = stats.resets;
  *level_ms = stats.current_buffer_ms;
  return stats.normal_frames + stats.fec_frames + stats.plc_frames + stats.silence_frames;
}

/* Over 3 s: 150 frames are due; a timer on a loaded machine may lag a
 * little, a second puller would double it. */
static void
assert_pulled_in_real_time (ConfabAudioJitterBuffer *buffer, const char *what)
{
  guint64 resets0, resets1, n0, n1;
  double level;

  n0 = pulled (buffer, &resets0, &level);
  run_for (3000);
  n1 = pulled (buffer, &resets1, &level);
  g_test_message ("%s: %" G_GUINT64_FORMAT " frames pulled in 3 s, %" G_GUINT64_FORMAT
                  " restarts, %.0f ms buffered",
                  what, n1 - n0, resets1 - resets0, level);
  g_assert_cmpuint (n1 - n0, >=, 120);
  g_assert_cmpuint (n1 - n0, <=, 170);
  g_assert_cmpuint (resets1 - resets0, ==, 0);
  g_assert_cmpfloat (level, <=, 300);
}

static void
test_playout_drains_without_speaker (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("playout");
  g_autofree char *talker_url = g_strdup_printf ("%s/lobby/talker/%s", relay->ws_base, room);
  g_autofree char *our_url = g_strdup_printf ("%s/lobby/listener/%s", relay->ws_base, room);
  /* Long enough for PipeWire to give up on the missing speaker (<= 5 s)
   * and two measurements of 3 s. */
  const char *talker_args[] = {
    "join",        talker_url,  "--video",    "none", "--audio", "test",
    "--transport", "websocket", "--duration", "14",   NULL,
  };
  g_autoptr (ConfabTestCli) talker = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTransport) transport = NULL;
  g_autoptr (ConfabCall) call = NULL;
  g_autoptr (ConfabPipewire) pipewire = NULL;
  g_autoptr (ConfabPlayout) playout = NULL;
  ConfabAudioJitterBuffer *buffer = NULL;
  gboolean failed = FALSE;
  gint64 deadline;

  pipewire = confab_pipewire_new (-1, &error);
  g_assert_no_error (error);
  transport = confab_ws_transport_new (our_url, &error);
  g_assert_no_error (error);
  call = confab_call_new (transport, "listener");
  confab_call_set_receive_media (call, FALSE, TRUE);
  confab_call_start (call);
  talker = confab_test_cli_startv (talker_args);

  /* A speaker that does not exist: the start fails at once or "error"
   * comes once PipeWire gave up linking it. */
  playout = confab_playout_new (call, "confab-no-such-speaker");
  g_signal_connect (playout, "error", G_CALLBACK (on_playout_error), &failed);
  if (!confab_playout_start (playout, pipewire, &error))
    {
      g_test_message ("start failed: %s", error->message);
      g_clear_error (&error);
      failed = TRUE;
    }
  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while ((!failed || (buffer = talker_buffer (call)) == NULL) && g_get_monotonic_time () < deadline)
    run_for (100);
  g_assert_true (failed);
  g_assert_nonnull (buffer);
  g_assert_false (confab_playout_is_playing (playout));
  assert_pulled_in_real_time (buffer, "no speaker");

  /* The test speaker: the device pulls now, the draining has stopped. */
  g_assert_true (confab_playout_set_target (playout, "testsink", &error));
  g_assert_no_error (error);
  g_assert_true (confab_playout_start (playout, pipewire, &error));
  g_assert_no_error (error);
  run_for (500);
  assert_pulled_in_real_time (buffer, "test speaker");
  g_assert_true (confab_playout_is_playing (playout));

  confab_playout_stop (playout);
  confab_call_leave (call);
  run_for (200);
  confab_test_cli_wait (talker, 30000);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/playout/drains-without-speaker", test_playout_drains_without_speaker);
  return g_test_run ();
}
