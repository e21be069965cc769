/* confab-bench-fanout-wt.c: the relay fan-out load of confab-bench-fanout.c
 * over WebTransport (issue 3): R rooms of 10 senders, each a WebTransport
 * session (ConfabWtClient from net/) to the relay's /lobby/{user}/{room},
 * sending 30 video and 50 audio packets per second, every packet on its own
 * unidirectional stream (PROTOCOL.md §1), and receiving its room. It measures
 * delivery, latency and server CPU over the same window, with the same
 * payload, histogram and CPU readings (confab-bench-util) as the WebSocket
 * generator, so bench/run-fanout.py can put the two side by side.
 *
 * A program of its own rather than a mode of the WebSocket generator: that one
 * is a bare epoll loop with its own RFC 6455 client, while the WebTransport
 * client lives on a GMainContext (its UDP socket and per-connection timers are
 * GSources). Here the pacing timerfd is one more source on that context.
 *
 * It prints one JSON object on stdout. */
#define G_LOG_DOMAIN "confab-bench"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

#include "confab-bench-util.h"
#include "confab-packet.h"
#include "confab-wt-client.h"

/* Sends due this soon go out with the ones due now (as in the WebSocket
 * generator): one timer wake-up per ~0.2 ms instead of one per send. */
#define BENCH_SEND_SLACK_US 200

typedef struct
{
  guint room;
  guint sender;
  ConfabWtSession *session;
  gboolean ready;
  /* Each kind's whole PacketWrapper and where its send time goes: patched in
   * place, then copied into the GBytes the session queues. */
  guint8 *tpl[N_KINDS];
  gsize tpl_len[N_KINDS];
  gsize stamp_off[N_KINDS];
  guint32 seq;
} WtConn;

typedef enum
{
  STAGE_CONNECTING,
  STAGE_WARMUP,
  STAGE_WINDOW,
  STAGE_DRAIN,
  STAGE_DONE
} BenchStage;

typedef struct
{
  int port;
  char *cert_hash;
  gboolean insecure;
  guint rooms;
  guint per_room;
  guint video_size;
  guint audio_size;
  double video_rate;
  double audio_rate;
  double warmup_s;
  double window_s;
  double drain_s;
  double connect_timeout_s;
  int server_pid;
  char *room_prefix;

  WtConn *conns;
  guint n_conns;
  guint n_ready;

  BenchSchedule schedule;
  int timer_fd;
  gint64 period_ns[N_KINDS];
  gint64 send_slack_ns;

  BenchStage stage;
  guint stage_source;
  gint64 t0;
  gint64 t1;
  gboolean failed;
  char *fail_reason;

  guint64 sent[N_KINDS];
  guint64 delivered[N_KINDS];
  guint64 skipped;
  guint64 foreign;
  BenchHist latency;
  BenchHist send_lag;

  double server_cpu0;
  double server_cpu1;
  double gen_cpu0;
  double gen_cpu1;
  double machine_cpu0;
  double machine_cpu1;
  guint64 server_rss_kib;
} Bench;

static Bench bench;

static void stage_schedule (gint64 deadline_ns);

static void
bench_fail (const char *reason)
{
  if (!bench.failed)
    {
      bench.failed = TRUE;
      bench.fail_reason = g_strdup (reason);
    }
  bench.stage = STAGE_DONE;
}

/* ---- receiving ------------------------------------------------------------ */

static void
on_packet (ConfabWtSession *session, GBytes *message, gboolean datagram, gpointer data)
{
  WtConn *conn = data;
  BenchKind kind = KIND_VIDEO;
  gint64 sent_ns = 0;
  gsize len;
  const guint8 *buf = g_bytes_get_data (message, &len);

  switch (confab_bench_classify (buf, len, conn->room, conn->sender, &kind, &sent_ns))
    {
      case BENCH_RX_IGNORED:
        return;
      case BENCH_RX_FOREIGN:
        bench.foreign++;
        return;
      case BENCH_RX_MEDIA:
        break;
    }
  if (bench.t0 == 0 || sent_ns < bench.t0 || sent_ns >= bench.t1)
    return;
  bench.delivered[kind]++;
  confab_bench_hist_add (&bench.latency, confab_bench_now_ns () - sent_ns);
}

static void
on_closed (ConfabWtSession *session, const GError *error, gpointer data)
{
  WtConn *conn = data;
  g_autofree char *msg = NULL;

  if (bench.stage == STAGE_DONE)
    return;
  msg = g_strdup_printf ("session %u-%u closed: %s", conn->room, conn->sender,
                         error != NULL ? error->message : "cleanly");
  bench_fail (msg);
}

/* ---- sending -------------------------------------------------------------- */

static void
conn_send_media (WtConn *conn, BenchKind k, gint64 due)
{
  gint64 now = confab_bench_now_ns ();
  guint8 *t = conn->tpl[k];
  g_autoptr (GBytes) bytes = NULL;

  if (!conn->ready)
    return;
  conn->seq++;
  memcpy (t + conn->stamp_off[k], &now, 8);
  memcpy (t + conn->stamp_off[k] + 16, &conn->seq, 4);
  bytes = g_bytes_new (t, conn->tpl_len[k]);
  /* FALSE: the connection's bounded send queue is full, the generator (or
   * the path) cannot keep up: counted, never silent. */
  if (!confab_wt_session_send_stream (conn->session, bytes))
    {
      bench.skipped++;
      return;
    }
  if (bench.stage == STAGE_WINDOW)
    {
      bench.sent[k]++;
      confab_bench_hist_add (&bench.send_lag, now - due);
    }
}

/* ---- pacing (the schedule itself is in confab-bench-util.c) ----------------- */

static void
schedule_rearm (void)
{
  struct itimerspec its = { 0 };
  gint64 due =
      bench.schedule.len > 0 ? bench.schedule.heap[0].due : confab_bench_now_ns () + NS_PER_S;

  its.it_value.tv_sec = due / NS_PER_S;
  its.it_value.tv_nsec = due % NS_PER_S;
  timerfd_settime (bench.timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static gboolean
on_timer (int fd, GIOCondition cond, gpointer data)
{
  gint64 now = confab_bench_now_ns ();
  guint64 expirations;

  if (read (bench.timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    bench_fail ("timerfd read failed");
  /* Everything due by now goes; each sender's next send moves on by exactly
   * one period: no drift, no bursts beyond what is late. */
  while (bench.stage != STAGE_DONE && bench.schedule.len > 0 &&
         bench.schedule.heap[0].due <= now + bench.send_slack_ns)
    {
      BenchEvent *ev = &bench.schedule.heap[0];

      conn_send_media (&bench.conns[ev->conn], ev->kind, ev->due);
      ev->due += bench.period_ns[ev->kind];
      confab_bench_schedule_sift_down (&bench.schedule, 0);
    }
  schedule_rearm ();
  return G_SOURCE_CONTINUE;
}

static void
schedule_start (void)
{
  gint64 now = confab_bench_now_ns ();

  for (guint i = 0; i < bench.n_conns; i++)
    for (guint k = 0; k < N_KINDS; k++)
      {
        BenchEvent ev = {
          .due = now + bench.period_ns[k] * i / bench.n_conns +
                 (k == KIND_AUDIO ? bench.period_ns[k] / 2 : 0),
          .conn = i,
          .kind = k,
        };
        confab_bench_schedule_push (&bench.schedule, ev);
      }
  schedule_rearm ();
}

/* ---- stages --------------------------------------------------------------- */

static gboolean
on_stage_deadline (gpointer data)
{
  bench.stage_source = 0;
  switch (bench.stage)
    {
      case STAGE_CONNECTING:
        bench_fail ("connect timeout: not every session became ready");
        break;
      case STAGE_WARMUP:
        bench.stage = STAGE_WINDOW;
        bench.server_cpu0 = confab_bench_proc_cpu_seconds (bench.server_pid);
        bench.gen_cpu0 = confab_bench_self_cpu_seconds ();
        bench.machine_cpu0 = confab_bench_machine_busy_seconds ();
        bench.t0 = confab_bench_now_ns ();
        bench.t1 = G_MAXINT64;
        stage_schedule (bench.t0 + (gint64) (bench.window_s * 1e9));
        break;
      case STAGE_WINDOW:
        bench.t1 = confab_bench_now_ns ();
        bench.server_cpu1 = confab_bench_proc_cpu_seconds (bench.server_pid);
        bench.gen_cpu1 = confab_bench_self_cpu_seconds ();
        bench.machine_cpu1 = confab_bench_machine_busy_seconds ();
        bench.server_rss_kib = confab_bench_proc_status_kib (bench.server_pid, "VmRSS");
        bench.stage = STAGE_DRAIN;
        stage_schedule (bench.t1 + (gint64) (bench.drain_s * 1e9));
        break;
      case STAGE_DRAIN:
      case STAGE_DONE:
        bench.stage = STAGE_DONE;
        break;
    }
  return G_SOURCE_REMOVE;
}

static void
stage_schedule (gint64 deadline_ns)
{
  gint64 left_ms = MAX (0, (deadline_ns - confab_bench_now_ns () + 999999) / 1000000);

  if (bench.stage_source != 0)
    g_source_remove (bench.stage_source);
  bench.stage_source =
      g_timeout_add_full (G_PRIORITY_HIGH, (guint) left_ms, on_stage_deadline, NULL, NULL);
}

static void
on_ready (ConfabWtSession *session, gpointer data)
{
  WtConn *conn = data;

  if (conn->ready)
    return;
  conn->ready = TRUE;
  if (++bench.n_ready == bench.n_conns && bench.stage == STAGE_CONNECTING)
    {
      bench.stage = STAGE_WARMUP;
      stage_schedule (confab_bench_now_ns () + (gint64) (bench.warmup_s * 1e9));
      schedule_start ();
    }
}

static gboolean
conn_start (WtConn *conn, GError **error)
{
  ConfabWtClientOptions opts = {
    .cert_hash = bench.cert_hash,
    .insecure = bench.insecure,
    .handshake_timeout_ms = (guint) (bench.connect_timeout_s * 1000),
  };
  g_autofree char *user_id = g_strdup_printf ("bench-%u-%u", conn->room, conn->sender);
  g_autofree char *url = g_strdup_printf ("https://127.0.0.1:%d/lobby/%s/%s%u", bench.port, user_id,
                                          bench.room_prefix, conn->room);

  for (guint k = 0; k < N_KINDS; k++)
    {
      g_autoptr (GBytes) packet = confab_bench_media_packet (
          conn->room, conn->sender, k, k == KIND_VIDEO ? bench.video_size : bench.audio_size,
          user_id, &conn->stamp_off[k]);
      conn->tpl[k] = g_bytes_unref_to_data (g_steal_pointer (&packet), &conn->tpl_len[k]);
    }
  conn->session = confab_wt_client_connect (url, &opts, error);
  if (conn->session == NULL)
    return FALSE;
  g_signal_connect (conn->session, "ready", G_CALLBACK (on_ready), conn);
  g_signal_connect (conn->session, "packet", G_CALLBACK (on_packet), conn);
  g_signal_connect (conn->session, "closed", G_CALLBACK (on_closed), conn);
  return TRUE;
}

/* ---- report --------------------------------------------------------------- */

static void
print_result (void)
{
  double window = bench.t1 > bench.t0 && bench.t0 > 0 && bench.t1 != G_MAXINT64
                      ? (bench.t1 - bench.t0) / 1e9
                      : 0;
  guint64 delivered = bench.delivered[KIND_VIDEO] + bench.delivered[KIND_AUDIO];
  double server_cpu = bench.server_cpu1 - bench.server_cpu0;
  double gen_cpu = bench.gen_cpu1 - bench.gen_cpu0;
  g_autoptr (GString) s = g_string_new ("{");

  g_string_append_printf (s, "\"mode\":\"relay-wt\",\"rooms\":%u,\"senders\":%u,\"ok\":%s",
                          bench.rooms, bench.n_conns, bench.failed ? "false" : "true");
  if (bench.failed)
    {
      g_autofree char *esc = g_strescape (bench.fail_reason, NULL);
      g_string_append_printf (s, ",\"error\":\"%s\"", esc);
    }
  {
    ConfabBenchCounts counts = {
      .window_s = window,
      .sent_video = bench.sent[KIND_VIDEO],
      .sent_audio = bench.sent[KIND_AUDIO],
      .delivered = delivered,
      .skipped = bench.skipped,
      .foreign = bench.foreign,
      .per_room = bench.per_room,
      .n_conns = bench.n_conns,
      .video_rate = bench.video_rate,
      .audio_rate = bench.audio_rate,
      .server_cpu_s = server_cpu,
      .gen_cpu_s = gen_cpu,
      .machine_cpu_s = bench.machine_cpu1 - bench.machine_cpu0,
    };

    confab_bench_append_counts (s, &counts);
  }
  /* ngtcp2 0.12.1 keeps ~0.25 kB per received stream until the connection
   * ends (docs/webtransport.md): both sides' memory is part of the result. */
  g_string_append_printf (
      s, ",\"server_rss_kib\":%" G_GUINT64_FORMAT ",\"gen_peak_rss_kib\":%" G_GUINT64_FORMAT,
      bench.server_rss_kib, confab_bench_proc_status_kib (0, "VmHWM"));
  g_string_append_printf (
      s,
      ",\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f"
      ",\"send_lag_p99_ms\":%.3f,\"send_lag_max_ms\":%.3f}",
      confab_bench_hist_percentile_ms (&bench.latency, 0.50),
      confab_bench_hist_percentile_ms (&bench.latency, 0.90),
      confab_bench_hist_percentile_ms (&bench.latency, 0.99), bench.latency.max_ns / 1e6,
      confab_bench_hist_percentile_ms (&bench.send_lag, 0.99), bench.send_lag.max_ns / 1e6);
  printf ("%s\n", s->str);
  fflush (stdout);
}

static void
raise_fd_limit (guint want)
{
  struct rlimit rl;

  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
    {
      rl.rlim_cur = MIN ((rlim_t) want, rl.rlim_max);
      setrlimit (RLIMIT_NOFILE, &rl);
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) octx = NULL;
  g_autoptr (GError) error = NULL;
  int rooms = 1, per_room = 10, video_size = 2500, audio_size = 100;
  int slack_us = BENCH_SEND_SLACK_US;
  GOptionEntry entries[] = {
    { "port", 'p', 0, G_OPTION_ARG_INT, &bench.port, "WebTransport (UDP) port on 127.0.0.1", "N" },
    { "cert-hash", 0, 0, G_OPTION_ARG_STRING, &bench.cert_hash,
      "Base64 SHA-256 of the relay's certificate (its /config.js webTransportCertificateHash)",
      "B64" },
    { "insecure", 'k', 0, G_OPTION_ARG_NONE, &bench.insecure, "Accept any certificate", NULL },
    { "rooms", 'r', 0, G_OPTION_ARG_INT, &rooms, "Rooms (default 1)", "R" },
    { "per-room", 0, 0, G_OPTION_ARG_INT, &per_room, "Senders per room (default 10)", "N" },
    { "video-size", 0, 0, G_OPTION_ARG_INT, &video_size, "Video payload bytes (2500)", "B" },
    { "audio-size", 0, 0, G_OPTION_ARG_INT, &audio_size, "Audio payload bytes (100)", "B" },
    { "video-rate", 0, 0, G_OPTION_ARG_DOUBLE, &bench.video_rate, "Video packets/s per sender (30)",
      "N" },
    { "audio-rate", 0, 0, G_OPTION_ARG_DOUBLE, &bench.audio_rate, "Audio packets/s per sender (50)",
      "N" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &bench.warmup_s, "Warm-up seconds (2)", "S" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &bench.window_s, "Measured window seconds (5)",
      "S" },
    { "drain", 0, 0, G_OPTION_ARG_DOUBLE, &bench.drain_s, "Seconds to wait for late messages (0.5)",
      "S" },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &bench.server_pid,
      "Server process whose CPU to measure", "PID" },
    { "send-slack-us", 0, 0, G_OPTION_ARG_INT, &slack_us,
      "Send this early to batch timer wake-ups (200)", "US" },
    { "room-prefix", 0, 0, G_OPTION_ARG_STRING, &bench.room_prefix, "Room name prefix (bench)",
      "S" },
    { NULL }
  };
  gint64 hard_deadline;
  guint timer_source;

  bench.video_rate = 30;
  bench.audio_rate = 50;
  bench.warmup_s = 2;
  bench.window_s = 5;
  bench.drain_s = 0.5;
  bench.connect_timeout_s = 15;

  octx = g_option_context_new ("- relay fan-out load generator over WebTransport");
  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (bench.port <= 0 || bench.port > 65535 || (bench.cert_hash == NULL && !bench.insecure) ||
      rooms < 1 || rooms > 200 || per_room < 2 || per_room > 100 || video_size < 0 ||
      video_size > 60000 || audio_size < 0 || audio_size > 60000 || bench.video_rate <= 0 ||
      bench.audio_rate <= 0 || bench.video_rate > 1000 || bench.audio_rate > 1000 ||
      bench.window_s <= 0 || bench.window_s > 600 || bench.warmup_s < 0 || bench.warmup_s > 60 ||
      bench.drain_s < 0 || bench.drain_s > 60)
    {
      g_printerr ("usage: confab-bench-fanout-wt --port N (--cert-hash B64 | --insecure) "
                  "[--rooms R] ...\n");
      return 2;
    }
  bench.rooms = (guint) rooms;
  bench.per_room = (guint) per_room;
  bench.video_size = (guint) video_size;
  bench.audio_size = (guint) audio_size;
  if (bench.room_prefix == NULL)
    bench.room_prefix = g_strdup ("bench");
  if (!confab_name_is_valid (bench.room_prefix))
    {
      g_printerr ("invalid room prefix\n");
      return 2;
    }
  bench.period_ns[KIND_VIDEO] = (gint64) (NS_PER_S / bench.video_rate);
  bench.period_ns[KIND_AUDIO] = (gint64) (NS_PER_S / bench.audio_rate);
  bench.n_conns = bench.rooms * bench.per_room;
  bench.send_slack_ns = (gint64) CLAMP (slack_us, 0, 5000) * 1000;
  raise_fd_limit (bench.n_conns + 64);

  bench.timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (bench.timer_fd < 0)
    {
      g_printerr ("timerfd: %s\n", g_strerror (errno));
      return 2;
    }
  /* Sends before reads: a burst of received streams must not hold the
   * schedule back. */
  timer_source =
      g_unix_fd_add_full (G_PRIORITY_HIGH, bench.timer_fd, G_IO_IN, on_timer, NULL, NULL);
  bench.conns = g_new0 (WtConn, bench.n_conns);
  bench.schedule.heap = g_new0 (BenchEvent, bench.n_conns * N_KINDS);
  for (guint i = 0; i < bench.n_conns; i++)
    {
      WtConn *conn = &bench.conns[i];
      g_autoptr (GError) cerr = NULL;

      conn->room = i / bench.per_room;
      conn->sender = i % bench.per_room;
      if (!conn_start (conn, &cerr))
        {
          g_autofree char *msg = g_strdup_printf ("connect: %s", cerr->message);
          bench_fail (msg);
          break;
        }
    }
  stage_schedule (confab_bench_now_ns () + (gint64) (bench.connect_timeout_s * 1e9));

  hard_deadline =
      confab_bench_now_ns () +
      (gint64) ((bench.connect_timeout_s + bench.warmup_s + bench.window_s + bench.drain_s + 10) *
                1e9);
  /* Bounded: every stage has a deadline, and this loop a hard one (a wake-up
   * at least every stage deadline). */
  while (!bench.failed && bench.stage != STAGE_DONE)
    {
      if (confab_bench_now_ns () >= hard_deadline)
        {
          bench_fail ("run did not finish in time");
          break;
        }
      g_main_context_iteration (NULL, TRUE);
    }

  print_result ();
  bench.stage = STAGE_DONE;
  if (bench.stage_source != 0)
    g_source_remove (bench.stage_source);
  g_source_remove (timer_source);
  for (guint i = 0; i < bench.n_conns; i++)
    {
      WtConn *conn = &bench.conns[i];
      if (conn->session != NULL)
        {
          g_signal_handlers_disconnect_by_data (conn->session, conn);
          g_object_unref (conn->session);
        }
      for (guint k = 0; k < N_KINDS; k++)
        g_free (conn->tpl[k]);
    }
  close (bench.timer_fd);
  g_free (bench.conns);
  g_free (bench.schedule.heap);
  g_free (bench.room_prefix);
  g_free (bench.cert_hash);
  g_free (bench.fail_reason);
  return bench.failed ? 1 : 0;
}
