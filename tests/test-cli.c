/* test-cli.c: confab-cli against the real confab-relay (and nats-server): two
 * clients exchange real encoded media and each receives what the other sent;
 * exit statuses and invite links behave as docs/cli.md says. */
#define G_LOG_DOMAIN "test-cli"

#include "confab-packet.h"
#include "confab-test-cli.h"
#include "confab-test-util.h"
#include "confab-ws-transport.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* The codecs' own CPU count (codec_cpu_ms) of a client that sent and
 * received video and audio: each kind counted, together less than the
 * whole process (cpu_ms) and most of it (the codec dominates). */
static void
assert_codec_cpu (JsonObject *summary)
{
  JsonObject *codec = json_object_get_object_member (summary, "codec_cpu_ms");
  double cpu_ms = json_object_get_double_member (summary, "cpu_ms");
  double sum = 0;
  static const char *const kinds[] = { "video_encode", "video_decode", "audio_encode",
                                       "audio_decode" };

  for (guint i = 0; i < G_N_ELEMENTS (kinds); i++)
    {
      double ms = json_object_get_double_member (codec, kinds[i]);

      g_assert_cmpfloat (ms, >, 0);
      sum += ms;
    }
  g_test_message ("codec CPU %.0f ms of %.0f ms", sum, cpu_ms);
  g_assert_cmpfloat (sum, <, cpu_ms);
  g_assert_cmpfloat (sum, >, cpu_ms / 2);
}

/* @receiver got at least 90 % of what @sender says it sent. */
static void
assert_delivery (ConfabTestCli *receiver, ConfabTestCli *sender, const char *sender_name)
{
  JsonObject *sent = json_object_get_object_member (sender->summary, "sent");
  JsonObject *peer = confab_test_summary_peer (receiver->summary, sender_name);
  gint64 sent_video = json_object_get_int_member (sent, "video_frames");
  gint64 sent_audio = json_object_get_int_member (sent, "audio_packets");
  gint64 got_video, got_audio;

  g_assert_nonnull (peer);
  g_assert_cmpuint (confab_test_json_session_id (peer), ==,
                    confab_test_json_session_id (sender->summary));
  got_video = json_object_get_int_member (peer, "video_frames");
  got_audio = json_object_get_int_member (peer, "audio_packets");
  g_test_message ("from %s: video %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT
                  " (%.1f %%), audio %" G_GINT64_FORMAT "/%" G_GINT64_FORMAT " (%.1f %%), "
                  "%" G_GINT64_FORMAT " key frames, %" G_GINT64_FORMAT " gaps",
                  sender_name, got_video, sent_video, 100.0 * got_video / MAX (sent_video, 1),
                  got_audio, sent_audio, 100.0 * got_audio / MAX (sent_audio, 1),
                  json_object_get_int_member (peer, "video_keyframes"),
                  json_object_get_int_member (peer, "video_gaps"));
  /* 5 s of 30 fps video and 50 packets/s audio. */
  g_assert_cmpint (sent_video, >=, 140);
  g_assert_cmpint (sent_audio, >=, 240);
  g_assert_cmpint (got_video * 10, >=, sent_video * 9);
  g_assert_cmpint (got_audio * 10, >=, sent_audio * 9);
  g_assert_cmpint (got_video, <=, sent_video);
  g_assert_cmpint (got_audio, <=, sent_audio);
  g_assert_cmpint (json_object_get_int_member (peer, "video_keyframes"), >=, 1);
  /* And the pictures came out of the receiver's decoder. */
  g_test_message ("decoded %" G_GINT64_FORMAT " of %" G_GINT64_FORMAT " frames, %" G_GINT64_FORMAT
                  " decode errors",
                  json_object_get_int_member (peer, "decoded_video_frames"), got_video,
                  json_object_get_int_member (peer, "video_decode_errors"));
  /* Every frame from the first key frame on. A receiver that joined after the
   * sender's first key frame waits 1 s before asking (PROTOCOL.md §5), so it
   * may miss up to ~1.5 s of frames, and no more. */
  if (json_object_get_int_member (peer, "keyframe_requests_sent") == 0 &&
      json_object_get_int_member (peer, "video_gaps") == 0)
    g_assert_cmpint (json_object_get_int_member (peer, "decoded_video_frames"), ==, got_video);
  else
    g_assert_cmpint (json_object_get_int_member (peer, "decoded_video_frames"), >=, got_video - 45);
  g_assert_cmpint (json_object_get_int_member (peer, "video_decode_errors"), ==, 0);
  assert_codec_cpu (sender->summary);
}

static void
two_clients (const char *ws_base_a, const char *ws_base_b, const char *room)
{
  g_autofree char *url_a = g_strdup_printf ("%s/lobby/alice/%s", ws_base_a, room);
  g_autofree char *url_b = g_strdup_printf ("%s/lobby/bob/%s", ws_base_b, room);
  g_autoptr (ConfabTestCli) a = NULL;
  g_autoptr (ConfabTestCli) b = NULL;
  ConfabTestCli *runs[3];

  a = confab_test_cli_start ("join", url_a, "--size", "640x360", "--fps", "30", "--codec", "vp9",
                             "--duration", "5", "--expect-peers", "1", NULL);
  b = confab_test_cli_start ("join", url_b, "--size", "640x360", "--fps", "30", "--codec", "vp9",
                             "--duration", "5", "--expect-peers", "1", NULL);
  runs[0] = a;
  runs[1] = b;
  runs[2] = NULL;
  confab_test_cli_wait_all (runs, 30000);

  g_assert_cmpint (a->status, ==, 0);
  g_assert_cmpint (b->status, ==, 0);
  g_assert_nonnull (a->summary);
  g_assert_nonnull (b->summary);
  g_assert_cmpstr (json_object_get_string_member (a->summary, "transport"), ==, "websocket");
  g_assert_cmpuint (confab_test_json_session_id (a->summary), !=, 0);
  g_assert_cmpuint (confab_test_json_session_id (a->summary), !=,
                    confab_test_json_session_id (b->summary));
  /* Probes were echoed: an RTT was measured. */
  g_assert_false (json_node_is_null (json_object_get_member (a->summary, "rtt_ms")));
  g_assert_cmpfloat (json_object_get_double_member (a->summary, "rtt_ms"), >=, 0);

  assert_delivery (a, b, "bob");
  assert_delivery (b, a, "alice");
  /* Each one's DIAGNOSTICS about the other were good: nobody stepped down a
   * quality tier in a healthy call, and each got the other's receive stats. */
  for (guint i = 0; i < 2; i++)
    {
      ConfabTestCli *run = i == 0 ? a : b;
      JsonObject *video = json_object_get_object_member (run->summary, "video");
      JsonObject *peer = confab_test_summary_peer (run->summary, i == 0 ? "bob" : "alice");
      JsonObject *latency;

      g_assert_cmpuint (json_array_get_length (json_object_get_array_member (video, "tiers")), ==,
                        1);
      latency = json_object_get_object_member (peer, "latency_ms");
      g_assert_nonnull (latency);
      g_test_message ("latency p50 %.1f ms, p95 %.1f ms; concealed %" G_GINT64_FORMAT " ms",
                      json_object_get_double_member (latency, "p50"),
                      json_object_get_double_member (latency, "p95"),
                      json_object_get_int_member (peer, "audio_concealed_ms"));
      /* Loopback, one clock: capture to decode in well under a second. */
      g_assert_cmpfloat (json_object_get_double_member (latency, "p50"), >, 0);
      g_assert_cmpfloat (json_object_get_double_member (latency, "p50"), <, 500);
      g_assert_true (json_object_has_member (peer, "lip_sync"));
    }
}

static void
test_two_clients_one_relay (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("one-relay");

  two_clients (relay->ws_base, relay->ws_base, room);
}

static void
test_two_clients_two_relays_nats (void)
{
  g_autoptr (ConfabTestNats) nats = confab_test_nats_start (0);
  const char *args_1[] = { "--nats", nats->url, "--server-id", "relay-1", NULL };
  const char *args_2[] = { "--nats", nats->url, "--server-id", "relay-2", NULL };
  g_autoptr (ConfabTestRelay) relay_1 = confab_test_relay_start (args_1);
  g_autoptr (ConfabTestRelay) relay_2 = confab_test_relay_start (args_2);
  g_autofree char *room = confab_test_unique_room ("two-relays");

  two_clients (relay_1->ws_base, relay_2->ws_base, room);
}

static void
test_expect_peers_unmet (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("alone");
  g_autofree char *url = g_strdup_printf ("%s/lobby/alone/%s", relay->ws_base, room);
  g_autoptr (ConfabTestCli) run =
      confab_test_cli_start ("join", url, "--size", "320x180", "--fps", "15", "--duration", "1",
                             "--expect-peers", "1", NULL);

  confab_test_cli_wait (run, 20000);
  g_assert_cmpint (run->status, ==, 1);
  /* The summary is still printed: joined, sent, saw nobody. */
  g_assert_nonnull (run->summary);
  g_assert_cmpuint (confab_test_json_session_id (run->summary), !=, 0);
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (run->summary, "peers")), ==,
                   0);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (run->summary, "sent"),
                                               "video_frames"),
                   >, 0);
}

/* A participant that claims (in its heartbeats) to send video and audio but
 * sends none, over the real WebSocket transport of net/. */
typedef struct
{
  ConfabTransport *transport;
  guint64 session_id;
  guint timer;
} Silent;

static gboolean
silent_heartbeat (gpointer data)
{
  Silent *silent = data;
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__HeartbeatMetadata heartbeat = CONFAB__HEARTBEAT_METADATA__INIT;
  g_autoptr (GBytes) inner = NULL;
  g_autoptr (GBytes) packet = NULL;
  gsize len;
  const guint8 *data_ptr;

  media.media_type = CONFAB_MEDIA_HEARTBEAT;
  media.user_id.data = (guint8 *) "mute";
  media.user_id.len = 4;
  media.timestamp = (double) confab_now_epoch_ms ();
  heartbeat.video_enabled = TRUE;
  heartbeat.audio_enabled = TRUE;
  media.heartbeat_metadata = &heartbeat;
  inner = confab_message_pack (&media.base);
  data_ptr = g_bytes_get_data (inner, &len);
  packet = confab_packet_wrap (CONFAB_PACKET_MEDIA, "mute", silent->session_id, data_ptr, len);
  confab_transport_send (silent->transport, packet);
  return G_SOURCE_CONTINUE;
}

static void
test_expect_peers_no_media (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("mute");
  g_autofree char *url = g_strdup_printf ("%s/lobby/listener/%s", relay->ws_base, room);
  g_autofree char *silent_url = g_strdup_printf ("%s/lobby/mute/%s", relay->ws_base, room);
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabTestCli) run = NULL;
  Silent silent = { 0 };
  JsonObject *mute;

  silent.transport = confab_ws_transport_new (silent_url, &error);
  g_assert_no_error (error);
  confab_transport_open (silent.transport);
  silent.timer = g_timeout_add (300, silent_heartbeat, &silent);

  run = confab_test_cli_start ("join", url, "--size", "320x180", "--fps", "15", "--duration", "2",
                               "--expect-peers", "1", NULL);
  confab_test_cli_wait (run, 20000);
  g_source_remove (silent.timer);
  confab_transport_close (silent.transport);
  g_clear_object (&silent.transport);

  /* The peer was seen and said it sends, but nothing arrived: not met. */
  g_assert_cmpint (run->status, ==, 1);
  mute = confab_test_summary_peer (run->summary, "mute");
  g_assert_nonnull (mute);
  g_assert_true (json_object_get_boolean_member (mute, "video_enabled"));
  g_assert_cmpint (json_object_get_int_member (mute, "heartbeats"), >, 0);
  g_assert_cmpint (json_object_get_int_member (mute, "video_frames"), ==, 0);
}

static void
assert_exit_2_with_reason (ConfabTestCli *run, const char *phrase)
{
  g_assert_cmpint (run->status, ==, 2);
  g_assert_nonnull (run->err);
  g_assert_true (g_str_has_prefix (run->err, "confab-cli: "));
  /* One line of reason. */
  g_assert_nonnull (strchr (run->err, '\n'));
  g_assert_cmpstr (strchr (run->err, '\n') + 1, ==, "");
  if (phrase != NULL && strstr (run->err, phrase) == NULL)
    g_error ("stderr “%s” lacks “%s”", run->err, phrase);
}

static void
test_usage_errors (void)
{
  static const char *const cases[][8] = {
    { NULL },
    { "join", NULL },
    { "leave", "ws://127.0.0.1:1/lobby/a/b", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "extra", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "--codec", "h265", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "--size", "12x12", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "--size", "640", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "--fps", "0", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "--video", "camera", NULL },
    { "join", "ws://127.0.0.1:1/lobby/a/b", "--bogus", NULL },
    { "join", "ftp://127.0.0.1/meeting/x", NULL },
    { "join", "http://127.0.0.1:1/meeting/bad.room", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ConfabTestCli) run = confab_test_cli_start (
          cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4], cases[i][5], NULL);
      confab_test_cli_wait (run, 10000);
      assert_exit_2_with_reason (run, NULL);
    }
}

static void
test_help_and_version (void)
{
  g_autoptr (ConfabTestCli) help = confab_test_cli_start ("--help", NULL);
  g_autoptr (ConfabTestCli) version = confab_test_cli_start ("--version", NULL);

  confab_test_cli_wait (help, 10000);
  confab_test_cli_wait (version, 10000);
  g_assert_cmpint (help->status, ==, 0);
  g_assert_nonnull (strstr (help->out, "join URL"));
  g_assert_nonnull (strstr (help->out, "--expect-peers"));
  g_assert_cmpint (version->status, ==, 0);
  g_assert_true (g_str_has_prefix (version->out, "confab-cli "));
}

static void
test_unreachable_relay (void)
{
  guint16 port = confab_test_free_port ();
  g_autofree char *ws = g_strdup_printf ("ws://127.0.0.1:%u/lobby/a/room", port);
  g_autofree char *invite = g_strdup_printf ("http://127.0.0.1:%u/meeting/room", port);
  g_autoptr (ConfabTestCli) direct = confab_test_cli_start ("join", ws, "--duration", "1", NULL);
  g_autoptr (ConfabTestCli) via_config =
      confab_test_cli_start ("join", invite, "--duration", "1", NULL);
  gint64 t0 = g_get_monotonic_time ();

  confab_test_cli_wait (direct, 20000);
  confab_test_cli_wait (via_config, 20000);
  assert_exit_2_with_reason (direct, "Cannot connect");
  assert_exit_2_with_reason (via_config, "config.js");
  /* Refused connections fail fast, not after a timeout. */
  g_assert_cmpint (g_get_monotonic_time () - t0, <, 5 * G_USEC_PER_SEC);
}

static void
test_refused_room (void)
{
  /* The relay validates too; a name only the relay would refuse does not
   * exist (the CLI checks first), so ask for a room token it cannot accept. */
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *url = g_strdup_printf ("%s/lobby?token=not-a-jwt", relay->ws_base);
  g_autoptr (ConfabTestCli) run = confab_test_cli_start ("join", url, "--duration", "1", NULL);

  confab_test_cli_wait (run, 20000);
  assert_exit_2_with_reason (run, NULL);
}

static void
test_invite_links (void)
{
  g_autoptr (ConfabTestRelay) relay = confab_test_relay_start (NULL);
  g_autofree char *room = confab_test_unique_room ("invite");
  g_autofree char *web = g_strdup_printf ("%s/meeting/%s", relay->http_base, room);
  g_autofree char *confab =
      g_strdup_printf ("confab://127.0.0.1:%u/%s?name=carol", relay->ws_port, room);
  /* dave also covers VP8 end to end. */
  g_autoptr (ConfabTestCli) a =
      confab_test_cli_start ("join", web, "--name", "dave", "--codec", "vp8", "--size", "320x180",
                             "--fps", "15", "--duration", "2", "--expect-peers", "1", NULL);
  g_autoptr (ConfabTestCli) b = confab_test_cli_start (
      "join", confab, "--video", "none", "--duration", "2", "--expect-peers", "1", NULL);
  ConfabTestCli *runs[] = { a, b, NULL };
  JsonObject *carol, *dave;

  confab_test_cli_wait_all (runs, 20000);
  g_assert_cmpint (a->status, ==, 0);
  g_assert_cmpint (b->status, ==, 0);
  /* Both reached the same room on the relay named by /config.js. */
  carol = confab_test_summary_peer (a->summary, "carol");
  dave = confab_test_summary_peer (b->summary, "dave");
  g_assert_nonnull (carol);
  g_assert_nonnull (dave);
  g_assert_cmpint (json_object_get_int_member (dave, "video_frames"), >, 0);
  g_assert_cmpint (json_object_get_int_member (carol, "audio_packets"), >, 0);
  /* carol sends no video and says so: nothing is expected from her. */
  g_assert_cmpint (json_object_get_int_member (carol, "video_frames"), ==, 0);
  g_assert_false (json_object_get_boolean_member (carol, "video_enabled"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cli/usage-errors", test_usage_errors);
  g_test_add_func ("/cli/help-and-version", test_help_and_version);
  g_test_add_func ("/cli/unreachable-relay", test_unreachable_relay);
  g_test_add_func ("/cli/refused-room", test_refused_room);
  g_test_add_func ("/cli/expect-peers-unmet", test_expect_peers_unmet);
  g_test_add_func ("/cli/expect-peers-no-media", test_expect_peers_no_media);
  g_test_add_func ("/cli/invite-links", test_invite_links);
  g_test_add_func ("/cli/two-clients/one-relay", test_two_clients_one_relay);
  g_test_add_func ("/cli/two-clients/two-relays-nats", test_two_clients_two_relays_nats);
  return g_test_run ();
}
