/* confab-bench-media.c: the parts of the media benchmark (issue 4) that
 * confab-cli cannot play, run by bench/run-media.py:
 *
 *   probe  — a receiving client (call/ + media/, as the app uses them): it
 *            decodes every peer's video, pulls every peer's audio jitter
 *            buffer on a 20 ms playout clock and mixes it, and measures
 *            capture → decoded picture and capture → playout per frame.
 *            confab-cli decodes too, but has no per-frame latency and plays
 *            audio only to a PipeWire speaker.
 *   send   — N senders in one process replaying one pre-encoded loop of the
 *            test pattern and tone (same encoder and settings as confab-cli),
 *            so that 8 or 9 peers do not need 8 or 9 live encoders on a
 *            2-core machine whose CPU is being measured.
 *   codec  — the codec work alone: encode and decode of the same generated
 *            frames with the same settings in a tight loop, and the same for
 *            Opus, in CPU time per frame. With --paced, video is encoded and
 *            decoded at --fps by --peers decoders as in a call: libvpx then
 *            costs 1.6-1.8x its tight-loop CPU per frame on this machine
 *            (caches gone cold between frames), which a real-time client
 *            cannot avoid, so that is the codec work a client is compared to.
 *
 * Each mode prints one JSON object on the last line of stdout. */
#define G_LOG_DOMAIN "confab-bench-media"

#include "confab-audio-decoder.h"
#include "confab-audio-encoder.h"
#include "confab-call.h"
#include "confab-codec-cpu.h"
#include "confab-packet.h"
#include "confab-pipewire-audio.h"
#include "confab-test-source.h"
#include "confab-video-decoder.h"
#include "confab-video-encoder.h"
#include "confab-ws-transport.h"
#include "confab-wt-transport.h"

#include <glib-unix.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUDIO_PERIOD_US 20000
/* Sender timestamps kept per peer to find the capture time of the audio frame
 * the jitter buffer plays (its delay is bounded by 500 ms = 25 frames). */
#define AUDIO_TS_RING  256
#define MAX_PEERS      32
#define JOIN_TIMEOUT_S 20

static char *opt_server;
static char *opt_room;
static char *opt_name;
static char *opt_size;
static char *opt_codec;
static int opt_fps = 30;
static int opt_peers = 1;
static int opt_expect_peers = 1;
static int opt_frames = 150;
static double opt_warmup_s = 3;
static double opt_window_s = 10;
static double opt_duration_s = 20;
static gboolean opt_paced;

static const GOptionEntry option_entries[] = {
  { "server", 0, 0, G_OPTION_ARG_STRING, &opt_server,
    "Relay (default ws://127.0.0.1:8080; https://… for WebTransport)", "URL" },
  { "room", 0, 0, G_OPTION_ARG_STRING, &opt_room, "Room (default bench)", "ROOM" },
  { "name", 0, 0, G_OPTION_ARG_STRING, &opt_name, "User id (prefix for send)", "USER" },
  { "size", 0, 0, G_OPTION_ARG_STRING, &opt_size, "Video size (default 640x360)", "WxH" },
  { "codec", 0, 0, G_OPTION_ARG_STRING, &opt_codec, "vp9 (default) or vp8", "CODEC" },
  { "fps", 0, 0, G_OPTION_ARG_INT, &opt_fps, "Frame rate (default 30)", "N" },
  { "peers", 0, 0, G_OPTION_ARG_INT, &opt_peers, "send: senders (default 1)", "N" },
  { "expect-peers", 0, 0, G_OPTION_ARG_INT, &opt_expect_peers,
    "probe: start measuring once this many peers' pictures arrive (default 1)", "N" },
  { "frames", 0, 0, G_OPTION_ARG_INT, &opt_frames,
    "send: frames in the replayed loop; codec: frames encoded (default 150)", "N" },
  { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &opt_warmup_s, "probe: seconds before the window", "S" },
  { "window", 0, 0, G_OPTION_ARG_DOUBLE, &opt_window_s, "probe: measured seconds (default 10)",
    "S" },
  { "duration", 0, 0, G_OPTION_ARG_DOUBLE, &opt_duration_s,
    "send: seconds to send after joining (default 20)", "S" },
  { "paced", 0, 0, G_OPTION_ARG_NONE, &opt_paced,
    "codec: encode and decode at --fps, with --peers decoders, as in a call", NULL },
  { NULL }
};

/* ---- small helpers ------------------------------------------------------------ */

static double
process_cpu_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* Nearest-rank percentile of @samples (sorted in place); -1 when empty. */
static double
percentile (GArray *samples, double p)
{
  guint rank;

  if (samples->len == 0)
    return -1;
  g_array_sort (samples, compare_doubles);
  rank = (guint) (p / 100.0 * samples->len + 0.999999);
  rank = CLAMP (rank, 1, samples->len);
  return g_array_index (samples, double, rank - 1);
}

static void
append_stats (GString *out, const char *key, GArray *samples)
{
  g_string_append_printf (out,
                          "\"%s\":{\"count\":%u,\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,"
                          "\"max\":%.2f}",
                          key, samples->len, percentile (samples, 50), percentile (samples, 90),
                          percentile (samples, 99), percentile (samples, 100));
}

static gboolean
parse_size (const char *text, int *width, int *height)
{
  if (text == NULL)
    {
      *width = 640;
      *height = 360;
      return TRUE;
    }
  if (sscanf (text, "%dx%d", width, height) != 2)
    return FALSE;
  return *width >= 16 && *height >= 16 && *width <= 4096 && *height <= 4096 &&
         !((*width | *height) & 1);
}

/* A source that fires only at the absolute monotonic times set with
 * g_source_set_ready_time(), so periodic work follows the clock without drift. */
static gboolean
ticker_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
  return callback (data);
}

static GSourceFuncs ticker_funcs = { .dispatch = ticker_dispatch };

static GSource *
ticker (GSourceFunc func, gpointer data, gint64 first_us)
{
  GSource *source = g_source_new (&ticker_funcs, sizeof (GSource));

  g_source_set_callback (source, func, data, NULL);
  g_source_set_priority (source, G_PRIORITY_HIGH);
  g_source_set_ready_time (source, first_us);
  g_source_attach (source, NULL);
  return source;
}

static ConfabCall *
join (const char *user, GError **error)
{
  g_autofree char *url = g_strdup_printf ("%s/lobby/%s/%s", opt_server, user, opt_room);
  /* https:// is WebTransport; the certificate is not checked (a loopback
   * benchmark against the relay's self-signed one). */
  g_autoptr (ConfabTransport) transport = g_str_has_prefix (opt_server, "https://")
                                              ? confab_wt_transport_new (url, NULL, TRUE, error)
                                              : confab_ws_transport_new (url, error);

  if (transport == NULL)
    return NULL;
  return confab_call_new (transport, user);
}

/* ---- probe: the receiving client ------------------------------------------------ */

typedef struct
{
  ConfabPeer *peer;
  guint64 audio_seq[AUDIO_TS_RING];
  double audio_ts_ms[AUDIO_TS_RING];
  guint64 frames_in_window;
} ProbePeer;

typedef struct
{
  GMainLoop *loop;
  ConfabCall *call;
  ProbePeer peers[MAX_PEERS];
  guint n_peers;
  GSource *playout;
  gint64 playout_start_us;
  guint64 playout_ticks;
  guint64 late_ticks;
  gint64 window_start_us; /* 0 until measuring */
  gint64 window_end_us;
  double cpu_start_s;
  double cpu_end_s;
  /* The codecs' own count of their CPU (confab-codec-cpu.h), per kind. */
  guint64 codec_start_ns[CONFAB_CODEC_CPU_N_KINDS];
  guint64 codec_end_ns[CONFAB_CODEC_CPU_N_KINDS];
  GArray *video_ms;
  GArray *audio_ms;
  guint64 audio_frames[5];    /* by ConfabAudioPlayout, in the window */
  double target_delay_sum_ms; /* the jitter buffers' target delay, summed per measured pull */
  guint64 target_delay_samples;
  guint warmup_id;
  guint timeout_id;
  gboolean done;
  char *error;
} Probe;

static ProbePeer *
probe_peer (Probe *probe, ConfabPeer *peer)
{
  for (guint i = 0; i < probe->n_peers; i++)
    if (probe->peers[i].peer == peer)
      return &probe->peers[i];
  if (probe->n_peers == MAX_PEERS)
    return NULL;
  probe->peers[probe->n_peers].peer = peer;
  return &probe->peers[probe->n_peers++];
}

static gboolean
measuring (Probe *probe, gint64 now)
{
  return probe->window_start_us != 0 && now >= probe->window_start_us && !probe->done;
}

static void
probe_finish (Probe *probe)
{
  if (probe->done)
    return;
  probe->done = TRUE;
  probe->window_end_us = g_get_monotonic_time ();
  probe->cpu_end_s = process_cpu_s ();
  for (int k = 0; k < CONFAB_CODEC_CPU_N_KINDS; k++)
    probe->codec_end_ns[k] = confab_codec_cpu_get_process_ns (k);
  /* The driver reads /proc at this line; keep it before any teardown. */
  g_print ("window-end\n");
  fflush (stdout);
  g_main_loop_quit (probe->loop);
}

static gboolean
on_window_elapsed (gpointer data)
{
  Probe *probe = data;

  probe->timeout_id = 0;
  probe_finish (probe);
  return G_SOURCE_REMOVE;
}

static gboolean
on_warmup_done (gpointer data)
{
  Probe *probe = data;

  probe->warmup_id = 0;
  probe->window_start_us = g_get_monotonic_time ();
  probe->cpu_start_s = process_cpu_s ();
  for (int k = 0; k < CONFAB_CODEC_CPU_N_KINDS; k++)
    probe->codec_start_ns[k] = confab_codec_cpu_get_process_ns (k);
  for (guint i = 0; i < probe->n_peers; i++)
    probe->peers[i].frames_in_window = 0;
  g_print ("window-start\n");
  fflush (stdout);
  g_clear_handle_id (&probe->timeout_id, g_source_remove);
  probe->timeout_id = g_timeout_add ((guint) (opt_window_s * 1000), on_window_elapsed, probe);
  return G_SOURCE_REMOVE;
}

static guint
peers_with_pictures (Probe *probe)
{
  guint n = 0;

  for (guint i = 0; i < probe->n_peers; i++)
    if (confab_peer_get_decoded_video_frames (probe->peers[i].peer) > 0)
      n++;
  return n;
}

static void
on_video_frame (ConfabCall *call, ConfabPeer *peer, Probe *probe)
{
  g_autoptr (ConfabVideoFrame) frame = confab_peer_take_video_frame (peer);
  gint64 now = g_get_monotonic_time ();
  ProbePeer *p = probe_peer (probe, peer);

  if (frame == NULL || p == NULL)
    return;
  if (measuring (probe, now))
    {
      /* pts_us is the sender's capture time on the wall clock (same machine). */
      double ms = (g_get_real_time () - frame->pts_us) / 1000.0;

      g_array_append_val (probe->video_ms, ms);
      p->frames_in_window++;
    }
  else if (probe->window_start_us == 0 && probe->warmup_id == 0 &&
           (int) peers_with_pictures (probe) >= opt_expect_peers)
    {
      g_print ("pictures from %u peers; warming up\n", peers_with_pictures (probe));
      fflush (stdout);
      probe->warmup_id = g_timeout_add ((guint) (opt_warmup_s * 1000), on_warmup_done, probe);
    }
}

static void
on_media (ConfabCall *call,
          ConfabPeer *peer,
          int type,
          GBytes *payload,
          gboolean is_key,
          guint64 sequence,
          double timestamp,
          Probe *probe)
{
  ProbePeer *p;

  if (type != CONFAB_MEDIA_AUDIO)
    return;
  p = probe_peer (probe, peer);
  if (p == NULL)
    return;
  p->audio_seq[sequence % AUDIO_TS_RING] = sequence;
  p->audio_ts_ms[sequence % AUDIO_TS_RING] = timestamp;
}

/* The playout clock: what a speaker asking for 20 ms at a time does, on the
 * call's thread (as fill_playback in confab-cli). */
static gboolean
on_playout (gpointer data)
{
  Probe *probe = data;
  gint32 mix[CONFAB_AUDIO_FRAME_SAMPLES] = { 0 };
  gint16 frame[CONFAB_AUDIO_FRAME_SAMPLES];
  gint16 out[CONFAB_AUDIO_FRAME_SAMPLES];
  gint64 now = g_get_monotonic_time ();
  gint64 due = probe->playout_start_us + (gint64) probe->playout_ticks * AUDIO_PERIOD_US;

  if (now - due > AUDIO_PERIOD_US)
    probe->late_ticks++;
  for (guint i = 0; i < probe->n_peers; i++)
    {
      ProbePeer *p = &probe->peers[i];
      ConfabAudioJitterBuffer *buffer = confab_peer_get_audio_jitter_buffer (p->peer);
      ConfabAudioPlayout how;
      ConfabAudioJitterStats stats;

      if (buffer == NULL)
        continue;
      how = confab_audio_jitter_buffer_pull (buffer, now, frame);
      confab_audio_mix_add (mix, frame, CONFAB_AUDIO_FRAME_SAMPLES);
      if (!measuring (probe, now))
        continue;
      probe->audio_frames[MIN ((guint) how, 4)]++;
      confab_audio_jitter_buffer_get_stats (buffer, &stats);
      probe->target_delay_sum_ms += stats.target_delay_ms;
      probe->target_delay_samples++;
      if (how != CONFAB_AUDIO_PLAYOUT_NORMAL)
        continue;
      if (p->audio_seq[stats.last_sequence % AUDIO_TS_RING] == stats.last_sequence)
        {
          /* Audio timestamps are epoch ms taken when the 20 ms chunk was
           * complete and encoded: its capture time. */
          double ms =
              g_get_real_time () / 1000.0 - p->audio_ts_ms[stats.last_sequence % AUDIO_TS_RING];

          g_array_append_val (probe->audio_ms, ms);
        }
    }
  confab_audio_mix_finish (mix, out, CONFAB_AUDIO_FRAME_SAMPLES);
  probe->playout_ticks++;
  /* A late tick is not made up for: a device would have underrun. */
  while (probe->playout_start_us + (gint64) probe->playout_ticks * AUDIO_PERIOD_US <= now)
    probe->playout_ticks++;
  g_source_set_ready_time (probe->playout, probe->playout_start_us +
                                               (gint64) probe->playout_ticks * AUDIO_PERIOD_US);
  return G_SOURCE_CONTINUE;
}

static void
on_probe_session (ConfabCall *call, guint64 session_id, Probe *probe)
{
  if (probe->playout != NULL)
    return;
  probe->playout_start_us = g_get_monotonic_time ();
  probe->playout_ticks = 1;
  probe->playout = ticker (on_playout, probe, probe->playout_start_us + AUDIO_PERIOD_US);
}

static void
on_probe_closed (ConfabCall *call, const GError *error, Probe *probe)
{
  if (error != NULL && probe->error == NULL)
    probe->error = g_strdup (error->message);
  probe_finish (probe);
}

static gboolean
on_probe_timeout (gpointer data)
{
  Probe *probe = data;

  probe->timeout_id = 0;
  if (probe->error == NULL)
    probe->error = g_strdup_printf ("pictures from only %u of %d peers within %d s",
                                    peers_with_pictures (probe), opt_expect_peers, JOIN_TIMEOUT_S);
  probe_finish (probe);
  return G_SOURCE_REMOVE;
}

static gboolean
on_probe_signal (gpointer data)
{
  Probe *probe = data;

  if (probe->error == NULL)
    probe->error = g_strdup ("interrupted");
  probe_finish (probe);
  return G_SOURCE_CONTINUE;
}

static int
run_probe (void)
{
  Probe probe = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) out = g_string_new ("{\"mode\":\"probe\"");
  double window_s;
  guint64 decoded = 0, errors = 0, skipped = 0, in_window = 0;

  probe.video_ms = g_array_new (FALSE, FALSE, sizeof (double));
  probe.audio_ms = g_array_new (FALSE, FALSE, sizeof (double));
  probe.loop = g_main_loop_new (NULL, FALSE);
  probe.call = join (opt_name != NULL ? opt_name : "bench-probe", &error);
  if (probe.call == NULL)
    {
      g_printerr ("confab-bench-media: %s\n", error->message);
      return 2;
    }
  /* A client that watches and listens: heartbeats say its camera and microphone are off. */
  confab_call_set_media_state (probe.call, FALSE, FALSE);
  confab_call_set_receive_media (probe.call, TRUE, TRUE);
  g_signal_connect (probe.call, "session-assigned", G_CALLBACK (on_probe_session), &probe);
  g_signal_connect (probe.call, "video-frame", G_CALLBACK (on_video_frame), &probe);
  g_signal_connect (probe.call, "media", G_CALLBACK (on_media), &probe);
  g_signal_connect (probe.call, "closed", G_CALLBACK (on_probe_closed), &probe);
  g_unix_signal_add (SIGINT, on_probe_signal, &probe);
  g_unix_signal_add (SIGTERM, on_probe_signal, &probe);
  probe.timeout_id = g_timeout_add_seconds (JOIN_TIMEOUT_S, on_probe_timeout, &probe);
  confab_call_start (probe.call);
  g_main_loop_run (probe.loop);

  window_s = probe.window_start_us != 0 ? (probe.window_end_us - probe.window_start_us) / 1e6 : 0;
  g_string_append_printf (out, ",\"ok\":%s", probe.error == NULL ? "true" : "false");
  if (probe.error != NULL)
    {
      /* Transport errors quote URLs and server text: escape for JSON. */
      g_string_append (out, ",\"error\":\"");
      for (const char *c = probe.error; *c != '\0'; c++)
        {
          if (*c == '"' || *c == '\\')
            g_string_append_printf (out, "\\%c", *c);
          else if ((guchar) *c < 0x20)
            g_string_append_printf (out, "\\u%04x", (guchar) *c);
          else
            g_string_append_c (out, *c);
        }
      g_string_append_c (out, '"');
    }
  g_string_append_printf (out, ",\"window_s\":%.3f,\"peers\":%u", window_s, probe.n_peers);
  g_string_append_printf (out, ",\"cpu_percent\":%.1f",
                          window_s > 0 ? 100.0 * (probe.cpu_end_s - probe.cpu_start_s) / window_s
                                       : -1.0);
  /* The codec work inside this same window, as the decoders counted it. */
  g_string_append (out, ",\"codec_cpu_percent\":{");
  for (int k = 0; k < CONFAB_CODEC_CPU_N_KINDS; k++)
    g_string_append_printf (
        out, "%s\"%s\":%.2f", k > 0 ? "," : "", confab_codec_cpu_kind_to_string (k),
        window_s > 0 ? (probe.codec_end_ns[k] - probe.codec_start_ns[k]) / 1e7 / window_s : -1.0);
  g_string_append_c (out, '}');
  for (guint i = 0; i < probe.n_peers; i++)
    {
      decoded += confab_peer_get_decoded_video_frames (probe.peers[i].peer);
      errors += confab_peer_get_video_decode_errors (probe.peers[i].peer);
      skipped += confab_peer_get_video_frames_skipped (probe.peers[i].peer);
      in_window += probe.peers[i].frames_in_window;
    }
  g_string_append_printf (
      out,
      ",\"decoded_video_frames\":%" G_GUINT64_FORMAT ",\"video_decode_errors\":%" G_GUINT64_FORMAT
      ",\"pictures_in_window\":%" G_GUINT64_FORMAT ",\"fps_per_peer\":%.2f",
      decoded, errors, in_window,
      window_s > 0 && probe.n_peers > 0 ? in_window / window_s / probe.n_peers : 0.0);
  g_string_append_printf (
      out,
      ",\"audio_playout\":{\"normal\":%" G_GUINT64_FORMAT ",\"fec\":%" G_GUINT64_FORMAT
      ",\"plc\":%" G_GUINT64_FORMAT ",\"silence\":%" G_GUINT64_FORMAT
      "},\"late_playout_ticks\":%" G_GUINT64_FORMAT,
      probe.audio_frames[CONFAB_AUDIO_PLAYOUT_NORMAL], probe.audio_frames[CONFAB_AUDIO_PLAYOUT_FEC],
      probe.audio_frames[CONFAB_AUDIO_PLAYOUT_PLC],
      probe.audio_frames[CONFAB_AUDIO_PLAYOUT_SILENCE], probe.late_ticks);
  g_string_append_printf (out, ",\"audio_target_delay_ms_avg\":%.1f",
                          probe.target_delay_samples > 0
                              ? probe.target_delay_sum_ms / probe.target_delay_samples
                              : -1.0);
  g_string_append_c (out, ',');
  append_stats (out, "video_latency_ms", probe.video_ms);
  g_string_append_c (out, ',');
  append_stats (out, "audio_latency_ms", probe.audio_ms);
  g_string_append (out, "}");
  g_print ("%s\n", out->str);
  fflush (stdout);

  if (probe.playout != NULL)
    {
      g_source_destroy (probe.playout);
      g_source_unref (probe.playout);
    }
  g_clear_handle_id (&probe.warmup_id, g_source_remove);
  g_clear_handle_id (&probe.timeout_id, g_source_remove);
  g_signal_handlers_disconnect_by_data (probe.call, &probe);
  confab_call_leave (probe.call);
  /* Let the close go out; bounded. */
  for (int i = 0; i < 200 && !confab_transport_is_closed (confab_call_get_transport (probe.call));
       i++)
    g_main_context_iteration (NULL, TRUE);
  g_clear_object (&probe.call);
  g_main_loop_unref (probe.loop);
  g_array_unref (probe.video_ms);
  g_array_unref (probe.audio_ms);
  g_free (probe.error);
  return probe.error == NULL ? 0 : 1;
}

/* ---- send: N replaying senders ------------------------------------------------- */

typedef struct
{
  GBytes *data;
  gboolean is_key;
} LoopFrame;

typedef struct _Sender Sender;

typedef struct
{
  GMainLoop *loop;
  ConfabVideoCodec codec;
  GArray *frames;   /* LoopFrame */
  GPtrArray *audio; /* GBytes, one 20 ms Opus packet each */
  Sender *senders;
  guint n_joined;
  guint stop_id;
  gboolean stopping;
} Replay;

struct _Sender
{
  Replay *replay;
  ConfabCall *call;
  GSource *video;
  GSource *audio;
  gint64 start_us;
  guint64 video_ticks;
  guint64 audio_ticks;
  guint next_frame;
  guint next_audio;
};

static gboolean
on_sender_video (gpointer data)
{
  Sender *s = data;
  LoopFrame *f = &g_array_index (s->replay->frames, LoopFrame, s->next_frame);
  gint64 now = g_get_monotonic_time ();
  ConfabEncodedFrame encoded = { 0 };
  gsize size;

  encoded.data = g_bytes_get_data (f->data, &size);
  encoded.size = size;
  encoded.is_key = f->is_key;
  encoded.pts_us = now; /* captured now: the replay stands in for a camera */
  confab_call_send_video (s->call, s->replay->codec, &encoded);
  s->next_frame = (s->next_frame + 1) % s->replay->frames->len;
  s->video_ticks++;
  while (s->start_us + (gint64) (s->video_ticks * G_USEC_PER_SEC / opt_fps) <= now)
    s->video_ticks++; /* behind: skip, as a camera would */
  g_source_set_ready_time (s->video,
                           s->start_us + (gint64) (s->video_ticks * G_USEC_PER_SEC / opt_fps));
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sender_audio (gpointer data)
{
  Sender *s = data;
  GBytes *packet = g_ptr_array_index (s->replay->audio, s->next_audio);
  gint64 now = g_get_monotonic_time ();
  gsize size;
  const guint8 *bytes = g_bytes_get_data (packet, &size);

  confab_call_send_audio (s->call, bytes, size);
  s->next_audio = (s->next_audio + 1) % s->replay->audio->len;
  s->audio_ticks++;
  while (s->start_us + (gint64) s->audio_ticks * AUDIO_PERIOD_US <= now)
    s->audio_ticks++;
  g_source_set_ready_time (s->audio, s->start_us + (gint64) s->audio_ticks * AUDIO_PERIOD_US);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_replay_stop (gpointer data)
{
  Replay *replay = data;

  replay->stop_id = 0;
  replay->stopping = TRUE;
  g_main_loop_quit (replay->loop);
  return G_SOURCE_REMOVE;
}

static void
on_sender_session (ConfabCall *call, guint64 session_id, Sender *s)
{
  Replay *replay = s->replay;
  guint index = (guint) (s - replay->senders);
  /* Phases spread evenly over the senders: independent cameras do not tick together. */
  gint64 offset = (gint64) index * (G_USEC_PER_SEC / opt_fps) / opt_peers;

  s->next_frame = 0; /* the loop's key frame: a new session needs one */
  if (s->video != NULL)
    return;
  s->start_us = g_get_monotonic_time () + offset;
  s->video = ticker (on_sender_video, s, s->start_us);
  s->audio = ticker (on_sender_audio, s, s->start_us);
  if (++replay->n_joined == (guint) opt_peers)
    {
      g_print ("%d senders joined\n", opt_peers);
      fflush (stdout);
      replay->stop_id = g_timeout_add ((guint) (opt_duration_s * 1000), on_replay_stop, replay);
    }
}

static void
on_sender_keyframe_requested (ConfabCall *call, ConfabPeer *peer, Sender *s)
{
  s->next_frame = 0;
}

static void
on_sender_closed (ConfabCall *call, const GError *error, Sender *s)
{
  if (!s->replay->stopping)
    g_printerr ("confab-bench-media: sender %u closed: %s\n", (guint) (s - s->replay->senders),
                error != NULL ? error->message : "by the relay");
  if (s->replay->stop_id == 0 && !s->replay->stopping)
    s->replay->stop_id = g_timeout_add (0, on_replay_stop, s->replay);
}

static gboolean
on_replay_signal (gpointer data)
{
  on_replay_stop (data);
  return G_SOURCE_CONTINUE;
}

/* The loop of encoded frames every sender replays: the test pattern through
 * the encoder confab-cli uses, with its settings; frame 0 is a key frame. */
static gboolean
encode_loop (Replay *replay, int width, int height, GError **error)
{
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (replay->codec, width, height, opt_fps, 0, 0, error);
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  g_autoptr (ConfabAudioEncoder) audio = confab_audio_encoder_new (0, error);
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440.0, CONFAB_AUDIO_SAMPLE_RATE, 0.3);

  if (encoder == NULL || audio == NULL)
    return FALSE;
  for (int i = 0; i < opt_frames; i++)
    {
      g_autoptr (ConfabVideoFrame) frame =
          confab_test_pattern_next (pattern, i, (gint64) i * G_USEC_PER_SEC / opt_fps);
      ConfabEncodedFrame encoded;
      LoopFrame f;

      if (!confab_video_encoder_encode (encoder, frame, &encoded, error))
        return FALSE;
      if (encoded.size == 0)
        continue;
      f.data = g_bytes_new (encoded.data, encoded.size);
      f.is_key = encoded.is_key || replay->frames->len == 0;
      g_array_append_val (replay->frames, f);
    }
  /* One second of tone; the phase jump at the wrap is inaudible to a counter. */
  for (int i = 0; i < 50; i++)
    {
      gint16 samples[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 packet[CONFAB_AUDIO_MAX_PACKET];
      gssize len;

      confab_tone_source_fill (tone, samples, G_N_ELEMENTS (samples));
      len = confab_audio_encoder_encode (audio, samples, packet, sizeof packet, error);
      if (len < 0)
        return FALSE;
      g_ptr_array_add (replay->audio, g_bytes_new (packet, len));
    }
  return replay->frames->len > 0;
}

static int
run_send (ConfabVideoCodec codec, int width, int height)
{
  Replay replay = { 0 };
  g_autoptr (GError) error = NULL;
  guint64 sent_video = 0, sent_audio = 0;
  gsize loop_bytes = 0;

  replay.codec = codec;
  replay.frames = g_array_new (FALSE, FALSE, sizeof (LoopFrame));
  replay.audio = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (!encode_loop (&replay, width, height, &error))
    {
      g_printerr ("confab-bench-media: %s\n", error != NULL ? error->message : "no frames");
      return 2;
    }
  for (guint i = 0; i < replay.frames->len; i++)
    loop_bytes += g_bytes_get_size (g_array_index (replay.frames, LoopFrame, i).data);

  replay.loop = g_main_loop_new (NULL, FALSE);
  replay.senders = g_new0 (Sender, opt_peers);
  for (int i = 0; i < opt_peers; i++)
    {
      g_autofree char *user = g_strdup_printf ("%s%d", opt_name != NULL ? opt_name : "sender", i);
      Sender *s = &replay.senders[i];

      s->replay = &replay;
      s->call = join (user, &error);
      if (s->call == NULL)
        {
          g_printerr ("confab-bench-media: %s\n", error->message);
          return 2;
        }
      confab_call_set_media_state (s->call, TRUE, TRUE);
      g_signal_connect (s->call, "session-assigned", G_CALLBACK (on_sender_session), s);
      g_signal_connect (s->call, "keyframe-requested", G_CALLBACK (on_sender_keyframe_requested),
                        s);
      g_signal_connect (s->call, "closed", G_CALLBACK (on_sender_closed), s);
      confab_call_start (s->call);
    }
  g_unix_signal_add (SIGINT, on_replay_signal, &replay);
  g_unix_signal_add (SIGTERM, on_replay_signal, &replay);
  /* Bounded even if nobody joins. */
  replay.stop_id =
      g_timeout_add ((guint) ((opt_duration_s + JOIN_TIMEOUT_S) * 1000), on_replay_stop, &replay);
  g_main_loop_run (replay.loop);

  replay.stopping = TRUE;
  for (int i = 0; i < opt_peers; i++)
    {
      Sender *s = &replay.senders[i];

      if (s->video != NULL)
        {
          g_source_destroy (s->video);
          g_source_unref (s->video);
          g_source_destroy (s->audio);
          g_source_unref (s->audio);
        }
      sent_video += confab_call_get_sent_video_frames (s->call);
      sent_audio += confab_call_get_sent_audio_packets (s->call);
      confab_call_leave (s->call);
    }
  for (int n = 0; n < 200; n++)
    {
      gboolean open = FALSE;

      for (int i = 0; i < opt_peers; i++)
        open |= !confab_transport_is_closed (confab_call_get_transport (replay.senders[i].call));
      if (!open)
        break;
      g_main_context_iteration (NULL, TRUE);
    }
  g_print ("{\"mode\":\"send\",\"ok\":%s,\"senders\":%d,\"joined\":%u,\"loop_frames\":%u,"
           "\"loop_kbps\":%.0f,\"sent_video_frames\":%" G_GUINT64_FORMAT
           ",\"sent_audio_packets\":%" G_GUINT64_FORMAT "}\n",
           replay.n_joined == (guint) opt_peers ? "true" : "false", opt_peers, replay.n_joined,
           replay.frames->len, loop_bytes * 8.0 / 1000.0 / (replay.frames->len / (double) opt_fps),
           sent_video, sent_audio);
  for (int i = 0; i < opt_peers; i++)
    g_clear_object (&replay.senders[i].call);
  g_free (replay.senders);
  for (guint i = 0; i < replay.frames->len; i++)
    g_bytes_unref (g_array_index (replay.frames, LoopFrame, i).data);
  g_array_unref (replay.frames);
  g_ptr_array_unref (replay.audio);
  g_clear_handle_id (&replay.stop_id, g_source_remove);
  g_main_loop_unref (replay.loop);
  return replay.n_joined == (guint) opt_peers ? 0 : 1;
}

/* ---- codec: the codec work alone -------------------------------------------------- */

/* Sleeps until @due_us (monotonic); a frame already late starts at once. */
static void
wait_until (gint64 due_us)
{
  gint64 now = g_get_monotonic_time ();

  if (due_us > now)
    g_usleep ((gulong) (due_us - now));
}

static int
run_codec (ConfabVideoCodec codec, int width, int height)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (ConfabVideoEncoder) encoder =
      confab_video_encoder_new (codec, width, height, opt_fps, 0, 0, &error);
  ConfabVideoDecoder *decoders[MAX_PEERS] = { NULL };
  int n_decoders = opt_paced ? opt_peers : 1;
  gint64 start_us;
  g_autoptr (ConfabTestPattern) pattern = confab_test_pattern_new (width, height);
  g_autoptr (ConfabAudioEncoder) audio_encoder = NULL;
  g_autoptr (ConfabAudioDecoder) audio_decoder = NULL;
  g_autoptr (ConfabToneSource) tone = confab_tone_source_new (440.0, CONFAB_AUDIO_SAMPLE_RATE, 0.3);
  g_autoptr (GPtrArray) encoded_frames =
      g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GPtrArray) packets = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  double enc_cpu = 0, enc_wall = 0, dec_cpu, dec_wall, aenc_cpu = 0, adec_cpu;
  gsize bytes = 0;
  int n_audio = 500;
  double t0, w0;

  if (encoder == NULL)
    goto failed;
  /* threads 1: what ConfabPeer gives every peer's decoder. */
  for (int k = 0; k < n_decoders; k++)
    {
      decoders[k] = confab_video_decoder_new (codec, 1, &error);
      if (decoders[k] == NULL)
        goto failed;
    }
  start_us = g_get_monotonic_time ();
  for (int i = 0; i < opt_frames; i++)
    {
      /* The picture is made outside the timed part: it stands for capture. */
      g_autoptr (ConfabVideoFrame) frame =
          confab_test_pattern_next (pattern, i, (gint64) i * G_USEC_PER_SEC / opt_fps);
      ConfabEncodedFrame encoded;

      if (opt_paced)
        wait_until (start_us + (gint64) i * G_USEC_PER_SEC / opt_fps);
      t0 = process_cpu_s ();
      w0 = g_get_monotonic_time () / 1e6;
      if (!confab_video_encoder_encode (encoder, frame, &encoded, &error))
        goto failed;
      enc_cpu += process_cpu_s () - t0;
      enc_wall += g_get_monotonic_time () / 1e6 - w0;
      if (encoded.size > 0)
        {
          g_ptr_array_add (encoded_frames, g_bytes_new (encoded.data, encoded.size));
          bytes += encoded.size;
        }
    }
  /* Paced, every decoder takes each frame in its own slot of the frame
   * period, as pictures from N peers arrive spread over it; the sleeps cost no
   * CPU, so dec_cpu is still only the decoding. */
  dec_cpu = dec_wall = 0;
  start_us = g_get_monotonic_time ();
  for (guint i = 0; i < encoded_frames->len; i++)
    for (int k = 0; k < n_decoders; k++)
      {
        g_autoptr (ConfabVideoFrame) picture = NULL;
        gsize size;
        const guint8 *data = g_bytes_get_data (g_ptr_array_index (encoded_frames, i), &size);

        if (opt_paced)
          wait_until (start_us + ((gint64) i * n_decoders + k) * G_USEC_PER_SEC /
                                     ((gint64) opt_fps * n_decoders));
        t0 = process_cpu_s ();
        w0 = g_get_monotonic_time () / 1e6;
        if (!confab_video_decoder_decode (decoders[k], data, size, i, &picture, &error))
          goto failed;
        dec_cpu += process_cpu_s () - t0;
        dec_wall += g_get_monotonic_time () / 1e6 - w0;
      }

  audio_encoder = confab_audio_encoder_new (0, &error);
  audio_decoder = audio_encoder != NULL ? confab_audio_decoder_new (&error) : NULL;
  if (audio_decoder == NULL)
    goto failed;
  for (int i = 0; i < n_audio; i++)
    {
      gint16 samples[CONFAB_AUDIO_FRAME_SAMPLES];
      guint8 packet[CONFAB_AUDIO_MAX_PACKET];
      gssize len;

      confab_tone_source_fill (tone, samples, G_N_ELEMENTS (samples));
      t0 = process_cpu_s ();
      len = confab_audio_encoder_encode (audio_encoder, samples, packet, sizeof packet, &error);
      aenc_cpu += process_cpu_s () - t0;
      if (len < 0)
        goto failed;
      g_ptr_array_add (packets, g_bytes_new (packet, len));
    }
  t0 = process_cpu_s ();
  for (guint i = 0; i < packets->len; i++)
    {
      gint16 pcm[CONFAB_AUDIO_FRAME_SAMPLES];
      gsize size;
      const guint8 *data = g_bytes_get_data (g_ptr_array_index (packets, i), &size);

      if (!confab_audio_decoder_decode (audio_decoder, data, size, pcm, &error))
        goto failed;
    }
  adec_cpu = process_cpu_s () - t0;

  /* % of one core = CPU seconds per frame × frames per second × 100. */
  g_print ("{\"mode\":\"codec\",\"ok\":true,\"paced\":%s,\"decoders\":%d,"
           "\"codec\":\"%s\",\"width\":%d,\"height\":%d,\"fps\":%d,"
           "\"frames\":%d,\"encoded_frames\":%u,\"kbps\":%.0f,"
           "\"encode_cpu_ms\":%.3f,\"encode_wall_ms\":%.3f,\"decode_cpu_ms\":%.3f,"
           "\"decode_wall_ms\":%.3f,\"opus_encode_cpu_ms\":%.4f,\"opus_decode_cpu_ms\":%.4f,"
           "\"encode_percent\":%.2f,\"decode_percent\":%.2f,\"opus_encode_percent\":%.3f,"
           "\"opus_decode_percent\":%.3f}\n",
           opt_paced ? "true" : "false", n_decoders, confab_video_codec_to_string (codec), width,
           height, opt_fps, opt_frames, encoded_frames->len,
           bytes * 8.0 / 1000.0 / (opt_frames / (double) opt_fps), 1000 * enc_cpu / opt_frames,
           1000 * enc_wall / opt_frames, 1000 * dec_cpu / MAX (encoded_frames->len * n_decoders, 1),
           1000 * dec_wall / MAX (encoded_frames->len * n_decoders, 1), 1000 * aenc_cpu / n_audio,
           1000 * adec_cpu / n_audio, 100 * enc_cpu / opt_frames * opt_fps,
           100 * dec_cpu / MAX (encoded_frames->len * n_decoders, 1) * opt_fps,
           100 * aenc_cpu / n_audio * 50, 100 * adec_cpu / n_audio * 50);
  for (int k = 0; k < n_decoders; k++)
    g_clear_pointer (&decoders[k], confab_video_decoder_free);
  return 0;

failed:
  for (int k = 0; k < n_decoders; k++)
    g_clear_pointer (&decoders[k], confab_video_decoder_free);
  g_print ("{\"mode\":\"codec\",\"ok\":false}\n");
  g_printerr ("confab-bench-media: %s\n", error != NULL ? error->message : "failed");
  return 2;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("probe|send|codec");
  g_autoptr (GError) error = NULL;
  ConfabVideoCodec codec = CONFAB_VIDEO_CODEC_VP9;
  int width, height;

  g_option_context_set_summary (
      context, "Parts of the media benchmark (bench/run-media.py, docs/benchmarks.md).");
  g_option_context_add_main_entries (context, option_entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("confab-bench-media: %s\n", error->message);
      return 2;
    }
  if (opt_server == NULL)
    opt_server = g_strdup ("ws://127.0.0.1:8080");
  if (opt_room == NULL)
    opt_room = g_strdup ("bench");
  if (argc != 2 || !parse_size (opt_size, &width, &height) || opt_fps < 1 || opt_fps > 60 ||
      opt_peers < 1 || opt_peers > MAX_PEERS || opt_frames < 1 || opt_frames > 3000 ||
      opt_expect_peers < 1 || opt_expect_peers > MAX_PEERS || !(opt_warmup_s >= 0) ||
      !(opt_window_s > 0 && opt_window_s <= 600) ||
      !(opt_duration_s > 0 && opt_duration_s <= 600) ||
      (opt_codec != NULL && !confab_video_codec_from_string (opt_codec, &codec)))
    {
      g_printerr ("confab-bench-media: bad arguments (see --help)\n");
      return 2;
    }
  if (strcmp (argv[1], "probe") == 0)
    return run_probe ();
  if (strcmp (argv[1], "send") == 0)
    return run_send (codec, width, height);
  if (strcmp (argv[1], "codec") == 0)
    return run_codec (codec, width, height);
  g_printerr ("confab-bench-media: unknown mode “%s”\n", argv[1]);
  return 2;
}
