/* test-call-visibility.c: a peer whose pictures nobody shows
 * (confab_call_set_peer_video_wanted) costs key frames only. A real
 * confab-cli sends 320×180@30 through the real relay to a ConfabCall that
 * decodes. Not wanted, the call must keep receiving every frame but decode
 * no more than the key frames (the sender sends one every 5 s), ask for no
 * key frame and count no loss; wanted again, it must ask for a key frame at
 * once, decode it within a second and then decode at the full rate. */
#define G_LOG_DOMAIN "test-call-visibility"

#include "confab-call.h"
#include "confab-packet.h"
#include "confab-test-cli.h"
#include "confab-test-peer.h"
#include "confab-test-util.h"
#include "confab-ws-transport.h"

/* Whether the last video frame that arrived was a key frame: then the
 * decoder is current and showing the peer again needs no request. */
static void
on_media (ConfabCall *call,
          ConfabPeer *peer,
          int type,
          GBytes *data,
          gboolean is_key,
          guint64 sequence,
          double timestamp,
          gboolean *last_was_key)
{
  if (type == CONFAB_MEDIA_VIDEO)
    *last_was_key = is_key;
}

static void
spin (guint ms)
{
  gboolean never = FALSE;

  confab_test_run_until (&never, ms);
}

/* The one peer once it has decoded a picture, or NULL after @timeout_ms. */
static ConfabPeer *
wait_for_pictures (ConfabCall *call, guint timeout_ms)
{
  gint64 end = g_get_monotonic_time () + timeout_ms * (gint64) 1000;

  while (g_get_monotonic_time () < end)
    {
      GPtrArray *peers = confab_call_get_peers (call);

      if (peers->len > 0 && confab_peer_get_decoded_video_frames (g_ptr_array_index (peers, 0)) > 0)
        return g_ptr_array_index (peers, 0);
      spin (50);
    }
  return NULL;
}

static void
test_unwanted_decodes_key_frames_only (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("visibility");
  g_autofree char *url_cli = g_strdup_printf ("%s/lobby/sender/%s", relay->ws_base, room);
  g_autofree char *url_us = g_strdup_printf ("%s/lobby/viewer/%s", relay->ws_base, room);
  g_autoptr (ConfabTestCli) cli = NULL;
  g_autoptr (ConfabTransport) transport = NULL;
  g_autoptr (ConfabCall) call = NULL;
  g_autoptr (GError) error = NULL;
  ConfabPeer *peer;
  guint64 session;
  ConfabTestVideoCounts a0, a1, b1, c1;
  gint64 wanted_at, key_at = -1;
  gboolean last_was_key = FALSE;

  cli = confab_test_cli_start ("join", url_cli, "--size", "320x180", "--fps", "30", "--audio",
                               "none", "--duration", "16", NULL);
  transport = confab_ws_transport_new (url_us, &error);
  g_assert_no_error (error);
  call = confab_call_new (transport, "viewer");
  confab_call_set_receive_media (call, TRUE, FALSE);
  g_signal_connect (call, "media", G_CALLBACK (on_media), &last_was_key);
  confab_call_start (call);

  peer = wait_for_pictures (call, 8000);
  g_assert_nonnull (peer);
  session = confab_peer_get_session_id (peer);

  /* Wanted (the default): every frame decoded. */
  spin (500);
  confab_test_video_counts_take (peer, &a0);
  spin (2000);
  confab_test_video_counts_take (peer, &a1);
  g_test_message ("wanted: %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT " decoded in %.1f s",
                  a1.received - a0.received, a1.decoded - a0.decoded, (a1.at_us - a0.at_us) / 1e6);
  g_assert_cmpuint (a1.received - a0.received, >=, 40);
  g_assert_cmpuint ((a1.decoded - a0.decoded) * 10, >=, (a1.received - a0.received) * 9);
  g_assert_cmpuint (a1.unwanted, ==, 0);

  /* Not wanted for 6 s (more than the sender's 5 s key frame interval). */
  confab_call_set_peer_video_wanted (call, session, FALSE);
  spin (6000);
  confab_test_video_counts_take (peer, &b1);
  g_test_message ("not wanted: %" G_GUINT64_FORMAT " received (%" G_GUINT64_FORMAT
                  " key), %" G_GUINT64_FORMAT " decoded, %" G_GUINT64_FORMAT
                  " skipped, %" G_GUINT64_FORMAT " requests, %" G_GUINT64_FORMAT " gaps",
                  b1.received - a1.received, b1.keyframes - a1.keyframes, b1.decoded - a1.decoded,
                  b1.unwanted - a1.unwanted, b1.requests - a1.requests, b1.gaps - a1.gaps);
  /* Still received at the full rate (so our DIAGNOSTICS do not make the
   * sender step down for everyone)... */
  g_assert_cmpuint (b1.received - a1.received, >=, 120);
  /* ...but only key frames decoded: the thumbnail refreshed, nothing more. */
  g_assert_cmpuint (b1.keyframes - a1.keyframes, >=, 1);
  g_assert_cmpuint (b1.decoded - a1.decoded, >=, 1);
  g_assert_cmpuint (b1.decoded - a1.decoded, <=, b1.keyframes - a1.keyframes);
  g_assert_cmpuint (b1.unwanted - a1.unwanted, >=, b1.received - a1.received - 10);
  /* Skipping on purpose is no loss and asks for nothing. */
  g_assert_cmpuint (b1.requests, ==, a1.requests);
  g_assert_cmpuint (b1.gaps, ==, a1.gaps);

  /* Wanted again: a keyframe request at once, a picture within a second. */
  wanted_at = g_get_monotonic_time ();
  confab_call_set_peer_video_wanted (call, session, TRUE);
  g_assert_cmpuint (confab_peer_get_keyframe_requests_sent (peer), ==,
                    b1.requests + (last_was_key ? 0 : 1));
  while (g_get_monotonic_time () - wanted_at < 2 * G_USEC_PER_SEC)
    {
      if (confab_peer_get_decoded_video_frames (peer) > b1.decoded)
        {
          key_at = g_get_monotonic_time ();
          break;
        }
      spin (5);
    }
  g_test_message ("wanted again: first picture after %.0f ms",
                  key_at < 0 ? -1.0 : (key_at - wanted_at) / 1000.0);
  g_assert_cmpint (key_at, >=, 0);
  g_assert_cmpint (key_at - wanted_at, <=, G_USEC_PER_SEC);
  g_assert_cmpuint (confab_peer_get_video_keyframes (peer), >, b1.keyframes);
  confab_test_video_counts_take (peer, &c1);
  spin (1000);
  {
    ConfabTestVideoCounts c2;

    confab_test_video_counts_take (peer, &c2);
    g_test_message ("then: %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT " decoded in %.1f s",
                    c2.received - c1.received, c2.decoded - c1.decoded,
                    (c2.at_us - c1.at_us) / 1e6);
    g_assert_cmpuint (c2.received - c1.received, >=, 20);
    g_assert_cmpuint ((c2.decoded - c1.decoded) * 10, >=, (c2.received - c1.received) * 9);
    g_assert_cmpuint (c2.unwanted, ==, c1.unwanted);
  }

  confab_call_leave (call);
  spin (100);
  confab_test_cli_wait (cli, 20000);
  g_assert_cmpint (cli->status, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/visibility/unwanted-decodes-key-frames-only",
                   test_unwanted_decodes_key_frames_only);
  return g_test_run ();
}
