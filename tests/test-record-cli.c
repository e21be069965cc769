/* test-record-cli.c: confab-cli --record and --video/--audio FILE with real
 * devices, inside a private PipeWire (tests/pipewire-env.sh): a sender with
 * the test camera and microphone, through the real confab-relay, to a
 * receiver that records the call (stopped by SIGINT, as a user would);
 * ffprobe and ffmpeg read the file back. Then that file is the next call's
 * camera and microphone. */
#define G_LOG_DOMAIN "test-record-cli"

#include "confab-test-cli.h"
#include "confab-test-util.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <signal.h>
#include <string.h>

/* The test microphone's sine (pipewire-env.sh). */
#define MIC_FREQ 660.0
/* --duration of the senders. A recording spans the receiver's first to last
 * packet: the sender's devices start up to a few hundred ms after its join
 * (PipeWire links the streams; measured 0.1-0.3 s), and its last packets
 * are sent just before it stops, so a track lasts SEND_S minus that start.
 * DURATION_SLACK_S allows for it twice over. */
#define SEND_S           5.0
#define DURATION_SLACK_S 0.6

static char *recorded_path;

/* ---- reading recordings back ----------------------------------------------------- */

typedef struct
{
  JsonParser *parser;
  JsonObject *format;
  JsonObject *video;
  JsonObject *audio;
  guint n_streams;
} Probe;

static void
probe_clear (Probe *probe)
{
  g_clear_object (&probe->parser);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Probe, probe_clear)

static gboolean
have_ffmpeg (void)
{
  g_autofree char *ffprobe = g_find_program_in_path ("ffprobe");
  g_autofree char *ffmpeg = g_find_program_in_path ("ffmpeg");

  if (ffprobe != NULL && ffmpeg != NULL)
    return TRUE;
  g_test_skip ("ffprobe/ffmpeg not installed (package ffmpeg)");
  return FALSE;
}

/* ffprobe's view of @path: streams, format, packets counted. */
static void
ffprobe (const char *path, Probe *probe)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  const char *argv[] = {
    "ffprobe",        "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
    "-count_packets", path, NULL
  };
  int status = 0;
  JsonArray *streams;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
                               &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("ffprobe %s: %s", path, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  probe->parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (probe->parser, out, -1, &error));
  probe->format = json_object_get_object_member (
      json_node_get_object (json_parser_get_root (probe->parser)), "format");
  streams = json_object_get_array_member (
      json_node_get_object (json_parser_get_root (probe->parser)), "streams");
  probe->n_streams = json_array_get_length (streams);
  for (guint i = 0; i < probe->n_streams; i++)
    {
      JsonObject *stream = json_array_get_object_element (streams, i);
      const char *type = json_object_get_string_member (stream, "codec_type");

      if (g_strcmp0 (type, "video") == 0 && probe->video == NULL)
        probe->video = stream;
      else if (g_strcmp0 (type, "audio") == 0 && probe->audio == NULL)
        probe->audio = stream;
    }
}

/* A stream's length as the Matroska muxer wrote it (its DURATION tag,
 * HH:MM:SS.nnnnnnnnn). */
static double
track_duration (JsonObject *stream)
{
  JsonObject *tags = json_object_get_object_member (stream, "tags");
  const char *text =
      tags != NULL ? json_object_get_string_member_with_default (tags, "DURATION", NULL) : NULL;
  int h = 0, m = 0;
  double s = 0;

  g_assert_nonnull (text);
  g_assert_cmpint (sscanf (text, "%d:%d:%lf", &h, &m, &s), ==, 3);
  return h * 3600 + m * 60 + s;
}

static gint64
packets_of (JsonObject *stream)
{
  return g_ascii_strtoll (json_object_get_string_member (stream, "nb_read_packets"), NULL, 10);
}

/* The pitch of the recording's audio, decoded by ffmpeg (48 kHz mono): the
 * median of ten 100 ms estimates from 1 s in (one concealed or silent
 * packet must not move it). */
static double
recorded_pitch (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSubprocess) ffmpeg = g_subprocess_new (
      G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error, "ffmpeg", "-v",
      "error", "-i", path, "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-ar", "48000", "-", NULL);
  g_autoptr (GBytes) pcm_bytes = NULL;
  const gint16 *pcm;
  gsize n;
  double estimates[10];

  g_assert_no_error (error);
  g_assert_true (g_subprocess_communicate (ffmpeg, NULL, NULL, &pcm_bytes, NULL, &error));
  g_assert_no_error (error);
  pcm = g_bytes_get_data (pcm_bytes, &n);
  n /= 2;
  g_assert_cmpuint (n, >=, 48000 * 3);
  for (int b = 0; b < 10; b++)
    {
      const gint16 *window = pcm + 48000 + b * 4800;
      gsize first = 0, last = 0;
      guint rising = 0;

      for (gsize i = 1; i < 4800; i++)
        if (window[i - 1] < 0 && window[i] >= 0)
          {
            if (rising == 0)
              first = i;
            last = i;
            rising++;
          }
      estimates[b] = rising < 2 ? 0 : (double) (rising - 1) * 48000 / (double) (last - first);
    }
  for (int i = 0; i < 10; i++)
    for (int j = i + 1; j < 10; j++)
      if (estimates[j] < estimates[i])
        {
          double t = estimates[i];

          estimates[i] = estimates[j];
          estimates[j] = t;
        }
  return (estimates[4] + estimates[5]) / 2;
}

/* ---- calls ------------------------------------------------------------------------ */

/* The recorder joins first (so it sees the first key frame) and stays until
 * SIGINT, sent a second after the sender left. */
static void
record_call (const char *const *sender_args,
             const char *const *recorder_args,
             ConfabTestCli **sender,
             ConfabTestCli **recorder)
{
  gboolean never = FALSE;

  *recorder = confab_test_cli_startv (recorder_args);
  confab_test_run_until (&never, 500);
  *sender = confab_test_cli_startv (sender_args);
  confab_test_cli_wait (*sender, 30000);
  confab_test_run_until (&never, 1000);
  g_assert_false ((*recorder)->done);
  g_subprocess_send_signal ((*recorder)->process, SIGINT);
  confab_test_cli_wait (*recorder, 15000);
  g_assert_cmpint ((*sender)->status, ==, 0);
  g_assert_cmpint ((*recorder)->status, ==, 0);
  g_assert_nonnull ((*sender)->summary);
  g_assert_nonnull ((*recorder)->summary);
}

/* What both calls check: the receiver decoded >= 90 % of what was sent, and
 * its recording holds that video (codec, size) and the audio (Opus 48 kHz
 * mono, the microphone's pitch) for the time the sender sent. */
static void
check_recording (
    ConfabTestCli *sender, ConfabTestCli *recorder, const char *path, int width, int height)
{
  JsonObject *sent = json_object_get_object_member (sender->summary, "sent");
  JsonObject *recording = json_object_get_object_member (recorder->summary, "recording");
  JsonObject *peer = confab_test_summary_peer (recorder->summary, NULL);
  JsonArray *files;
  gint64 sent_frames = json_object_get_int_member (sent, "video_frames");
  gint64 decoded = json_object_get_int_member (peer, "decoded_video_frames");
  g_auto (Probe) probe = { NULL };
  double video_s, audio_s, format_s, pitch;

  g_test_message ("sent %" G_GINT64_FORMAT " frames, decoded %" G_GINT64_FORMAT, sent_frames,
                  decoded);
  /* A trickle guard only: on a loaded machine a 720p encoder sends fewer
   * than 30 a second (what matters is that what was sent arrives). */
  g_assert_cmpint (sent_frames, >=, (gint64) (SEND_S * 30 / 3));
  g_assert_cmpint (decoded * 10, >=, sent_frames * 9);

  g_assert_nonnull (recording);
  files = json_object_get_array_member (recording, "files");
  g_assert_cmpuint (json_array_get_length (files), ==, 1);
  g_assert_cmpstr (json_array_get_string_element (files, 0), ==, path);
  g_assert_cmpint (json_object_get_int_member (recording, "video_tracks"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (recording, "audio_tracks"), ==, 1);

  ffprobe (path, &probe);
  g_assert_cmpuint (probe.n_streams, ==, 2);
  g_assert_nonnull (probe.video);
  g_assert_nonnull (probe.audio);
  g_assert_cmpstr (json_object_get_string_member (probe.video, "codec_name"), ==, "vp9");
  g_assert_cmpint (json_object_get_int_member (probe.video, "width"), ==, width);
  g_assert_cmpint (json_object_get_int_member (probe.video, "height"), ==, height);
  g_assert_cmpstr (json_object_get_string_member (probe.audio, "codec_name"), ==, "opus");
  g_assert_cmpstr (json_object_get_string_member (probe.audio, "sample_rate"), ==, "48000");
  g_assert_cmpint (json_object_get_int_member (probe.audio, "channels"), ==, 1);
  /* Every frame the recorder wrote is in the file, and that is every frame
   * that arrived (the first one is a key frame: the recorder was there). */
  g_assert_cmpint (packets_of (probe.video), ==,
                   json_object_get_int_member (recording, "video_frames"));
  g_assert_cmpint (packets_of (probe.video), ==, json_object_get_int_member (peer, "video_frames"));
  g_assert_cmpint (packets_of (probe.audio), ==,
                   json_object_get_int_member (peer, "audio_packets"));

  video_s = track_duration (probe.video);
  audio_s = track_duration (probe.audio);
  format_s = g_ascii_strtod (json_object_get_string_member (probe.format, "duration"), NULL);
  g_test_message ("durations: video %.3f s, audio %.3f s, file %.3f s", video_s, audio_s, format_s);
  g_assert_cmpfloat (fabs (video_s - SEND_S), <, DURATION_SLACK_S);
  g_assert_cmpfloat (fabs (audio_s - SEND_S), <, DURATION_SLACK_S);
  g_assert_cmpfloat (fabs (format_s - SEND_S), <, DURATION_SLACK_S);
  /* Both tracks are on the sender's capture clock: they end together. */
  g_assert_cmpfloat (fabs (video_s - audio_s), <, 0.2);

  pitch = recorded_pitch (path);
  g_test_message ("recorded audio: %.2f Hz", pitch);
  g_assert_cmpfloat (fabs (pitch - MIC_FREQ), <, 3);
}

/* The test: camera and microphone through the relay, recorded. */
static void
test_record_camera_call (void)
{
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autofree char *dir = g_dir_make_tmp ("confab-record-cli-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "call.mkv", NULL);
  g_autofree char *bob_url = NULL;
  g_autofree char *alice_url = NULL;
  g_autoptr (ConfabTestCli) bob = NULL;
  g_autoptr (ConfabTestCli) alice = NULL;
  g_autofree char *duration = g_strdup_printf ("%.0f", SEND_S);

  if (!have_ffmpeg ())
    return;
  relay = confab_test_relay_start (NULL);
  bob_url = g_strdup_printf ("%s/lobby/bob/recroom", relay->ws_base);
  alice_url = g_strdup_printf ("%s/lobby/alice/recroom", relay->ws_base);
  {
    const char *bob_args[] = { "join",           bob_url,    "--video", "none",        "--audio",
                               "none",           "--record", path,      "--transport", "websocket",
                               "--expect-peers", "1",        NULL };
    /* Noise suppression fades a steady tone; the pitch checks the path. */
    const char *alice_args[] = { "join",        alice_url,     "--video",          "camera:testcam",
                                 "--audio",     "mic:testmic", "--duration",       duration,
                                 "--transport", "websocket",   "--no-echo-cancel", NULL };

    record_call (alice_args, bob_args, &alice, &bob);
  }
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (alice->summary, "video"), "width"),
      ==, 1280);
  check_recording (alice, bob, path, 1280, 720);
  recorded_path = g_steal_pointer (&path);
}

/* The recording as the next call's camera and microphone (--video FILE
 * --audio FILE at --size 640x360): the receiver decodes its pictures and
 * records them again, the microphone's tone still in it. */
static void
test_record_round_trip (void)
{
  g_autoptr (ConfabTestRelay) relay = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autofree char *dave_url = NULL;
  g_autofree char *carol_url = NULL;
  g_autoptr (ConfabTestCli) dave = NULL;
  g_autoptr (ConfabTestCli) carol = NULL;
  g_autofree char *duration = g_strdup_printf ("%.0f", SEND_S);

  if (!have_ffmpeg ())
    return;
  if (recorded_path == NULL)
    {
      g_test_fail_printf ("no recording from /interop/record/camera-call to play");
      return;
    }
  dir = g_path_get_dirname (recorded_path);
  path = g_build_filename (dir, "again.mkv", NULL);
  relay = confab_test_relay_start (NULL);
  dave_url = g_strdup_printf ("%s/lobby/dave/recroom2", relay->ws_base);
  carol_url = g_strdup_printf ("%s/lobby/carol/recroom2", relay->ws_base);
  {
    const char *dave_args[] = { "join",           dave_url,   "--video", "none",        "--audio",
                                "none",           "--record", path,      "--transport", "websocket",
                                "--expect-peers", "1",        NULL };
    const char *carol_args[] = { "join",        carol_url,   "--video", recorded_path, "--audio",
                                 recorded_path, "--size",    "640x360", "--duration",  duration,
                                 "--transport", "websocket", NULL };

    record_call (carol_args, dave_args, &carol, &dave);
  }
  g_assert_cmpint (
      json_object_get_int_member (json_object_get_object_member (carol->summary, "sent"),
                                  "video_frames_skipped"),
      <=, 15);
  check_recording (carol, dave, path, 640, 360);

  g_unlink (path);
  g_unlink (recorded_path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  if (g_getenv ("PIPEWIRE_RUNTIME_DIR") == NULL)
    {
      g_print ("1..0 # SKIP run inside tests/pipewire-env.sh\n");
      return 0;
    }
  g_test_add_func ("/interop/record/camera-call", test_record_camera_call);
  g_test_add_func ("/interop/record/round-trip", test_record_round_trip);
  status = g_test_run ();
  g_free (recorded_path);
  return status;
}
