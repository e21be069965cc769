/* test-call-codec.c: the [confab] H.264 advertisement end to end
 * (docs/protocol-extensions.md). Alice runs `confab-cli --codec h264` with
 * Bob, another confab-cli, which advertises H.264 in its heartbeats; then a
 * peer that advertises nothing (as an upstream browser) joins: Alice must
 * switch to VP9, starting with a key frame, and back to H.264 once that peer
 * has left. Real relay, real CLIs. */
#define G_LOG_DOMAIN "test-call-codec"

#include "confab-packet.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"
#include "confab-video-encoder.h"

static void
test_h264_only_when_all_advertise (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("codec");
  g_autofree char *url_a = g_strdup_printf ("%s/lobby/alice/%s", relay->ws_base, room);
  g_autofree char *url_b = g_strdup_printf ("%s/lobby/bob/%s", relay->ws_base, room);
  g_autoptr (ConfabTestCli) alice = NULL;
  g_autoptr (ConfabTestCli) bob = NULL;
  ConfabTestWs *probe;
  ConfabTestCli *runs[3];
  guint h264 = 0, vp9 = 0, other = 0, vp9_after_settling = 0, h264_after_settling = 0;
  gboolean first_vp9_is_key = FALSE;
  gint64 joined, end;
  JsonObject *video, *from_alice;

  alice = confab_test_cli_start ("join", url_a, "--codec", "h264", "--size", "320x180", "--fps",
                                 "15", "--audio", "none", "--duration", "9", NULL);
  bob = confab_test_cli_start ("join", url_b, "--video", "none", "--audio", "none", "--duration",
                               "9", NULL);
  /* Alice and Bob alone for 2.5 s: H.264. */
  {
    gboolean never = FALSE;

    confab_test_run_until (&never, 2500);
  }

  /* A peer without the advertisement for 2 s: what does it receive? */
  probe = confab_test_ws_join (relay->ws_port, "upstream", room);
  confab_test_ws_activate (probe, "upstream");
  joined = g_get_monotonic_time ();
  end = joined + 2 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (probe, 50);
      ConfabMediaPacket *media;

      g_main_context_iteration (NULL, FALSE);
      if (p == NULL || p->packet_type != CONFAB_PACKET_MEDIA)
        continue;
      media = confab_test_media_of (p);
      if (media != NULL && media->media_type == CONFAB_MEDIA_VIDEO && media->video_metadata)
        {
          int codec = media->video_metadata->codec;
          /* Alice learns of us from our heartbeat: allow her a moment. */
          gboolean settled = g_get_monotonic_time () - joined > 500 * 1000;

          if (codec == CONFAB_VIDEO_CODEC_VP9)
            {
              if (vp9 == 0)
                first_vp9_is_key = g_strcmp0 (media->frame_type, "key") == 0;
              vp9++;
              vp9_after_settling += settled;
            }
          else if (codec == CONFAB_VIDEO_CODEC_H264)
            {
              h264++;
              h264_after_settling += settled;
            }
          else
            other++;
        }
      if (media != NULL)
        confab__media_packet__free_unpacked (media, NULL);
    }
  /* Gone: after the relay's leave grace Alice may use H.264 again. */
  confab_test_ws_free (probe);

  runs[0] = alice;
  runs[1] = bob;
  runs[2] = NULL;
  confab_test_cli_wait_all (runs, 30000);
  g_test_message ("the peer without H.264 got %u VP9, %u H.264 (%u after 0.5 s), %u other frames",
                  vp9, h264, h264_after_settling, other);
  g_assert_cmpint (alice->status, ==, 0);
  g_assert_cmpint (bob->status, ==, 0);
  g_assert_cmpuint (vp9_after_settling, >=, 15);
  g_assert_cmpuint (h264_after_settling, ==, 0);
  g_assert_cmpuint (other, ==, 0);
  g_assert_true (first_vp9_is_key);

  /* Alice ended on H.264 again, having switched at least away and back. */
  video = json_object_get_object_member (alice->summary, "video");
  g_test_message ("alice: codec %s at the end, %" G_GINT64_FORMAT " switches",
                  json_object_get_string_member (video, "codec"),
                  json_object_get_int_member (video, "codec_switches"));
  g_assert_cmpstr (json_object_get_string_member (video, "codec"), ==, "h264");
  g_assert_cmpint (json_object_get_int_member (video, "codec_switches"), >=, 2);
  /* Bob decoded both codecs without an error. */
  from_alice = confab_test_summary_peer (bob->summary, "alice");
  g_assert_nonnull (from_alice);
  g_test_message ("bob: %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT
                  " frames decoded, %" G_GINT64_FORMAT " errors",
                  json_object_get_int_member (from_alice, "decoded_video_frames"),
                  json_object_get_int_member (from_alice, "video_frames"),
                  json_object_get_int_member (from_alice, "video_decode_errors"));
  g_assert_cmpint (json_object_get_int_member (from_alice, "video_decode_errors"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (from_alice, "decoded_video_frames") * 10, >=,
                   json_object_get_int_member (from_alice, "video_frames") * 8);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/codec/h264-only-when-all-advertise", test_h264_only_when_all_advertise);
  return g_test_run ();
}
