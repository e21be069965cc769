/* confab-cli.c: a headless Confab client. `confab-cli join URL` joins a room,
 * sends generated video and audio encoded in real time, counts what peers
 * send, and prints one JSON summary line on exit (docs/cli.md). */
#define G_LOG_DOMAIN "confab-cli"

#include "confab-audio-encoder.h"
#include "confab-call.h"
#include "confab-chat.h"
#include "confab-codec-cpu.h"
#include "confab-election.h"
#include "confab-invite.h"
#include "confab-media-sender.h"
#include "confab-pipewire-audio.h"
#include "confab-pipewire-camera.h"
#include "confab-playout.h"
#include "confab-media-file.h"
#include "confab-recorder.h"
#include "confab-test-source.h"
#include "confab-video-encoder.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define EXIT_EXPECTATION_FAILED  1
#define EXIT_USAGE_OR_CONNECTION 2

/* Time to receive what peers sent just before we stopped sending. */
#define LINGER_MS        500
#define CLOSE_TIMEOUT_MS 2000
#define JOIN_TIMEOUT_S   15
/* Audio keeps real time: catch up at most this many 20 ms packets per tick. */
#define AUDIO_MAX_CATCH_UP 5

typedef struct
{
  /* Options */
  char *url;
  char *name;
  char *server;
  gboolean video;
  gboolean audio;
  ConfabVideoCodec codec;
  int width;
  int height;
  int fps;
  double duration_s;
  int expect_peers;
  gboolean use_webtransport;
  gboolean use_websocket;
  char *cert_hash;
  gboolean insecure;
  char *wt_base;         /* https://host:port of an https://…/lobby/… link */
  gboolean video_camera; /* --video camera[:NAME] */
  char *camera_target;
  gboolean audio_mic; /* --audio mic[:NAME] */
  char *mic_target;
  gboolean play;
  /* --play=DEVICE, --no-echo-cancel */
  char *play_target;
  gboolean no_echo_cancel;
  guint speaking_changes;
  gboolean no_adapt; /* --no-adapt: keep the first quality tier */
  char **chat;       /* --chat, sent in order once joined */
  char *video_path;  /* --video FILE */
  char *audio_path;  /* --audio FILE */
  char *record_path; /* --record FILE.mkv */

  /* Owned */
  GMainLoop *loop;
  ConfabInvite *invite;
  ConfabCall *call;
  ConfabMediaSender *sender; /* encoders, tiers, keyframes: what we send */
  ConfabTestPattern *pattern;
  ConfabToneSource *tone;
  ConfabPipewire *pipewire;
  ConfabCameraSource *camera;
  ConfabAudioCapture *mic;
  ConfabPlayout *playout; /* --play */
  ConfabMediaFile *video_file;
  ConfabMediaFile *audio_file;
  ConfabRecorder *recorder;
  GSource *video_ticker;
  GSource *audio_ticker;
  GSource *playout_ticker; /* without --play */
  guint64 playout_frames;
  guint duration_id;
  guint join_timeout_id;
  guint close_timeout_id;
  guint linger_id;

  gint64 start_us;
  double start_cpu_s; /* process CPU spent before the call started */
  gint64 join_us;
  gint64 media_start_us;
  /* The test pattern follows the sender's tier: its size, and a rate whose
   * schedule restarts at video_start_us when the tier changes it. */
  int pattern_width;
  int pattern_height;
  int video_fps;
  gint64 video_start_us;
  guint64 video_frame_base;
  gboolean camera_rate_known;
  guint64 video_frames_due;
  guint64 video_frames_skipped;
  guint64 audio_packets_due;
  GString *chat_received; /* JSON objects, comma-separated */
  guint n_chat_received;
  guint n_chat_sent;
  gboolean stopping;
  int exit_code;
  char *error;
} Cli;

static void cli_stop (Cli *cli);
static void on_chat_message (ConfabCall *call,
                             ConfabPeer *peer,
                             const char *id,
                             const char *display_name,
                             const char *text,
                             guint64 timestamp_ms,
                             Cli *cli);

static G_GNUC_PRINTF (2, 3) void cli_fail (Cli *cli, const char *format, ...)
{
  va_list args;

  if (cli->error != NULL)
    return;
  va_start (args, format);
  cli->error = g_strdup_vprintf (format, args);
  va_end (args);
  cli->exit_code = EXIT_USAGE_OR_CONNECTION;
}

/* ---- pacing ------------------------------------------------------------------ */

/* A GSource that fires at absolute monotonic times, so frames follow the
 * wall clock instead of accumulating timer drift. */
typedef gboolean (*TickFunc) (Cli *cli, gint64 now);

typedef struct
{
  GSource source;
  TickFunc func;
  Cli *cli;
} Ticker;

static gboolean
ticker_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  Ticker *ticker = (Ticker *) source;

  return ticker->func (ticker->cli, g_get_monotonic_time ());
}

static GSourceFuncs ticker_funcs = { .dispatch = ticker_dispatch };

static GSource *
ticker_new (Cli *cli, TickFunc func, gint64 first_us)
{
  Ticker *ticker = (Ticker *) g_source_new (&ticker_funcs, sizeof (Ticker));

  ticker->func = func;
  ticker->cli = cli;
  g_source_set_ready_time (&ticker->source, first_us);
  g_source_set_priority (&ticker->source, G_PRIORITY_HIGH);
  g_source_attach (&ticker->source, NULL);
  return &ticker->source;
}

static void
clear_ticker (GSource **ticker)
{
  if (*ticker == NULL)
    return;
  g_source_destroy (*ticker);
  g_clear_pointer (ticker, g_source_unref);
}

static gint64
video_frame_time (Cli *cli, guint64 index)
{
  return cli->video_start_us + (gint64) (index * G_USEC_PER_SEC / cli->video_fps);
}

static gboolean
on_video_tick (Cli *cli, gint64 now)
{
  g_autoptr (ConfabVideoFrame) frame = NULL;
  g_autoptr (GError) error = NULL;
  int width, height, fps;
  guint64 due;

  /* Draw at the tier's size and rate, so the sender neither scales nor skips. */
  confab_media_sender_get_video_format (cli->sender, &width, &height, &fps, NULL);
  if (cli->pattern == NULL || width != cli->pattern_width || height != cli->pattern_height)
    {
      g_clear_pointer (&cli->pattern, confab_test_pattern_free);
      cli->pattern = confab_test_pattern_new (width, height);
      cli->pattern_width = width;
      cli->pattern_height = height;
    }
  if (fps != cli->video_fps)
    {
      cli->video_frame_base += cli->video_frames_due;
      cli->video_frames_due = 0;
      cli->video_start_us = now;
      cli->video_fps = fps;
    }
  due = (guint64) ((now - cli->video_start_us) * cli->video_fps / G_USEC_PER_SEC);

  /* Behind by more than a frame: skip, as a camera would, rather than burst. */
  if (due > cli->video_frames_due)
    {
      cli->video_frames_skipped += due - cli->video_frames_due;
      cli->video_frames_due = due;
    }

  if (cli->video_file != NULL)
    {
      /* --video FILE: the file's picture for this moment, at the tier's size. */
      gint64 at = video_frame_time (cli, cli->video_frames_due);

      confab_media_file_set_video_size (cli->video_file, width, height);
      frame = confab_media_file_next_video (cli->video_file, at - cli->media_start_us, at, &error);
    }
  else
    frame = confab_test_pattern_next (cli->pattern, cli->video_frame_base + cli->video_frames_due,
                                      video_frame_time (cli, cli->video_frames_due));
  if (frame == NULL || !confab_media_sender_push_video (cli->sender, frame, &error))
    {
      cli_fail (cli, "%s", error->message);
      cli_stop (cli);
      return G_SOURCE_REMOVE;
    }

  cli->video_frames_due++;
  g_source_set_ready_time (cli->video_ticker, video_frame_time (cli, cli->video_frames_due));
  return G_SOURCE_CONTINUE;
}

static gboolean
on_audio_tick (Cli *cli, gint64 now)
{
  gint16 samples[CONFAB_AUDIO_FRAME_SAMPLES];
  guint64 due = (guint64) ((now - cli->media_start_us) / 20000) + 1;

  if (due > cli->audio_packets_due + AUDIO_MAX_CATCH_UP)
    cli->audio_packets_due = due - AUDIO_MAX_CATCH_UP;
  while (cli->audio_packets_due < due)
    {
      g_autoptr (GError) error = NULL;

      if (cli->audio_file != NULL)
        {
          /* --audio FILE: its next 20 ms. */
          if (!confab_media_file_read_audio (cli->audio_file, samples, &error))
            {
              cli_fail (cli, "%s", error->message);
              cli_stop (cli);
              return G_SOURCE_REMOVE;
            }
        }
      else
        confab_tone_source_fill (cli->tone, samples, G_N_ELEMENTS (samples));
      if (!confab_media_sender_push_audio (cli->sender, samples, &error))
        {
          cli_fail (cli, "%s", error->message);
          cli_stop (cli);
          return G_SOURCE_REMOVE;
        }
      cli->audio_packets_due++;
    }
  g_source_set_ready_time (cli->audio_ticker,
                           cli->media_start_us + (gint64) cli->audio_packets_due * 20000);
  return G_SOURCE_CONTINUE;
}

/* ---- PipeWire devices: --video camera, --audio mic, --play ----------------------- */

static gboolean
cli_sending (Cli *cli)
{
  return cli->join_us != 0 && !cli->stopping;
}

static void
on_camera_frame (ConfabCameraSource *camera, ConfabVideoFrame *frame, Cli *cli)
{
  g_autoptr (GError) error = NULL;
  double fps = 0;

  if (!cli_sending (cli))
    return;
  /* The encoder follows what the camera negotiated (within the tier), not
   * --size/--fps. */
  if (!cli->camera_rate_known && confab_camera_source_get_format (camera, NULL, NULL, &fps, NULL) &&
      fps >= 1)
    {
      confab_media_sender_set_source_fps (cli->sender, CLAMP ((int) (fps + 0.5), 1, 60));
      cli->camera_rate_known = TRUE;
    }
  if (!confab_media_sender_push_video (cli->sender, frame, &error))
    {
      cli_fail (cli, "%s", error->message);
      cli_stop (cli);
    }
}

static void
on_mic_chunk (ConfabAudioCapture *mic, const gint16 *samples, Cli *cli)
{
  g_autoptr (GError) error = NULL;

  if (!cli_sending (cli))
    return;
  if (!confab_media_sender_push_audio (cli->sender, samples, &error))
    {
      cli_fail (cli, "%s", error->message);
      cli_stop (cli);
    }
}

/* The processed microphone's voice activity goes into our heartbeats. */
static void
on_mic_speaking (ConfabAudioCapture *mic, gboolean speaking, Cli *cli)
{
  cli->speaking_changes++;
  if (cli->call != NULL)
    confab_call_set_speaking (cli->call, speaking);
}

/* A device vanished or PipeWire went away: the call cannot go on as asked. */
static void
on_device_error (GObject *device, const GError *error, Cli *cli)
{
  cli_fail (cli, "%s", error->message);
  cli_stop (cli);
}

/* --video FILE, --audio FILE and --record FILE, before joining: a file that
 * cannot be read or written is a usage error (exit 2) and nobody sees us
 * join. */
static gboolean
open_files (Cli *cli)
{
  g_autoptr (GError) error = NULL;

  if (cli->video_path != NULL)
    cli->video_file =
        confab_media_file_open_video (cli->video_path, cli->width, cli->height, &error);
  if (error == NULL && cli->audio_path != NULL)
    cli->audio_file = confab_media_file_open_audio (cli->audio_path, &error);
  if (error == NULL && cli->record_path != NULL)
    cli->recorder = confab_recorder_new (cli->record_path, &error);
  if (error != NULL)
    {
      cli_fail (cli, "%s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* Without --play nothing would pull the peers' audio: play it to nowhere on
 * a 20 ms clock, so concealment and lip sync work as with a speaker. */
static gboolean
on_playout_tick (Cli *cli, gint64 now)
{
  gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
  guint64 due = (guint64) ((now - cli->media_start_us) / 20000) + 1;

  if (due > cli->playout_frames + AUDIO_MAX_CATCH_UP)
    cli->playout_frames = due - AUDIO_MAX_CATCH_UP;
  while (cli->playout_frames < due)
    {
      confab_playout_mix (cli->call, pcm);
      cli->playout_frames++;
    }
  g_source_set_ready_time (cli->playout_ticker,
                           cli->media_start_us + (gint64) cli->playout_frames * 20000);
  return G_SOURCE_CONTINUE;
}

/* Opens what --video camera, --audio mic and --play ask for; FALSE (with
 * cli->error) when PipeWire or a device is not there. */
static gboolean
open_devices (Cli *cli)
{
  g_autoptr (GError) error = NULL;

  if (!cli->video_camera && !cli->audio_mic && !cli->play)
    return TRUE;
  cli->pipewire = confab_pipewire_new (-1, &error);
  if (cli->pipewire == NULL)
    goto failed;
  if (cli->video_camera)
    {
      cli->camera = confab_camera_source_new (cli->pipewire, cli->camera_target, cli->width,
                                              cli->height, cli->fps, &error);
      if (cli->camera == NULL)
        goto failed;
      g_signal_connect (cli->camera, "frame", G_CALLBACK (on_camera_frame), cli);
      g_signal_connect (cli->camera, "error", G_CALLBACK (on_device_error), cli);
    }
  if (cli->audio_mic)
    {
      cli->mic = confab_audio_capture_new (cli->pipewire, cli->mic_target, FALSE, &error);
      if (cli->mic == NULL)
        goto failed;
      g_signal_connect (cli->mic, "chunk", G_CALLBACK (on_mic_chunk), cli);
      g_signal_connect (cli->mic, "speaking-changed", G_CALLBACK (on_mic_speaking), cli);
      g_signal_connect (cli->mic, "error", G_CALLBACK (on_device_error), cli);
      /* Voice activity stays on: it only listens. */
      if (cli->no_echo_cancel)
        confab_audio_processing_set_enabled (confab_audio_capture_get_processing (cli->mic), FALSE);
    }
  if (cli->play)
    {
      /* The call comes later (confab_playout_set_call): silence till then. */
      cli->playout = confab_playout_new (NULL, cli->play_target);
      g_signal_connect (cli->playout, "error", G_CALLBACK (on_device_error), cli);
      /* What the speaker plays is what the microphone may hear again. */
      if (cli->mic != NULL)
        confab_playout_set_echo_processing (cli->playout,
                                            confab_audio_capture_get_processing (cli->mic));
      if (!confab_playout_start (cli->playout, cli->pipewire, &error))
        goto failed;
    }
  return TRUE;

failed:
  cli_fail (cli, "%s", error->message);
  return FALSE;
}

/* ---- call events --------------------------------------------------------------- */

static gboolean
on_close_timeout (gpointer data)
{
  Cli *cli = data;

  cli->close_timeout_id = 0;
  g_main_loop_quit (cli->loop);
  return G_SOURCE_REMOVE;
}

static gboolean
on_linger_done (gpointer data)
{
  Cli *cli = data;

  cli->linger_id = 0;
  confab_call_leave (cli->call);
  cli->close_timeout_id = g_timeout_add (CLOSE_TIMEOUT_MS, on_close_timeout, cli);
  return G_SOURCE_REMOVE;
}

static void
cli_stop (Cli *cli)
{
  if (cli->stopping)
    return;
  cli->stopping = TRUE;
  clear_ticker (&cli->video_ticker);
  clear_ticker (&cli->audio_ticker);
  clear_ticker (&cli->playout_ticker);
  g_clear_handle_id (&cli->duration_id, g_source_remove);
  g_clear_handle_id (&cli->join_timeout_id, g_source_remove);
  if (cli->call == NULL || confab_transport_is_closed (confab_call_get_transport (cli->call)))
    {
      g_main_loop_quit (cli->loop);
      return;
    }
  if (cli->error != NULL || confab_call_get_session_id (cli->call) == 0)
    on_linger_done (cli);
  else
    cli->linger_id = g_timeout_add (LINGER_MS, on_linger_done, cli);
}

static gboolean
on_duration_elapsed (gpointer data)
{
  Cli *cli = data;

  cli->duration_id = 0;
  cli_stop (cli);
  return G_SOURCE_REMOVE;
}

static gboolean
on_join_timeout (gpointer data)
{
  Cli *cli = data;

  cli->join_timeout_id = 0;
  cli_fail (cli, "No session from the relay within %d s", JOIN_TIMEOUT_S);
  cli_stop (cli);
  return G_SOURCE_REMOVE;
}

static gboolean
on_unix_signal (gpointer data)
{
  cli_stop (data);
  return G_SOURCE_CONTINUE;
}

static void
on_session_assigned (ConfabCall *call, guint64 session_id, Cli *cli)
{
  /* Again after a path switch or a reconnect: the same call goes on (the
   * sender starts the new session with a key frame). */
  if (cli->join_us != 0)
    return;
  cli->join_us = g_get_monotonic_time ();
  g_clear_handle_id (&cli->join_timeout_id, g_source_remove);
  if (cli->stopping)
    return;

  /* [confab] chat: every --chat message once, in order. */
  for (guint i = 0; cli->chat != NULL && cli->chat[i] != NULL; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *id = confab_call_send_chat (call, cli->chat[i], cli->name, NULL, &error);

      if (id == NULL)
        g_printerr ("confab-cli: chat message not sent: %s\n", error->message);
      else
        cli->n_chat_sent++;
    }

  cli->media_start_us = cli->join_us;
  /* A camera and a microphone bring their own clocks. */
  if (cli->video && !cli->video_camera)
    cli->video_ticker = ticker_new (cli, on_video_tick, cli->media_start_us);
  if (cli->audio && !cli->audio_mic)
    cli->audio_ticker = ticker_new (cli, on_audio_tick, cli->media_start_us);
  if (!cli->play)
    cli->playout_ticker = ticker_new (cli, on_playout_tick, cli->media_start_us + 20000);
  if (cli->duration_s > 0)
    cli->duration_id = g_timeout_add ((guint) (cli->duration_s * 1000), on_duration_elapsed, cli);
}

/* --record: every peer's packets as they arrive, remuxed (confab-recorder). */
static void
on_media_record (ConfabCall *call,
                 ConfabPeer *peer,
                 int media_type,
                 GBytes *payload,
                 gboolean is_key,
                 guint64 sequence,
                 double timestamp,
                 Cli *cli)
{
  ConfabRecorderKind kind;

  if (media_type == CONFAB_MEDIA_VIDEO)
    kind = CONFAB_RECORDER_VIDEO;
  else if (media_type == CONFAB_MEDIA_AUDIO)
    kind = CONFAB_RECORDER_AUDIO;
  else if (media_type == CONFAB_MEDIA_SCREEN)
    kind = CONFAB_RECORDER_SCREEN;
  else
    return;
  confab_recorder_add_packet (cli->recorder, confab_peer_get_user_id (peer),
                              confab_peer_get_session_id (peer), kind, payload, is_key, sequence,
                              timestamp);
}

static void
on_call_closed (ConfabCall *call, const GError *error, Cli *cli)
{
  if (error != NULL && !cli->stopping)
    cli_fail (cli, "%s", error->message);
  cli->stopping = FALSE; /* let cli_stop() finish the loop */
  cli_stop (cli);
  g_clear_handle_id (&cli->close_timeout_id, g_source_remove);
  g_main_loop_quit (cli->loop);
}

/* A webTransportHost entry as a base URL: upstream writes https://host, a
 * bare host:port means the same. */
static char *
webtransport_base (const char *host)
{
  if (g_str_has_prefix (host, "https://"))
    return g_strdup (host);
  return g_strdup_printf ("https://%s", host);
}

/* Every path --transport allows, WebTransport first (PROTOCOL.md §5). */
static char **
candidate_urls (Cli *cli, const char *const *wt_bases, const char *const *ws_bases, GError **error)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  g_auto (GStrv) urls = NULL;

  for (guint pass = 0; pass < 2; pass++)
    {
      const char *const *bases = pass == 0 ? wt_bases : ws_bases;

      if ((pass == 0 && !cli->use_webtransport) || (pass == 1 && !cli->use_websocket))
        continue;
      for (guint i = 0; bases != NULL && bases[i] != NULL; i++)
        {
          g_autofree char *base = pass == 0 ? webtransport_base (bases[i]) : g_strdup (bases[i]);
          g_autofree char *lobby = confab_invite_lobby_url (cli->invite, base, cli->name, error);

          if (lobby == NULL)
            return NULL;
          g_strv_builder_add (builder, lobby);
        }
    }
  urls = g_strv_builder_end (builder);
  if (urls[0] == NULL)
    {
      g_set_error (error, CONFAB_TRANSPORT_ERROR, CONFAB_TRANSPORT_ERROR_INVALID,
                   "This link offers no %s server",
                   cli->use_websocket ? "WebSocket" : "WebTransport");
      return NULL;
    }
  return g_steal_pointer (&urls);
}

static void
on_sender_error (ConfabMediaSender *sender, const GError *error, Cli *cli)
{
  cli_fail (cli, "%s", error->message);
  cli_stop (cli);
}

static void
start_call (Cli *cli,
            const char *const *wt_bases,
            const char *const *ws_bases,
            const char *config_cert_hash)
{
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) urls = NULL;
  g_autoptr (ConfabTransport) transport = NULL;
  ConfabElectionOptions options = {
    .cert_hash = cli->cert_hash != NULL ? cli->cert_hash : config_cert_hash,
    .insecure = cli->insecure,
  };

  urls = candidate_urls (cli, wt_bases, ws_bases, &error);
  if (urls != NULL)
    transport = confab_election_new ((const char *const *) urls, cli->name, &options, &error);
  if (transport == NULL)
    {
      cli_fail (cli, "%s", error->message);
      g_main_loop_quit (cli->loop);
      return;
    }
  cli->call = confab_call_new (transport, cli->name != NULL ? cli->name : cli->invite->user);
  if (cli->playout != NULL)
    confab_playout_set_call (cli->playout, cli->call);
  {
    /* --size/--fps cap the tiers; a camera's own size and rate do. */
    ConfabMediaSenderConfig config = {
      .codec = cli->codec,
      .max_width = cli->video_camera ? 0 : cli->width,
      .max_height = cli->video_camera ? 0 : cli->height,
      .max_fps = cli->video_camera ? 0 : cli->fps,
      .adapt = !cli->no_adapt,
    };

    cli->sender = confab_media_sender_new (cli->call, &config);
    confab_media_sender_set_video_enabled (cli->sender, cli->video);
    confab_media_sender_set_audio_enabled (cli->sender, cli->audio);
    g_signal_connect (cli->sender, "error", G_CALLBACK (on_sender_error), cli);
  }
  /* Decode what peers send, so the summary proves pictures come out. */
  confab_call_set_receive_media (cli->call, TRUE, TRUE);
  g_signal_connect (cli->call, "session-assigned", G_CALLBACK (on_session_assigned), cli);
  g_signal_connect (cli->call, "closed", G_CALLBACK (on_call_closed), cli);
  g_signal_connect (cli->call, "chat-message", G_CALLBACK (on_chat_message), cli);
  if (cli->recorder != NULL)
    g_signal_connect (cli->call, "media", G_CALLBACK (on_media_record), cli);
  confab_call_start (cli->call);
}

static void
on_config_fetched (GObject *source, GAsyncResult *result, gpointer data)
{
  Cli *cli = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabServerConfig) config = confab_server_config_fetch_finish (result, &error);

  if (config == NULL)
    {
      cli_fail (cli, "%s", error->message);
      g_main_loop_quit (cli->loop);
      return;
    }
  if (cli->stopping)
    {
      g_main_loop_quit (cli->loop);
      return;
    }
  start_call (
      cli, config->webtransport_enabled ? (const char *const *) config->webtransport_hosts : NULL,
      (const char *const *) config->ws_urls, config->webtransport_cert_hash);
}

/* ---- summary ----------------------------------------------------------------- */

static void
append_json_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *p = text; *p != '\0'; p++)
    {
      guchar c = *p;
      if (c == '"' || c == '\\')
        g_string_append_printf (out, "\\%c", c);
      else if (c < 0x20)
        g_string_append_printf (out, "\\u%04x", c);
      else
        g_string_append_c (out, c);
    }
  g_string_append_c (out, '"');
}

/* [confab] chat: kept as JSON for the summary; bounded by the call's length
 * and each message's 4 KiB. */
static void
on_chat_message (ConfabCall *call,
                 ConfabPeer *peer,
                 const char *id,
                 const char *display_name,
                 const char *text,
                 guint64 timestamp_ms,
                 Cli *cli)
{
  GString *out = cli->chat_received;

  if (cli->n_chat_received++ > 0)
    g_string_append_c (out, ',');
  g_string_append_printf (
      out, "{\"session_id\":%" G_GUINT64_FORMAT ",\"user_id\":", confab_peer_get_session_id (peer));
  append_json_string (out, confab_peer_get_user_id (peer));
  g_string_append (out, ",\"display_name\":");
  append_json_string (out, display_name);
  g_string_append (out, ",\"id\":");
  append_json_string (out, id);
  g_string_append_printf (out, ",\"timestamp_ms\":%" G_GUINT64_FORMAT ",\"text\":", timestamp_ms);
  append_json_string (out, text);
  g_string_append_c (out, '}');
}

static double
cpu_seconds (void)
{
  struct rusage usage;

  getrusage (RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

/* What the sender encodes at the end, and every tier step from the start
 * (t_ms from joining). */
static void
append_video_summary (Cli *cli, GString *out)
{
  int width, height, fps;
  guint n_steps;
  const ConfabMediaSenderStep *steps = confab_media_sender_get_steps (cli->sender, &n_steps);
  static const char *const changes[] = { "start", "down", "up" };

  confab_media_sender_get_encoded_format (cli->sender, &width, &height, &fps);
  if (width == 0)
    confab_media_sender_get_video_format (cli->sender, &width, &height, &fps, NULL);
  g_string_append_printf (
      out,
      ",\"video\":{\"codec\":\"%s\",\"width\":%d,\"height\":%d,\"fps\":%d,\"encode_ms_avg\":%.2f,"
      "\"codec_switches\":%u",
      confab_video_codec_to_string (confab_media_sender_get_codec (cli->sender)), width, height,
      fps, confab_media_sender_get_encode_ms_avg (cli->sender),
      confab_media_sender_get_codec_switches (cli->sender));
  g_string_append (out, ",\"tiers\":[");
  for (guint i = 0; i < n_steps; i++)
    g_string_append_printf (
        out,
        "%s{\"t_ms\":%.0f,\"change\":\"%s\",\"tier\":%d,\"width\":%d,\"height\":%d,\"fps\":%d,"
        "\"kbps\":%u}",
        i > 0 ? "," : "",
        cli->join_us > 0 ? MAX (0, steps[i].time_us - cli->join_us) / 1000.0 : 0.0,
        changes[steps[i].change], steps[i].level.tier, steps[i].level.width, steps[i].level.height,
        steps[i].level.fps, steps[i].level.bitrate_kbps);
  g_string_append (out, "]}");
}

/* --record: the files written and what went in. */
static void
append_recording (GString *out, ConfabRecorder *recorder)
{
  const char *const *files = confab_recorder_get_files (recorder);
  ConfabRecorderStats stats;

  confab_recorder_get_stats (recorder, &stats);
  g_string_append (out, ",\"recording\":{\"files\":[");
  for (guint i = 0; files[i] != NULL; i++)
    {
      if (i > 0)
        g_string_append_c (out, ',');
      append_json_string (out, files[i]);
    }
  g_string_append_printf (
      out,
      "],\"video_tracks\":%u,\"audio_tracks\":%u,\"video_frames\":%" G_GUINT64_FORMAT
      ",\"audio_packets\":%" G_GUINT64_FORMAT ",\"dropped\":%" G_GUINT64_FORMAT
      ",\"bytes\":%" G_GUINT64_FORMAT ",\"duration_s\":%.3f}",
      stats.video_streams, stats.audio_streams, stats.video_frames, stats.audio_packets,
      stats.dropped, stats.bytes, stats.duration_s);
}

/* The pictures decoded (last size, rate from first to last), capture-to-decode
 * latency and what lip sync did with the peer's pictures. */
static void
append_receive_stats (GString *out, ConfabPeer *peer)
{
  double p50, p95, decoded_fps;
  int width, height;

  confab_peer_get_decoded_video_format (peer, &width, &height, &decoded_fps);
  g_string_append_printf (out, ",\"decoded_width\":%d,\"decoded_height\":%d,\"decoded_fps\":%.1f",
                          width, height, decoded_fps);
  if (confab_peer_get_video_latency (peer, &p50, &p95))
    g_string_append_printf (out, ",\"latency_ms\":{\"p50\":%.1f,\"p95\":%.1f}", p50, p95);
  else
    g_string_append (out, ",\"latency_ms\":null");
  g_string_append_printf (
      out, ",\"lip_sync\":{\"held\":%" G_GUINT64_FORMAT ",\"dropped_late\":%" G_GUINT64_FORMAT "}",
      confab_peer_get_video_frames_held (peer), confab_peer_get_video_frames_dropped_late (peer));
}

static char *
build_summary (Cli *cli, gboolean *expectation_met)
{
  GString *out = g_string_new ("{");
  GPtrArray *peers = cli->call != NULL ? confab_call_get_peers (cli->call) : NULL;
  double rtt = cli->call != NULL ? confab_call_get_rtt_ms (cli->call) : -1;
  double wall_s = (g_get_monotonic_time () - cli->start_us) / 1e6;
  guint n_peers = peers != NULL ? peers->len : 0;
  ConfabElection *election =
      cli->call != NULL ? CONFAB_ELECTION (confab_call_get_transport (cli->call)) : NULL;

  *expectation_met = (int) n_peers >= cli->expect_peers;

  g_string_append_printf (out, "\"session_id\":%" G_GUINT64_FORMAT ",",
                          cli->call != NULL ? confab_call_get_session_id (cli->call) : 0);
  g_string_append (out, "\"transport\":");
  append_json_string (out, election != NULL
                               ? confab_transport_get_kind (CONFAB_TRANSPORT (election))
                           : cli->use_websocket ? "websocket"
                                                : "webtransport");
  if (rtt >= 0)
    g_string_append_printf (out, ",\"rtt_ms\":%.3f", rtt);
  else
    g_string_append (out, ",\"rtt_ms\":null");
  if (election != NULL && confab_election_get_join_us (election) > 0)
    g_string_append_printf (out, ",\"join_ms\":%.1f",
                            (confab_election_get_join_us (election) - cli->start_us) / 1000.0);
  else
    g_string_append (out, ",\"join_ms\":null");
  g_string_append_printf (out, ",\"reconnects\":%u",
                          election != NULL ? confab_election_get_reconnects (election) : 0);
  g_string_append_printf (
      out,
      ",\"sent\":{\"video_frames\":%" G_GUINT64_FORMAT ",\"audio_packets\":%" G_GUINT64_FORMAT
      ",\"video_frames_skipped\":%" G_GUINT64_FORMAT ",\"keyframes_forced\":%" G_GUINT64_FORMAT "}",
      cli->call != NULL ? confab_call_get_sent_video_frames (cli->call) : 0,
      cli->call != NULL ? confab_call_get_sent_audio_packets (cli->call) : 0,
      cli->video_frames_skipped,
      cli->sender != NULL ? confab_media_sender_get_keyframes_forced (cli->sender) : 0);
  if (cli->video && cli->sender != NULL)
    append_video_summary (cli, out);
  /* Of the call only (loading libraries and codecs is not the call), and
   * null for a run too short to say anything. */
  if (wall_s >= 1.0)
    g_string_append_printf (out, ",\"cpu_percent\":%.1f",
                            100.0 * (cpu_seconds () - cli->start_cpu_s) / wall_s);
  else
    g_string_append (out, ",\"cpu_percent\":null");
  /* Over the same span, and what of it the codecs counted inside their calls
   * (confab-codec-cpu.h): the rest is capture, packets, network and mixing. */
  g_string_append_printf (out, ",\"cpu_ms\":%.1f,\"codec_cpu_ms\":{",
                          1000.0 * (cpu_seconds () - cli->start_cpu_s));
  for (int k = 0; k < CONFAB_CODEC_CPU_N_KINDS; k++)
    g_string_append_printf (out, "%s\"%s\":%.1f", k > 0 ? "," : "",
                            confab_codec_cpu_kind_to_string (k),
                            confab_codec_cpu_get_process_ns (k) / 1e6);
  g_string_append_c (out, '}');
  if (cli->camera != NULL)
    {
      const char *format = "none";
      double handover_us = 0;

      confab_camera_source_get_format (cli->camera, NULL, NULL, NULL, &format);
      confab_camera_source_get_handover_us (cli->camera, &handover_us, NULL);
      g_string_append_printf (out,
                              ",\"camera\":{\"format\":\"%s\",\"frames\":%" G_GUINT64_FORMAT
                              ",\"dropped\":%" G_GUINT64_FORMAT ",\"handover_ms_avg\":%.2f}",
                              format, confab_camera_source_get_frames_captured (cli->camera),
                              confab_camera_source_get_frames_dropped (cli->camera),
                              handover_us / 1000.0);
    }
  if (cli->mic != NULL)
    {
      ConfabAudioProcessingStats ap;

      confab_audio_processing_get_stats (confab_audio_capture_get_processing (cli->mic), &ap);
      g_string_append_printf (
          out,
          ",\"microphone\":{\"chunks\":%" G_GUINT64_FORMAT ",\"overrun_samples\":%" G_GUINT64_FORMAT
          ",\"echo_cancel\":%s,\"process_us_avg\":%.1f,\"process_us_max\":%.0f"
          ",\"echo_delay_ms\":%d,\"aec_delay_ms\":%d,\"erle_db\":%d,\"reference_frames\":"
          "%" G_GUINT64_FORMAT ",\"reference_dropped\":%" G_GUINT64_FORMAT
          ",\"voice_frames\":%" G_GUINT64_FORMAT ",\"speaking_changes\":%u}",
          confab_audio_capture_get_chunks (cli->mic),
          confab_audio_capture_get_overrun_samples (cli->mic),
          cli->no_echo_cancel ? "false" : "true", ap.process_us_avg, ap.process_us_max, ap.delay_ms,
          ap.echo_delay_median_ms, ap.echo_return_loss_enhancement_db, ap.render_frames,
          ap.render_dropped, ap.voice_frames, cli->speaking_changes);
    }
  if (cli->playout != NULL && confab_playout_get_playback (cli->playout) != NULL)
    g_string_append_printf (
        out, ",\"playback\":{\"frames\":%" G_GUINT64_FORMAT ",\"underruns\":%" G_GUINT64_FORMAT "}",
        confab_audio_playback_get_frames (confab_playout_get_playback (cli->playout)),
        confab_audio_playback_get_underruns (confab_playout_get_playback (cli->playout)));
  if (cli->recorder != NULL)
    append_recording (out, cli->recorder);

  g_string_append (out, ",\"peers\":[");
  for (guint i = 0; i < n_peers; i++)
    {
      ConfabPeer *peer = g_ptr_array_index (peers, i);

      /* A peer whose heartbeats said it sends, yet nothing arrived. */
      if ((confab_peer_ever_video_enabled (peer) && confab_peer_get_video_frames (peer) == 0) ||
          (confab_peer_ever_audio_enabled (peer) && confab_peer_get_audio_packets (peer) == 0))
        *expectation_met = FALSE;

      g_string_append_printf (out, "%s{\"session_id\":%" G_GUINT64_FORMAT ",\"user_id\":",
                              i > 0 ? "," : "", confab_peer_get_session_id (peer));
      append_json_string (out, confab_peer_get_user_id (peer));
      g_string_append (out, ",\"display_name\":");
      append_json_string (out, confab_peer_get_display_name (peer));
      g_string_append_printf (
          out,
          ",\"video_frames\":%" G_GUINT64_FORMAT ",\"video_keyframes\":%" G_GUINT64_FORMAT
          ",\"audio_packets\":%" G_GUINT64_FORMAT ",\"video_gaps\":%" G_GUINT64_FORMAT
          ",\"heartbeats\":%" G_GUINT64_FORMAT ",\"keyframe_requests_sent\":%" G_GUINT64_FORMAT
          ",\"decoded_video_frames\":%" G_GUINT64_FORMAT
          ",\"video_decode_errors\":%" G_GUINT64_FORMAT
          ",\"video_enabled\":%s,\"audio_enabled\":%s,\"screen_enabled\":%s,"
          "\"is_speaking\":%s,\"present\":%s",
          confab_peer_get_video_frames (peer), confab_peer_get_video_keyframes (peer),
          confab_peer_get_audio_packets (peer), confab_peer_get_video_gaps (peer),
          confab_peer_get_heartbeats (peer), confab_peer_get_keyframe_requests_sent (peer),
          confab_peer_get_decoded_video_frames (peer), confab_peer_get_video_decode_errors (peer),
          confab_peer_get_video_enabled (peer) ? "true" : "false",
          confab_peer_get_audio_enabled (peer) ? "true" : "false",
          confab_peer_get_screen_enabled (peer) ? "true" : "false",
          confab_peer_get_is_speaking (peer) ? "true" : "false",
          confab_peer_is_present (peer) ? "true" : "false");
      /* With --play: what the speaker got from this peer. */
      if (confab_peer_get_audio_jitter_buffer (peer) != NULL)
        {
          ConfabAudioJitterStats stats;

          confab_audio_jitter_buffer_get_stats (confab_peer_get_audio_jitter_buffer (peer), &stats);
          g_string_append_printf (
              out, ",\"audio_played_frames\":%" G_GUINT64_FORMAT ",\"audio_concealed_ms\":%.0f",
              stats.normal_frames, stats.concealed_ms);
        }
      append_receive_stats (out, peer);
      g_string_append_c (out, '}');
    }
  g_string_append (out, "]");
  g_string_append_printf (out, ",\"chat\":{\"sent\":%u,\"received\":[%s]}", cli->n_chat_sent,
                          cli->chat_received->str);
  g_string_append_c (out, '}');
  return g_string_free (out, FALSE);
}

/* ---- options ----------------------------------------------------------------- */

static gboolean
parse_size (const char *text, int *width, int *height)
{
  char *end = NULL;
  gint64 w, h;

  w = g_ascii_strtoll (text, &end, 10);
  if (end == text || (*end != 'x' && *end != 'X'))
    return FALSE;
  text = end + 1;
  h = g_ascii_strtoll (text, &end, 10);
  if (end == text || *end != '\0')
    return FALSE;
  if (w < 16 || h < 16 || w > 4096 || h > 4096 || (w | h) & 1)
    return FALSE;
  *width = (int) w;
  *height = (int) h;
  return TRUE;
}

static const char *usage_text = "join URL [OPTION…]";
static const char *description_text =
    "URL is ws[s]://HOST:PORT/lobby/USER/ROOM, https://HOST:PORT/lobby/USER/ROOM\n"
    "(WebTransport), http(s)://HOST[:PORT]/meeting/ROOM, confab://HOST[:PORT]/ROOM\n"
    "[?name=USER], or a room name with --server. Invite links read the relays\n"
    "(WebTransport and WebSocket) from the origin's /config.js; all are tried at\n"
    "once, WebTransport is preferred, and a lost connection is retried.\n\n"
    "Prints one JSON summary on the last line of stdout. Exit status: 0 success,\n"
    "1 --expect-peers not met, 2 usage or connection error.";

/* --play or --play=DEVICE */
static gboolean
parse_play (const char *option_name, const char *value, gpointer data, GError **error)
{
  Cli *cli = data;

  cli->play = TRUE;
  g_free (cli->play_target);
  cli->play_target = value != NULL && value[0] != '\0' ? g_strdup (value) : NULL;
  return TRUE;
}

static gboolean
parse_options (Cli *cli, int argc, char **argv, gboolean *exit_now)
{
  g_autoptr (GOptionContext) context = NULL;
  GOptionGroup *group;
  g_autoptr (GError) error = NULL;
  g_autofree char *video = NULL;
  g_autofree char *audio = NULL;
  g_autofree char *codec = NULL;
  g_autofree char *size = NULL;
  g_autofree char *transport = NULL;
  gboolean version = FALSE;
  int fps = 30;
  double duration = 0;
  int expect_peers = 0;
  g_auto (GStrv) args = g_strdupv (argv);
  const GOptionEntry entries[] = {
    { "name", 0, 0, G_OPTION_ARG_STRING, &cli->name, "User id to join as", "USER" },
    { "video", 0, 0, G_OPTION_ARG_FILENAME, &video,
      "Video source: test (default), a PipeWire camera (default one or by node name), a media "
      "file (looped) or none",
      "test|camera[:NAME]|FILE|none" },
    { "audio", 0, 0, G_OPTION_ARG_FILENAME, &audio,
      "Audio source: test (default), a PipeWire microphone (default one or by node name), a "
      "media file (looped) or none",
      "test|mic[:NAME]|FILE|none" },
    { "record", 0, 0, G_OPTION_ARG_FILENAME, &cli->record_path,
      "Record every peer's video and audio into a Matroska file, without re-encoding", "FILE.mkv" },
    { "play", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer) parse_play,
      "Play every peer's audio, mixed, on the default PipeWire speaker or DEVICE (node name or "
      "serial)",
      "DEVICE" },
    { "no-echo-cancel", 0, 0, G_OPTION_ARG_NONE, &cli->no_echo_cancel,
      "Send the microphone as captured: no echo cancellation, noise suppression or gain control",
      NULL },
    { "codec", 0, 0, G_OPTION_ARG_STRING, &codec,
      "Video codec (default vp9; h264 only while every peer decodes it, else vp9)",
      "vp9|vp8|h264" },
    { "no-adapt", 0, 0, G_OPTION_ARG_NONE, &cli->no_adapt,
      "Keep the first quality tier whatever receivers report (benchmarks)", NULL },
    { "size", 0, 0, G_OPTION_ARG_STRING, &size, "Video size (default 640x360)", "WxH" },
    { "fps", 0, 0, G_OPTION_ARG_INT, &fps, "Video frame rate (default 30)", "N" },
    { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &duration,
      "Seconds to stay after joining (default: until interrupted)", "SECONDS" },
    { "expect-peers", 0, 0, G_OPTION_ARG_INT, &expect_peers,
      "Exit 1 unless at least N peers were seen and each one's media arrived", "N" },
    { "transport", 0, 0, G_OPTION_ARG_STRING, &transport,
      "Paths to try: auto (default: WebTransport preferred, WebSocket fallback), "
      "webtransport or websocket",
      "auto|webtransport|websocket" },
    { "cert-hash", 0, 0, G_OPTION_ARG_STRING, &cli->cert_hash,
      "Accept the WebTransport relay whose certificate has this base64 SHA-256", "B64" },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &cli->insecure,
      "Accept any WebTransport certificate (default: full verification)", NULL },
    { "server", 0, 0, G_OPTION_ARG_STRING, &cli->server,
      "Relay for plain room names (ws:// or http:// origin; default $CONFAB_SERVER)", "URL" },
    /* FILENAME: the bytes as given, whatever the locale; the text must be UTF-8. */
    { "chat", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &cli->chat,
      "Send a chat message to the room once joined (repeatable; at most 4096 bytes each)", "TEXT" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  int n_args = argc;

  *exit_now = FALSE;
  context = g_option_context_new (usage_text);
  g_option_context_set_summary (context, "Join a Confab call headless, with generated media.");
  g_option_context_set_description (context, description_text);
  /* The main group carries cli for --play's callback. */
  group = g_option_group_new (NULL, NULL, NULL, cli, NULL);
  g_option_group_add_entries (group, entries);
  g_option_context_set_main_group (context, group);
  if (!g_option_context_parse_strv (context, &args, &error))
    {
      cli_fail (cli, "%s (see --help)", error->message);
      return FALSE;
    }
  if (version)
    {
      g_print ("confab-cli %s\n", CONFAB_VERSION);
      *exit_now = TRUE;
      return TRUE;
    }
  n_args = g_strv_length (args);
  if (n_args < 2 || g_strcmp0 (args[1], "join") != 0)
    {
      cli_fail (cli,
                n_args < 2 ? "No command given: use `confab-cli join URL` (see --help)"
                           : "Unknown command “%s”: use `confab-cli join URL` (see --help)",
                n_args < 2 ? "" : args[1]);
      return FALSE;
    }
  if (n_args != 3)
    {
      cli_fail (cli, n_args < 3 ? "join needs a URL (see --help)"
                                : "join takes one URL, got extra arguments (see --help)");
      return FALSE;
    }
  cli->url = g_strdup (args[2]);

  if (video != NULL && (g_strcmp0 (video, "camera") == 0 || g_str_has_prefix (video, "camera:")))
    {
      cli->video_camera = TRUE;
      if (video[6] == ':' && video[7] != '\0')
        cli->camera_target = g_strdup (video + 7);
    }
  cli->video = video == NULL || cli->video_camera || g_strcmp0 (video, "test") == 0;
  if (video != NULL && !cli->video && g_strcmp0 (video, "none") != 0)
    {
      /* Anything else names a media file (opened before joining). */
      cli->video_path = g_strdup (video);
      cli->video = TRUE;
    }
  if (audio != NULL && (g_strcmp0 (audio, "mic") == 0 || g_str_has_prefix (audio, "mic:")))
    {
      cli->audio_mic = TRUE;
      if (audio[3] == ':' && audio[4] != '\0')
        cli->mic_target = g_strdup (audio + 4);
    }
  cli->audio = audio == NULL || cli->audio_mic || g_strcmp0 (audio, "test") == 0;
  if (audio != NULL && !cli->audio && g_strcmp0 (audio, "none") != 0)
    {
      /* Anything else names a media file (opened before joining). */
      cli->audio_path = g_strdup (audio);
      cli->audio = TRUE;
    }
  cli->codec = CONFAB_VIDEO_CODEC_VP9;
  if (codec != NULL && !confab_video_codec_from_string (codec, &cli->codec))
    {
      cli_fail (cli, "--codec must be vp9, vp8 or h264, not “%s”", codec);
      return FALSE;
    }
  cli->width = 640;
  cli->height = 360;
  if (size != NULL && !parse_size (size, &cli->width, &cli->height))
    {
      cli_fail (cli, "--size must be WxH with even sizes from 16 to 4096, not “%s”", size);
      return FALSE;
    }
  if (fps < 1 || fps > 60)
    {
      cli_fail (cli, "--fps must be from 1 to 60");
      return FALSE;
    }
  cli->fps = fps;
  for (guint i = 0; cli->chat != NULL && cli->chat[i] != NULL; i++)
    {
      g_autoptr (GError) chat_error = NULL;

      if (!confab_chat_text_check (cli->chat[i], -1, &chat_error))
        {
          cli_fail (cli, "--chat: %s", chat_error->message);
          return FALSE;
        }
    }
  if (!(duration >= 0 && duration <= 7 * 24 * 3600.0))
    {
      cli_fail (cli, "--duration must be a number of seconds (0 = until interrupted)");
      return FALSE;
    }
  cli->duration_s = duration;
  if (expect_peers < 0)
    {
      cli_fail (cli, "--expect-peers must be 0 or more");
      return FALSE;
    }
  cli->expect_peers = expect_peers;
  cli->use_webtransport = transport == NULL || g_strcmp0 (transport, "auto") == 0 ||
                          g_strcmp0 (transport, "webtransport") == 0;
  cli->use_websocket = transport == NULL || g_strcmp0 (transport, "auto") == 0 ||
                       g_strcmp0 (transport, "websocket") == 0;
  if (!cli->use_webtransport && !cli->use_websocket)
    {
      cli_fail (cli, "--transport must be auto, webtransport or websocket, not “%s”", transport);
      return FALSE;
    }
  if (cli->server == NULL && g_getenv ("CONFAB_SERVER") != NULL)
    cli->server = g_strdup (g_getenv ("CONFAB_SERVER"));
  return TRUE;
}

/* https://host:port/lobby/… is a WebTransport relay; everything else is
 * what confab_invite_parse() reads. */
static ConfabInvite *
parse_link (Cli *cli, GError **error)
{
  g_autoptr (GUri) uri = NULL;
  g_autofree char *as_wss = NULL;
  ConfabInvite *invite;

  if (g_ascii_strncasecmp (cli->url, "https://", 8) != 0)
    return confab_invite_parse (cli->url, cli->server, error);
  uri = g_uri_parse (cli->url, G_URI_FLAGS_ENCODED, NULL);
  if (uri == NULL || !g_str_has_prefix (g_uri_get_path (uri), "/lobby"))
    return confab_invite_parse (cli->url, cli->server, error);

  /* The lobby path and its checks are the same as for wss://. */
  as_wss = g_strconcat ("wss://", cli->url + 8, NULL);
  invite = confab_invite_parse (as_wss, NULL, error);
  if (invite == NULL)
    {
      /* Name the link the user gave, not our rewrite of it. */
      if (error != NULL && *error != NULL)
        {
          g_autoptr (GString) message = g_string_new ((*error)->message);

          g_string_replace (message, as_wss, cli->url, 0);
          g_free ((*error)->message);
          (*error)->message = g_string_free (g_steal_pointer (&message), FALSE);
        }
      return NULL;
    }
  cli->wt_base = g_strconcat ("https://", invite->ws_base + 6, NULL);
  g_clear_pointer (&invite->ws_base, g_free);
  return invite;
}

static void
cli_clear (Cli *cli)
{
  clear_ticker (&cli->video_ticker);
  clear_ticker (&cli->audio_ticker);
  clear_ticker (&cli->playout_ticker);
  g_clear_handle_id (&cli->duration_id, g_source_remove);
  g_clear_handle_id (&cli->join_timeout_id, g_source_remove);
  g_clear_handle_id (&cli->close_timeout_id, g_source_remove);
  g_clear_handle_id (&cli->linger_id, g_source_remove);
  g_clear_object (&cli->camera);
  g_clear_object (&cli->mic);
  g_clear_object (&cli->playout);
  g_clear_object (&cli->pipewire);
  g_clear_object (&cli->sender);
  g_clear_object (&cli->call);
  g_clear_pointer (&cli->invite, confab_invite_free);
  g_clear_pointer (&cli->pattern, confab_test_pattern_free);
  g_clear_pointer (&cli->tone, confab_tone_source_free);
  g_clear_pointer (&cli->loop, g_main_loop_unref);
  g_free (cli->url);
  g_free (cli->name);
  g_free (cli->server);
  g_free (cli->cert_hash);
  g_free (cli->wt_base);
  g_free (cli->camera_target);
  g_free (cli->mic_target);
  g_free (cli->play_target);
  g_clear_pointer (&cli->video_file, confab_media_file_free);
  g_clear_pointer (&cli->audio_file, confab_media_file_free);
  g_clear_pointer (&cli->recorder, confab_recorder_free);
  g_free (cli->video_path);
  g_free (cli->audio_path);
  g_free (cli->record_path);
  g_free (cli->error);
  g_strfreev (cli->chat);
  if (cli->chat_received != NULL)
    g_string_free (cli->chat_received, TRUE);
}

int
main (int argc, char **argv)
{
  Cli cli = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *summary = NULL;
  gboolean exit_now = FALSE;
  gboolean met = TRUE;
  int status;

  cli.start_us = g_get_monotonic_time ();
  cli.start_cpu_s = cpu_seconds ();
  cli.chat_received = g_string_new (NULL);
  if (!parse_options (&cli, argc, argv, &exit_now) || exit_now)
    goto out;

  cli.invite = parse_link (&cli, &error);
  if (cli.invite == NULL)
    {
      cli_fail (&cli, "%s", error->message);
      goto out;
    }
  /* Our user id goes in every packet: from --name, the link, the room token's
   * subject (the relay takes the id from the token), or made up. */
  if (cli.name == NULL && cli.invite->token != NULL)
    cli.name = confab_room_token_peek_subject (cli.invite->token);
  if (cli.name == NULL && cli.invite->user != NULL)
    cli.name = g_strdup (cli.invite->user);
  if (cli.name == NULL)
    cli.name = g_strdup_printf ("confab-cli-%04x", g_random_int_range (0, 0x10000));

  /* The encoders live in the call's ConfabMediaSender; the test pattern is
   * drawn at its tier's size once sending starts. */
  if (cli.audio)
    cli.tone = confab_tone_source_new (440.0, CONFAB_AUDIO_SAMPLE_RATE, 0.3);
  if (!open_files (&cli) || !open_devices (&cli))
    goto out;

  cli.loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_unix_signal, &cli);
  g_unix_signal_add (SIGTERM, on_unix_signal, &cli);
  cli.join_timeout_id = g_timeout_add_seconds (JOIN_TIMEOUT_S, on_join_timeout, &cli);

  if (cli.wt_base != NULL || cli.invite->ws_base != NULL)
    {
      const char *wt[] = { cli.wt_base, NULL };
      const char *ws[] = { cli.invite->ws_base, NULL };

      start_call (&cli, wt, ws, NULL);
    }
  else
    confab_server_config_fetch_async (cli.invite->config_url, NULL, on_config_fetched, &cli);

  if (cli.error == NULL)
    g_main_loop_run (cli.loop);

  /* The recording's trailer: SIGINT and SIGTERM end the loop too. */
  if (cli.recorder != NULL)
    {
      g_autoptr (GError) record_error = NULL;

      if (!confab_recorder_finish (cli.recorder, &record_error))
        g_printerr ("confab-cli: %s\n", record_error->message);
    }

  summary = build_summary (&cli, &met);
  /* UTF-8 as it is: g_print() would turn names and chat into '?' in a C locale. */
  fputs (summary, stdout);
  fputc ('\n', stdout);
  if (cli.error == NULL && cli.expect_peers > 0 && !met)
    cli.exit_code = EXIT_EXPECTATION_FAILED;

out:
  if (cli.error != NULL)
    g_printerr ("confab-cli: %s\n", cli.error);
  fflush (stdout);
  status = cli.exit_code;
  /* Let lws finish tearing down sockets it was asked to close. */
  g_clear_object (&cli.call);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  cli_clear (&cli);
  return status;
}
