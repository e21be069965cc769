/* confab-bench-fanout.c: a single-threaded load generator for the relay
 * fan-out benchmark (issue 2). It holds R rooms of 10 WebSocket senders, each
 * sending 30 video and 50 audio packets per second on a paced schedule and
 * receiving its room, and measures delivery, latency and server CPU over a
 * fixed window. The same bytes go either through confab-relay (`relay` mode,
 * real PacketWrapper{MEDIA}) or through nats-server's own WebSocket listener
 * (`nats` mode, PUB/SUB on room subjects) as the reference fan-out engine.
 *
 * The WebSocket client here is a minimal RFC 6455 one over epoll, not the
 * libwebsockets client: lws 4.1 unmasks and copies every received payload one
 * byte at a time (about 9 us per 2.5 kB message here, 72 % of the generator's
 * profile), which capped the generator at ~110k deliveries/s and, since it
 * shares two cores with the server, stole the CPU being measured. Frames from
 * the servers are parsed in place; our frames use the all-zero masking key
 * (servers must unmask whatever key they get; on loopback nothing needs the
 * cache-poisoning protection that random keys give).
 *
 * It prints one JSON object on stdout; bench/run-fanout.py drives the sweep. */
#define G_LOG_DOMAIN "confab-bench"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "confab-bench-util.h"
#include "confab-packet.h"

/* A received message larger than this is not ours: skipped, not reassembled. */
#define BENCH_RX_MAX        65536
#define BENCH_LINE_MAX      1024
#define BENCH_HANDSHAKE_MAX 8192
/* One recv() takes at most this much; it may hold many messages. */
#define BENCH_READ_SIZE (256 * 1024)
/* Unsent bytes a connection may hold before the generator admits it cannot
 * keep up and skips media sends (counted, never silently). */
#define BENCH_OUT_LIMIT (256 * 1024)
#define WS_MAX_HEADER   14
/* Sends due this soon go out with the ones due now: one timer wake-up per
 * ~0.2 ms instead of one per send (re-arming a timerfd at every send was 15 %
 * of the generator's CPU). Send times are stamped when sent, so latency does
 * not see it; the pacing is just 0.2 ms coarser. */
#define BENCH_SEND_SLACK_US 200

typedef enum
{
  BENCH_MODE_RELAY,
  BENCH_MODE_NATS,
} BenchMode;

typedef enum
{
  CONN_CONNECTING,
  CONN_HANDSHAKE,
  CONN_OPEN,
  CONN_CLOSED,
} ConnState;

typedef enum
{
  NATS_LINE,
  NATS_PAYLOAD,
  NATS_PAYLOAD_END,
} NatsState;

typedef struct
{
  int fd;
  guint room;
  guint sender;
  ConnState state;
  gboolean ready;
  char ws_key[32];

  /* Each kind's whole client frame (header + payload) and where its send
   * time goes: patched in place per send, no copy. */
  guint8 *tpl[N_KINDS];
  gsize tpl_len[N_KINDS];
  gsize stamp_off[N_KINDS];
  guint32 seq;

  /* Bytes the socket did not take yet. */
  guint8 *out;
  gsize out_len;
  gsize out_size;
  gboolean want_out;

  /* Frame parser: a header split across reads waits here. */
  guint8 hdr[WS_MAX_HEADER];
  gsize hdr_len;
  guint64 frame_left;
  guint8 frame_opcode;
  gboolean frame_fin;
  guint8 msg_opcode;

  /* Reassembly of a WebSocket message (relay) or of a NATS payload split
   * across frames (nats); also the HTTP handshake reply. */
  guint8 *rx;
  gsize rx_len;
  gboolean rx_skip;

  /* Control frames (ping/close) are short: collected whole. */
  guint8 ctl[128];
  gsize ctl_len;

  NatsState nats_state;
  char line[BENCH_LINE_MAX];
  gsize line_len;
  gsize payload_need;
} BenchConn;

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
  BenchMode mode;
  int port;
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

  int epoll_fd;
  BenchConn *conns;
  guint n_conns;
  guint n_ready;
  guint8 *readbuf;

  /* The pacing schedule: a binary min-heap of the next send of every
   * (sender, kind), woken by one timerfd with nanosecond deadlines (epoll's
   * own timeout only has milliseconds). */
  BenchSchedule schedule;
  int timer_fd;
  gint64 period_ns[N_KINDS];
  gint64 send_slack_ns;

  BenchStage stage;
  gint64 stage_deadline;
  gint64 t0;
  gint64 t1;
  gboolean failed;
  char *fail_reason;

  /* Window accounting: only messages sent in [t0, t1) count, wherever and
   * whenever they arrive (within the drain). */
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
} Bench;

static Bench bench;

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

/* One PacketWrapper arrived (relay mode) or one NATS payload (nats mode,
 * carrying the same bytes). */
static void
bench_on_packet (BenchConn *conn, const guint8 *buf, gsize len)
{
  BenchKind kind = KIND_VIDEO;
  gint64 sent_ns = 0;

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

/* ---- templates ------------------------------------------------------------ */

/* Writes a client frame header (FIN, @opcode, masked with the zero key) for
 * @len payload bytes; returns its length. */
static gsize
ws_frame_header (guint8 *h, guint8 opcode, gsize len)
{
  gsize n;

  h[0] = 0x80 | opcode;
  if (len < 126)
    {
      h[1] = 0x80 | (guint8) len;
      n = 2;
    }
  else if (len < 65536)
    {
      h[1] = 0x80 | 126;
      h[2] = (guint8) (len >> 8);
      h[3] = (guint8) len;
      n = 4;
    }
  else
    {
      h[1] = 0x80 | 127;
      for (int i = 0; i < 8; i++)
        h[2 + i] = (guint8) ((guint64) len >> (56 - 8 * i));
      n = 10;
    }
  memset (h + n, 0, 4); /* masking key */
  return n + 4;
}

/* relay: one binary frame = one PacketWrapper. nats: one frame = one
 * "PUB room.<room>.<sender> <n>\r\n<the same PacketWrapper>\r\n". */
static void
conn_build_templates (BenchConn *conn)
{
  g_autofree char *user_id = g_strdup_printf ("bench-%u-%u", conn->room, conn->sender);

  for (guint k = 0; k < N_KINDS; k++)
    {
      gsize stamp_off;
      g_autoptr (GBytes) packet = confab_bench_media_packet (
          conn->room, conn->sender, k, k == KIND_VIDEO ? bench.video_size : bench.audio_size,
          user_id, &stamp_off);
      gsize plen;
      const guint8 *pdata = g_bytes_get_data (packet, &plen);
      g_autofree char *pub = NULL;
      gsize publen = 0, body, wslen;
      guint8 wshdr[WS_MAX_HEADER];
      guint8 *t;

      if (bench.mode == BENCH_MODE_NATS)
        pub = g_strdup_printf ("PUB room.%s%u.%u %zu\r\n", bench.room_prefix, conn->room,
                               conn->sender, plen);
      publen = pub != NULL ? strlen (pub) : 0;
      body = publen + plen + (bench.mode == BENCH_MODE_NATS ? 2 : 0);
      wslen = ws_frame_header (wshdr, 0x2, body);
      t = conn->tpl[k] = g_malloc (wslen + body);
      conn->tpl_len[k] = wslen + body;
      memcpy (t, wshdr, wslen);
      if (publen > 0)
        memcpy (t + wslen, pub, publen);
      memcpy (t + wslen + publen, pdata, plen);
      if (bench.mode == BENCH_MODE_NATS)
        memcpy (t + wslen + publen + plen, "\r\n", 2);
      conn->stamp_off[k] = wslen + publen + stamp_off;
    }
}

/* ---- sending -------------------------------------------------------------- */

static void
conn_watch (BenchConn *conn, gboolean want_out)
{
  struct epoll_event ev = { .events = EPOLLIN | (want_out ? EPOLLOUT : 0), .data.ptr = conn };

  if (conn->want_out == want_out)
    return;
  conn->want_out = want_out;
  epoll_ctl (bench.epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev);
}

static void
conn_close (BenchConn *conn, const char *why)
{
  if (conn->state == CONN_CLOSED)
    return;
  epoll_ctl (bench.epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL);
  close (conn->fd);
  conn->fd = -1;
  conn->state = CONN_CLOSED;
  if (bench.stage != STAGE_DONE)
    {
      g_autofree char *msg =
          g_strdup_printf ("connection %u-%u: %s", conn->room, conn->sender, why);
      bench_fail (msg);
    }
}

static void
out_append (BenchConn *conn, const guint8 *data, gsize len)
{
  if (conn->out_len + len > conn->out_size)
    {
      conn->out_size = MAX (conn->out_size * 2, conn->out_len + len);
      conn->out = g_realloc (conn->out, conn->out_size);
    }
  memcpy (conn->out + conn->out_len, data, len);
  conn->out_len += len;
}

/* Sends now if nothing is queued, else queues behind what is. */
static void
conn_send (BenchConn *conn, const guint8 *data, gsize len)
{
  ssize_t n = 0;

  if (conn->state == CONN_CLOSED)
    return;
  if (conn->out_len == 0)
    {
      n = send (conn->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        {
          conn_close (conn, g_strerror (errno));
          return;
        }
      n = MAX (n, 0);
      if ((gsize) n == len)
        return;
    }
  out_append (conn, data + n, len - (gsize) n);
  conn_watch (conn, TRUE);
}

static void
conn_flush (BenchConn *conn)
{
  ssize_t n = send (conn->fd, conn->out, conn->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

  if (n < 0)
    {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        conn_close (conn, g_strerror (errno));
      return;
    }
  memmove (conn->out, conn->out + n, conn->out_len - (gsize) n);
  conn->out_len -= (gsize) n;
  if (conn->out_len == 0)
    conn_watch (conn, FALSE);
}

static void
ws_send_control (BenchConn *conn, guint8 opcode, const guint8 *payload, gsize len)
{
  guint8 frame[WS_MAX_HEADER + 125];
  gsize h;

  len = MIN (len, 125);
  h = ws_frame_header (frame, opcode, len);
  if (len > 0)
    memcpy (frame + h, payload, len);
  conn_send (conn, frame, h + len);
}

static void
ws_send_string (BenchConn *conn, const char *text)
{
  gsize len = strlen (text);
  g_autofree guint8 *frame = g_malloc (WS_MAX_HEADER + len);
  gsize h = ws_frame_header (frame, 0x2, len);

  memcpy (frame + h, text, len);
  conn_send (conn, frame, h + len);
}

static void
conn_send_media (BenchConn *conn, BenchKind k, gint64 due)
{
  gint64 now = confab_bench_now_ns ();
  guint8 *t = conn->tpl[k];

  if (conn->state != CONN_OPEN || !conn->ready)
    return;
  if (conn->out_len > BENCH_OUT_LIMIT)
    {
      bench.skipped++;
      return;
    }
  conn->seq++;
  memcpy (t + conn->stamp_off[k], &now, 8);
  memcpy (t + conn->stamp_off[k] + 16, &conn->seq, 4);
  if (bench.stage == STAGE_WINDOW)
    {
      bench.sent[k]++;
      confab_bench_hist_add (&bench.send_lag, now - due);
    }
  conn_send (conn, t, conn->tpl_len[k]);
}

/* ---- pacing schedule ------------------------------------------------------ */

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

static void
schedule_run (gboolean from_timer)
{
  gint64 now = confab_bench_now_ns ();
  guint64 expirations;
  gboolean fired = FALSE;

  if (from_timer && read (bench.timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    bench_fail ("timerfd read failed");
  /* Send everything due by now and move each sender's next send on by
   * exactly one period: no drift, and no bursts beyond what is late. */
  while (bench.stage != STAGE_DONE && bench.schedule.len > 0 &&
         bench.schedule.heap[0].due <= now + bench.send_slack_ns)
    {
      BenchEvent *ev = &bench.schedule.heap[0];

      conn_send_media (&bench.conns[ev->conn], ev->kind, ev->due);
      ev->due += bench.period_ns[ev->kind];
      confab_bench_schedule_sift_down (&bench.schedule, 0);
      fired = TRUE;
    }
  if (from_timer || fired)
    schedule_rearm ();
}

static void
schedule_start (void)
{
  gint64 now = confab_bench_now_ns ();

  /* Spread phases evenly over all senders so the offered load is smooth. */
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

static void
stage_advance (gint64 now)
{
  switch (bench.stage)
    {
      case STAGE_CONNECTING:
        bench_fail ("connect timeout: not every connection became ready");
        return;
      case STAGE_WARMUP:
        bench.stage = STAGE_WINDOW;
        bench.server_cpu0 = confab_bench_proc_cpu_seconds (bench.server_pid);
        bench.gen_cpu0 = confab_bench_self_cpu_seconds ();
        bench.machine_cpu0 = confab_bench_machine_busy_seconds ();
        bench.t0 = confab_bench_now_ns ();
        bench.t1 = G_MAXINT64;
        bench.stage_deadline = bench.t0 + (gint64) (bench.window_s * 1e9);
        return;
      case STAGE_WINDOW:
        bench.t1 = confab_bench_now_ns ();
        bench.server_cpu1 = confab_bench_proc_cpu_seconds (bench.server_pid);
        bench.gen_cpu1 = confab_bench_self_cpu_seconds ();
        bench.machine_cpu1 = confab_bench_machine_busy_seconds ();
        /* Keep sending through the drain so the last window messages see the
         * same load as the rest. */
        bench.stage = STAGE_DRAIN;
        bench.stage_deadline = bench.t1 + (gint64) (bench.drain_s * 1e9);
        return;
      case STAGE_DRAIN:
        bench.stage = STAGE_DONE;
        return;
      case STAGE_DONE:
        return;
    }
}

static void
conn_ready (BenchConn *conn)
{
  if (conn->ready)
    return;
  conn->ready = TRUE;
  if (++bench.n_ready == bench.n_conns && bench.stage == STAGE_CONNECTING)
    {
      bench.stage = STAGE_WARMUP;
      bench.stage_deadline = confab_bench_now_ns () + (gint64) (bench.warmup_s * 1e9);
      schedule_start ();
    }
}

/* ---- NATS protocol stream ------------------------------------------------- */

static void
nats_on_line (BenchConn *conn, char *line, gsize len)
{
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    line[--len] = '\0';

  if (g_str_has_prefix (line, "MSG "))
    {
      /* MSG <subject> <sid> [reply-to] <#bytes>: the size is the last token. */
      const char *sp = strrchr (line, ' ');
      guint64 n = g_ascii_strtoull (sp + 1, NULL, 10);
      conn->payload_need = (gsize) n;
      conn->rx_len = 0;
      conn->rx_skip = n > BENCH_RX_MAX;
      conn->nats_state = NATS_PAYLOAD;
    }
  else if (strcmp (line, "PING") == 0)
    {
      ws_send_string (conn, "PONG\r\n");
    }
  else if (strcmp (line, "PONG") == 0)
    conn_ready (conn); /* our SUB is in place */
  else if (g_str_has_prefix (line, "-ERR"))
    {
      g_autofree char *msg = g_strdup_printf ("nats-server said: %s", line);
      bench_fail (msg);
    }
  /* INFO and +OK need nothing. */
}

/* NATS messages may be coalesced into one WebSocket frame and split across
 * frames: parse the bytes as one stream. */
static void
nats_on_bytes (BenchConn *conn, const guint8 *p, gsize len)
{
  const guint8 *end = p + len;

  while (p < end)
    {
      switch (conn->nats_state)
        {
          case NATS_LINE:
            {
              const guint8 *nl = memchr (p, '\n', (gsize) (end - p));
              gsize take = nl != NULL ? (gsize) (nl - p) + 1 : (gsize) (end - p);
              if (conn->line_len + take >= BENCH_LINE_MAX)
                {
                  bench_fail ("nats: protocol line too long");
                  return;
                }
              memcpy (conn->line + conn->line_len, p, take);
              conn->line_len += take;
              p += take;
              if (nl != NULL)
                {
                  conn->line[conn->line_len] = '\0';
                  conn->line_len = 0;
                  nats_on_line (conn, conn->line, strlen (conn->line));
                }
              break;
            }
          case NATS_PAYLOAD:
            {
              gsize avail = (gsize) (end - p);
              if (conn->rx_len == 0 && !conn->rx_skip && avail >= conn->payload_need)
                {
                  /* Whole payload in this chunk: no copy. */
                  bench_on_packet (conn, p, conn->payload_need);
                  p += conn->payload_need;
                  conn->nats_state = NATS_PAYLOAD_END;
                  conn->payload_need = 2;
                  break;
                }
              gsize take = MIN (avail, conn->payload_need - conn->rx_len);
              if (!conn->rx_skip)
                memcpy (conn->rx + conn->rx_len, p, take);
              conn->rx_len += take;
              p += take;
              if (conn->rx_len == conn->payload_need)
                {
                  if (!conn->rx_skip)
                    bench_on_packet (conn, conn->rx, conn->rx_len);
                  conn->rx_len = 0;
                  conn->rx_skip = FALSE;
                  conn->nats_state = NATS_PAYLOAD_END;
                  conn->payload_need = 2;
                }
              break;
            }
          case NATS_PAYLOAD_END:
            /* The CRLF after a payload. */
            p++;
            if (--conn->payload_need == 0)
              conn->nats_state = NATS_LINE;
            break;
        }
    }
}

/* ---- receiving ------------------------------------------------------------ */

static void
frame_end (BenchConn *conn)
{
  switch (conn->frame_opcode)
    {
      case 0x8:
        conn_close (conn, "server sent close");
        return;
      case 0x9:
        ws_send_control (conn, 0xA, conn->ctl, conn->ctl_len);
        return;
      case 0xA:
        return;
      default:
        break;
    }
  if (!conn->frame_fin)
    return;
  /* A whole data message is in. */
  if (bench.mode == BENCH_MODE_RELAY)
    {
      if (conn->rx_len > 0 && !conn->rx_skip)
        bench_on_packet (conn, conn->rx, conn->rx_len);
      conn->rx_len = 0;
      conn->rx_skip = FALSE;
      if (!conn->ready)
        conn_ready (conn); /* SESSION_ASSIGNED: the relay knows us */
    }
}

/* Server frames are never masked, so payloads are used where they lie. */
static void
conn_on_ws_bytes (BenchConn *conn, const guint8 *p, gsize len)
{
  const guint8 *end = p + len;

  while (p < end && conn->state == CONN_OPEN)
    {
      if (conn->frame_left == 0 && conn->hdr_len < WS_MAX_HEADER + 1)
        {
          gsize need;
          guint64 plen;
          guint8 len7;

          while (conn->hdr_len < 2 && p < end)
            conn->hdr[conn->hdr_len++] = *p++;
          if (conn->hdr_len < 2)
            return;
          len7 = conn->hdr[1] & 0x7f;
          if (conn->hdr[1] & 0x80)
            {
              conn_close (conn, "protocol error: masked frame from the server");
              return;
            }
          need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
          while (conn->hdr_len < need && p < end)
            conn->hdr[conn->hdr_len++] = *p++;
          if (conn->hdr_len < need)
            return;
          if (len7 == 126)
            plen = ((guint64) conn->hdr[2] << 8) | conn->hdr[3];
          else if (len7 == 127)
            {
              plen = 0;
              for (int i = 0; i < 8; i++)
                plen = (plen << 8) | conn->hdr[2 + i];
            }
          else
            plen = len7;
          conn->hdr_len = 0;
          conn->frame_fin = (conn->hdr[0] & 0x80) != 0;
          conn->frame_opcode = conn->hdr[0] & 0x0f;
          if (conn->frame_opcode >= 0x8)
            {
              if (plen > 125 || !conn->frame_fin)
                {
                  conn_close (conn, "protocol error: bad control frame");
                  return;
                }
              conn->ctl_len = 0;
            }
          else if (conn->frame_opcode != 0 && bench.mode == BENCH_MODE_RELAY)
            {
              /* A new message. (nats: frames are just a byte stream, and rx
               * holds a payload that may continue in this frame.) */
              conn->rx_len = 0;
              conn->rx_skip = FALSE;
            }
          if (plen == 0)
            {
              frame_end (conn);
              continue;
            }
          conn->frame_left = plen;
          /* Whole single-frame message in this read: no copy at all. */
          if (bench.mode == BENCH_MODE_RELAY && conn->frame_fin && conn->frame_opcode != 0 &&
              conn->frame_opcode < 0x8 && plen <= (guint64) (end - p))
            {
              bench_on_packet (conn, p, (gsize) plen);
              p += plen;
              conn->frame_left = 0;
              frame_end (conn);
              continue;
            }
        }

      gsize take = (gsize) MIN (conn->frame_left, (guint64) (end - p));
      if (conn->frame_opcode >= 0x8)
        {
          memcpy (conn->ctl + conn->ctl_len, p, take);
          conn->ctl_len += take;
        }
      else if (bench.mode == BENCH_MODE_NATS)
        nats_on_bytes (conn, p, take);
      else
        {
          if (conn->rx_len + take > BENCH_RX_MAX)
            conn->rx_skip = TRUE;
          if (!conn->rx_skip)
            {
              memcpy (conn->rx + conn->rx_len, p, take);
              conn->rx_len += take;
            }
        }
      p += take;
      conn->frame_left -= take;
      if (conn->frame_left == 0)
        frame_end (conn);
    }
}

static void
ws_accept_for_key (const char *key, char out[64])
{
  g_autoptr (GChecksum) sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize dlen = sizeof digest;
  g_autofree char *b64 = NULL;

  g_checksum_update (sha1, (const guchar *) key, -1);
  g_checksum_update (sha1, (const guchar *) "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", -1);
  g_checksum_get_digest (sha1, digest, &dlen);
  b64 = g_base64_encode (digest, dlen);
  g_strlcpy (out, b64, 64);
}

static void
conn_on_handshake_bytes (BenchConn *conn, const guint8 *p, gsize len)
{
  const guint8 *end_hdr;
  gsize hdr_len;
  char accept[64];
  g_autofree char *head = NULL;
  g_autofree char *want = NULL;

  if (conn->rx_len + len > BENCH_HANDSHAKE_MAX)
    {
      conn_close (conn, "handshake reply too long");
      return;
    }
  memcpy (conn->rx + conn->rx_len, p, len);
  conn->rx_len += len;
  end_hdr = memmem (conn->rx, conn->rx_len, "\r\n\r\n", 4);
  if (end_hdr == NULL)
    return;
  hdr_len = (gsize) (end_hdr - conn->rx) + 4;
  head = g_ascii_strdown ((const char *) conn->rx, (gssize) hdr_len);
  ws_accept_for_key (conn->ws_key, accept);
  want = g_ascii_strdown (accept, -1);
  if (!g_str_has_prefix (head, "http/1.1 101") || strstr (head, want) == NULL)
    {
      g_autofree char *line =
          g_strndup ((const char *) conn->rx, strcspn ((const char *) conn->rx, "\r\n"));
      g_autofree char *msg = g_strdup_printf ("handshake refused: %s", line);
      conn_close (conn, msg);
      return;
    }
  conn->state = CONN_OPEN;
  {
    /* Whatever followed the reply is already frames. */
    gsize rest = conn->rx_len - hdr_len;
    g_autofree guint8 *tail = rest > 0 ? g_memdup2 (conn->rx + hdr_len, rest) : NULL;
    conn->rx_len = 0;
    if (bench.mode == BENCH_MODE_NATS)
      {
        g_autofree char *hello = g_strdup_printf (
            "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"lang\":\"c\","
            "\"version\":\"confab-bench\",\"protocol\":1,\"name\":\"bench-%u-%u\"}\r\n"
            "SUB room.%s%u.* 1\r\nPING\r\n",
            conn->room, conn->sender, bench.room_prefix, conn->room);
        ws_send_string (conn, hello);
      }
    if (rest > 0)
      conn_on_ws_bytes (conn, tail, rest);
  }
}

static void
conn_connected (BenchConn *conn)
{
  int err = 0;
  socklen_t elen = sizeof err;
  guint8 nonce[16];
  g_autofree char *key = NULL;
  g_autofree char *req = NULL;
  g_autofree char *path = NULL;

  if (getsockopt (conn->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err != 0)
    {
      conn_close (conn, g_strerror (err != 0 ? err : errno));
      return;
    }
  for (guint i = 0; i < sizeof nonce; i++)
    nonce[i] = (guint8) g_random_int ();
  key = g_base64_encode (nonce, sizeof nonce);
  g_strlcpy (conn->ws_key, key, sizeof conn->ws_key);
  if (bench.mode == BENCH_MODE_RELAY)
    path = g_strdup_printf ("/lobby/bench-%u-%u/%s%u", conn->room, conn->sender, bench.room_prefix,
                            conn->room);
  else
    path = g_strdup ("/");
  req = g_strdup_printf ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                         "Sec-WebSocket-Version: 13\r\nOrigin: http://127.0.0.1:%d\r\n\r\n",
                         path, bench.port, key, bench.port);
  conn->state = CONN_HANDSHAKE;
  conn_watch (conn, FALSE);
  conn_send (conn, (const guint8 *) req, strlen (req));
}

static void
conn_on_event (BenchConn *conn, guint32 events)
{
  ssize_t n;

  if (conn->state == CONN_CONNECTING)
    {
      if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
        conn_connected (conn);
      return;
    }
  if ((events & EPOLLOUT) && conn->out_len > 0)
    conn_flush (conn);
  if (conn->state == CONN_CLOSED || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
    return;

  /* One read per wake-up keeps the connections fair; level-triggered epoll
   * comes back for the rest. */
  n = recv (conn->fd, bench.readbuf, BENCH_READ_SIZE, MSG_DONTWAIT);
  if (n == 0)
    {
      conn_close (conn, "server closed the connection");
      return;
    }
  if (n < 0)
    {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
        conn_close (conn, g_strerror (errno));
      return;
    }
  if (conn->state == CONN_HANDSHAKE)
    conn_on_handshake_bytes (conn, bench.readbuf, (gsize) n);
  else
    conn_on_ws_bytes (conn, bench.readbuf, (gsize) n);
}

static gboolean
conn_start (BenchConn *conn)
{
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((guint16) bench.port) };
  struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = conn };
  int one = 1;

  sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  conn->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (conn->fd < 0)
    return FALSE;
  setsockopt (conn->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect (conn->fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
    return FALSE;
  conn->state = CONN_CONNECTING;
  conn->want_out = TRUE;
  return epoll_ctl (bench.epoll_fd, EPOLL_CTL_ADD, conn->fd, &ev) == 0;
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

  g_string_append_printf (s, "\"mode\":\"%s\",\"rooms\":%u,\"senders\":%u,\"ok\":%s",
                          bench.mode == BENCH_MODE_RELAY ? "relay" : "nats", bench.rooms,
                          bench.n_conns, bench.failed ? "false" : "true");
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
  g_autofree char *mode = NULL;
  g_autoptr (GOptionContext) octx = NULL;
  g_autoptr (GError) error = NULL;
  int rooms = 1, per_room = 10, video_size = 2500, audio_size = 100;
  int slack_us = BENCH_SEND_SLACK_US;
  GOptionEntry entries[] = {
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "relay or nats", "MODE" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &bench.port, "WebSocket port on 127.0.0.1", "N" },
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
  struct epoll_event events[512];
  struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
  gint64 hard_deadline;

  bench.video_rate = 30;
  bench.audio_rate = 50;
  bench.warmup_s = 2;
  bench.window_s = 5;
  bench.drain_s = 0.5;
  bench.connect_timeout_s = 15;

  octx = g_option_context_new ("- relay fan-out load generator");
  g_option_context_add_main_entries (octx, entries, NULL);
  if (!g_option_context_parse (octx, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (mode == NULL || (strcmp (mode, "relay") != 0 && strcmp (mode, "nats") != 0) ||
      bench.port <= 0 || bench.port > 65535 || rooms < 1 || rooms > 200 || per_room < 2 ||
      per_room > 100 || video_size < 0 || video_size > 60000 || audio_size < 0 ||
      audio_size > 60000 || bench.video_rate <= 0 || bench.audio_rate <= 0 ||
      bench.video_rate > 1000 || bench.audio_rate > 1000 || bench.window_s <= 0 ||
      bench.window_s > 600 || bench.warmup_s < 0 || bench.warmup_s > 60 || bench.drain_s < 0 ||
      bench.drain_s > 60)
    {
      g_printerr ("usage: confab-bench-fanout --mode relay|nats --port N [--rooms R] ...\n");
      return 2;
    }
  bench.mode = strcmp (mode, "relay") == 0 ? BENCH_MODE_RELAY : BENCH_MODE_NATS;
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

  bench.epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  bench.timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (bench.epoll_fd < 0 || bench.timer_fd < 0 ||
      epoll_ctl (bench.epoll_fd, EPOLL_CTL_ADD, bench.timer_fd, &tev) < 0)
    {
      g_printerr ("epoll/timerfd: %s\n", g_strerror (errno));
      return 2;
    }
  bench.readbuf = g_malloc (BENCH_READ_SIZE);
  bench.conns = g_new0 (BenchConn, bench.n_conns);
  bench.schedule.heap = g_new0 (BenchEvent, bench.n_conns * N_KINDS);
  for (guint i = 0; i < bench.n_conns; i++)
    {
      BenchConn *conn = &bench.conns[i];
      conn->fd = -1;
      conn->room = i / bench.per_room;
      conn->sender = i % bench.per_room;
      conn->rx = g_malloc (BENCH_RX_MAX);
      conn_build_templates (conn);
      if (!conn_start (conn))
        {
          g_autofree char *msg = g_strdup_printf ("connect: %s", g_strerror (errno));
          bench_fail (msg);
          break;
        }
    }

  bench.stage_deadline = confab_bench_now_ns () + (gint64) (bench.connect_timeout_s * 1e9);
  hard_deadline =
      confab_bench_now_ns () +
      (gint64) ((bench.connect_timeout_s + bench.warmup_s + bench.window_s + bench.drain_s + 10) *
                1e9);
  /* Bounded: every stage has a deadline, and this loop a hard one. */
  while (!bench.failed && bench.stage != STAGE_DONE)
    {
      gint64 now = confab_bench_now_ns ();
      int timeout_ms, n;

      if (now >= hard_deadline)
        {
          bench_fail ("run did not finish in time");
          break;
        }
      if (now >= bench.stage_deadline)
        {
          stage_advance (now);
          continue;
        }
      timeout_ms = (int) MIN ((bench.stage_deadline - now + 999999) / 1000000, 1000);
      n = epoll_wait (bench.epoll_fd, events, G_N_ELEMENTS (events), timeout_ms);
      if (n < 0 && errno != EINTR)
        {
          bench_fail ("epoll_wait failed");
          break;
        }
      for (int i = 0; i < n && bench.stage != STAGE_DONE; i++)
        {
          if (events[i].data.ptr == NULL)
            schedule_run (TRUE);
          else
            conn_on_event (events[i].data.ptr, events[i].events);
          /* A long batch of reads must not hold the sends back. */
          if (i % 16 == 15)
            schedule_run (FALSE);
        }
    }

  print_result ();
  for (guint i = 0; i < bench.n_conns; i++)
    {
      BenchConn *conn = &bench.conns[i];
      if (conn->fd >= 0)
        close (conn->fd);
      for (guint k = 0; k < N_KINDS; k++)
        g_free (conn->tpl[k]);
      g_free (conn->rx);
      g_free (conn->out);
    }
  close (bench.timer_fd);
  close (bench.epoll_fd);
  g_free (bench.conns);
  g_free (bench.schedule.heap);
  g_free (bench.readbuf);
  g_free (bench.room_prefix);
  g_free (bench.fail_reason);
  return bench.failed ? 1 : 0;
}
