/* test-call-quality.c: adaptive quality end to end (PROTOCOL.md §5). A real
 * confab-cli sends 720p30 through the real relay; a test receiver in the
 * same room decodes its key frames and reports, as DIAGNOSTICS every 500 ms,
 * first 20 % of the frame rate it really gets (bitrate as measured), then
 * what it really gets. The sender must step down within the rule's 1.5 s,
 * send the lower tier (size and rate), and step back up after 5 s of good
 * reports. */
#define G_LOG_DOMAIN "test-call-quality"

#include "confab-packet.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-test-ws.h"
#include "confab-video-decoder.h"

#include <signal.h>
#include <string.h>

#define RATE_WINDOW 256

typedef struct
{
  gint64 at_us[RATE_WINDOW];
  guint32 bytes[RATE_WINDOW];
  guint head;
} Received;

static void
received_add (Received *r, gint64 now, gsize bytes)
{
  r->at_us[r->head] = now;
  r->bytes[r->head] = (guint32) bytes;
  r->head = (r->head + 1) % RATE_WINDOW;
}

/* Frames and kbps over the last second, as a receiver measures them. */
static void
received_rates (const Received *r, gint64 now, double *fps, double *kbps)
{
  guint frames = 0;
  guint64 bytes = 0;

  for (guint i = 0; i < RATE_WINDOW; i++)
    if (r->at_us[i] > 0 && now - r->at_us[i] <= G_USEC_PER_SEC)
      {
        frames++;
        bytes += r->bytes[i];
      }
  *fps = frames;
  *kbps = bytes * 8 / 1000.0;
}

static void
send_diagnostics (ConfabTestWs *ws, guint64 sender, double fps, double kbps)
{
  Confab__DiagnosticsPacket diag = CONFAB__DIAGNOSTICS_PACKET__INIT;
  Confab__VideoMetrics video = CONFAB__VIDEO_METRICS__INIT;
  g_autofree char *sender_id = g_strdup_printf ("%" G_GUINT64_FORMAT, sender);
  g_autoptr (GBytes) inner = NULL;
  g_autoptr (GBytes) packet = NULL;
  gsize len;
  const guint8 *data;

  /* Filled as upstream browsers fill it (PROTOCOL.md §2). */
  diag.stream_id = (char *) "video";
  diag.sender_id = sender_id;
  diag.target_id = (char *) "probe";
  diag.timestamp_ms = (guint64) confab_now_epoch_ms ();
  diag.media_type = CONFAB_MEDIA_VIDEO;
  video.fps_received = (float) fps;
  video.bitrate_kbps = (guint32) kbps;
  diag.video_metrics = &video;
  inner = confab_message_pack (&diag.base);
  data = g_bytes_get_data (inner, &len);
  packet = confab_packet_wrap (CONFAB_PACKET_DIAGNOSTICS, "probe", ws->session_id, data, len);
  g_assert_true (confab_test_ws_send_bytes (ws, packet));
}

typedef struct
{
  gint64 at_us;
  int width;
} KeySeen;

static void
test_step_down_and_up (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("quality");
  g_autofree char *url = g_strdup_printf ("%s/lobby/alice/%s", relay->ws_base, room);
  g_autoptr (ConfabTestWs) ws = confab_test_ws_join (relay->ws_port, "probe", room);
  g_autoptr (ConfabTestCli) cli = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoDecoder) decoder = NULL;
  Received received = { 0 };
  KeySeen keys[64];
  guint n_keys = 0;
  guint64 sender = 0;
  gint64 first_video = 0, bad_from = 0, good_from = 0, next_report = 0, end;
  g_autoptr (GArray) arrivals = g_array_new (FALSE, FALSE, sizeof (gint64));
  JsonObject *video;
  JsonArray *tiers;
  double down_ms = -1, up_ms = -1, bad_from_ms, good_from_ms, join_offset_ms;
  gint64 cli_start;
  gint64 back_down = 0, back_up = 0;

  decoder = confab_video_decoder_new (CONFAB_VIDEO_CODEC_VP9, 1, &error);
  g_assert_no_error (error);
  confab_test_ws_activate (ws, "probe");
  cli_start = g_get_monotonic_time ();
  /* The sender's view of each report, for a failure's log. */
  g_setenv ("G_MESSAGES_DEBUG", "confab-media-sender", TRUE);
  cli = confab_test_cli_start ("join", url, "--size", "1280x720", "--fps", "30", "--audio", "none",
                               "--duration", "25", NULL);

  /* Until a second after the sender came back to 720p (bounded). */
  end = g_get_monotonic_time () + 24 * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < end)
    {
      g_autoptr (ConfabPacketWrapper) p = confab_test_ws_recv_packet (ws, 20);
      gint64 now = g_get_monotonic_time ();

      if (p != NULL && p->packet_type == CONFAB_PACKET_MEDIA && p->session_id != 0)
        {
          ConfabMediaPacket *media = confab_test_media_of (p);

          if (media != NULL && media->media_type == CONFAB_MEDIA_VIDEO)
            {
              sender = p->session_id;
              if (first_video == 0)
                first_video = now;
              received_add (&received, now, media->data.len);
              g_array_append_val (arrivals, now);
              if (g_strcmp0 (media->frame_type, "key") == 0 && n_keys < G_N_ELEMENTS (keys))
                {
                  g_autoptr (ConfabVideoFrame) picture = NULL;

                  /* A key frame decodes on its own: its size is what was sent. */
                  g_clear_pointer (&decoder, confab_video_decoder_free);
                  decoder = confab_video_decoder_new (CONFAB_VIDEO_CODEC_VP9, 1, NULL);
                  if (confab_video_decoder_decode (decoder, media->data.data, media->data.len, 0,
                                                   &picture, NULL) &&
                      picture != NULL)
                    {
                      keys[n_keys++] = (KeySeen){ now, picture->width };
                      if (picture->width == 854 && back_down == 0)
                        back_down = now;
                      if (picture->width == 1280 && back_down != 0 && back_up == 0)
                        back_up = now;
                    }
                }
            }
          if (media != NULL)
            confab__media_packet__free_unpacked (media, NULL);
        }

      /* Reports start once a second of video arrived, like a real receiver's. */
      if (first_video != 0 && now - first_video >= G_USEC_PER_SEC && now >= next_report)
        {
          double fps, kbps;

          if (bad_from == 0)
            bad_from = now;
          /* 2.5 s of poor reports (one step's worth), then honest ones. */
          if (good_from == 0 && now - bad_from >= 2500 * 1000)
            good_from = now;
          received_rates (&received, now, &fps, &kbps);
          send_diagnostics (ws, sender, good_from == 0 ? fps * 0.2 : fps, kbps);
          next_report = now + 500 * 1000;
        }
      if (cli->done || (back_up != 0 && now - back_up > G_USEC_PER_SEC))
        break;
      g_main_context_iteration (NULL, FALSE);
    }

  /* The CLI leaves as on Ctrl+C and prints its summary. */
  if (!cli->done)
    g_subprocess_send_signal (cli->process, SIGTERM);
  confab_test_cli_wait (cli, 20000);
  g_assert_cmpint (cli->status, ==, 0);
  g_assert_nonnull (cli->summary);
  g_assert_cmpuint (bad_from, !=, 0);
  g_assert_cmpuint (good_from, !=, 0);

  /* The CLI's tier history, its times from its join (which came a little
   * after we started it). */
  video = json_object_get_object_member (cli->summary, "video");
  tiers = json_object_get_array_member (video, "tiers");
  join_offset_ms = json_object_get_double_member (cli->summary, "join_ms");
  bad_from_ms = (bad_from - cli_start) / 1000.0 - join_offset_ms;
  good_from_ms = (good_from - cli_start) / 1000.0 - join_offset_ms;
  g_test_message ("poor reports from %.0f ms, good from %.0f ms (CLI join time)", bad_from_ms,
                  good_from_ms);
  for (guint i = 0; i < json_array_get_length (tiers); i++)
    {
      JsonObject *t = json_array_get_object_element (tiers, i);
      const char *change = json_object_get_string_member (t, "change");

      g_test_message (
          "tier %s at %.0f ms: %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT "@%" G_GINT64_FORMAT
          " %" G_GINT64_FORMAT " kbps",
          change, json_object_get_double_member (t, "t_ms"),
          json_object_get_int_member (t, "width"), json_object_get_int_member (t, "height"),
          json_object_get_int_member (t, "fps"), json_object_get_int_member (t, "kbps"));
      if (g_str_equal (change, "down") && down_ms < 0)
        {
          down_ms = json_object_get_double_member (t, "t_ms");
          g_assert_cmpint (json_object_get_int_member (t, "tier"), ==, 1);
          g_assert_cmpint (json_object_get_int_member (t, "width"), ==, 854);
          g_assert_cmpint (json_object_get_int_member (t, "fps"), ==, 25);
        }
      if (g_str_equal (change, "up") && up_ms < 0)
        up_ms = json_object_get_double_member (t, "t_ms");
    }
  if (json_array_get_length (tiers) != 3)
    g_test_message ("CLI stderr: %s", cli->err);
  g_assert_cmpuint (json_array_get_length (tiers), ==, 3);
  /* The CLI's own account, on its clock (which starts at its join, after
   * its process start-up: timed below on our clock instead). */
  g_test_message ("CLI: down %.0f ms after the first poor report, up %.0f ms after the first "
                  "good one (clocks apart by its start-up)",
                  down_ms - bad_from_ms, up_ms - good_from_ms);
  g_assert_cmpfloat (down_ms, >, 0);
  g_assert_cmpfloat (up_ms, >, down_ms);

  /* What arrived followed: 720p key frames, then 480p, then 720p again; on
   * our clock, the 480p key frame came no sooner than 1.5 s after the first
   * poor report (the rule) and not much later (a report's period, a frame,
   * the machine's load), and 720p 5 s after the first good one. */
  {
    gboolean saw_480 = FALSE, saw_720_after = FALSE;
    gint64 down_seen = 0, up_seen = 0;

    g_assert_cmpuint (n_keys, >=, 3);
    g_assert_cmpint (keys[0].width, ==, 1280);
    for (guint i = 1; i < n_keys; i++)
      {
        g_test_message ("key frame %d px wide at +%.0f ms", keys[i].width,
                        (keys[i].at_us - bad_from) / 1000.0);
        if (keys[i].width == 854 && !saw_480)
          {
            saw_480 = TRUE;
            down_seen = keys[i].at_us;
          }
        else if (saw_480 && keys[i].width == 1280 && !saw_720_after)
          {
            saw_720_after = TRUE;
            up_seen = keys[i].at_us;
          }
      }
    g_assert_true (saw_480);
    g_assert_true (saw_720_after);
    g_test_message ("seen: down %.0f ms after the first poor report, up %.0f ms after the first "
                    "good one",
                    (down_seen - bad_from) / 1000.0, (up_seen - good_from) / 1000.0);
    g_assert_cmpint (down_seen - bad_from, >=, 1500 * 1000);
    g_assert_cmpint (down_seen - bad_from, <=, 3000 * 1000);
    g_assert_cmpint (up_seen - good_from, >=, 5000 * 1000);
    g_assert_cmpint (up_seen - good_from, <=, 7500 * 1000);
  }
  /* Between the steps the sender ran the lower tier's 25 fps. */
  {
    gint64 from = cli_start + (gint64) ((join_offset_ms + down_ms + 500) * 1000);
    gint64 to = cli_start + (gint64) ((join_offset_ms + up_ms - 100) * 1000);
    guint frames = 0;
    double fps;

    for (guint i = 0; i < arrivals->len; i++)
      {
        gint64 t = g_array_index (arrivals, gint64, i);

        if (t >= from && t < to)
          frames++;
      }
    fps = frames / ((to - from) / 1e6);
    g_test_message ("%.1f fps received in the lower tier", fps);
    g_assert_cmpfloat (fps, >=, 20);
    g_assert_cmpfloat (fps, <=, 27);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/call/quality/cli-step-down-and-up", test_step_down_and_up);
  return g_test_run ();
}
