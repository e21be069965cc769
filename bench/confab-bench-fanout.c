/* confab-bench-fanout.c: a single-threaded load generator for the relay
 * fan-out benchmark (issue 2). It holds R rooms of 10 WebSocket senders, each
 * sending 30 video and 50 audio packets per second on a paced schedule and
 * receiving its room, and measures delivery, latency and server CPU over a
 * fixed window. The same bytes go either through confab-relay (`relay` mode,
 * real PacketWrapper{MEDIA}) or through nats-server's own WebSocket listener
 * (`nats` mode, PUB/SUB on room subjects) as the reference fan-out engine.
 *
 * It prints one JSON object on stdout; bench/run-fanout.py drives the sweep. */
#define G_LOG_DOMAIN "confab-bench"

#include <errno.h>
#include <libwebsockets.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <glib.h>

#include "confab-packet.h"

/* Marks our payload inside MediaPacket.data, so a receiver never mistakes a
 * relay's own packet (or anything else) for a timed one. */
#define BENCH_MAGIC "CFBENCH1"
#define BENCH_MAGIC_LEN 8
/* magic | send time (CLOCK_MONOTONIC ns) | room | sender | sequence */
#define BENCH_STAMP_LEN (BENCH_MAGIC_LEN + 8 + 4 + 4 + 4)
/* A received message larger than this is not ours: skipped, not reassembled. */
#define BENCH_RX_MAX 65536
#define BENCH_LINE_MAX 1024
/* Sends a sender may owe before the generator admits it cannot keep up and
 * skips (counted, never silently). */
#define BENCH_MAX_PENDING 8

#define NS_PER_S G_GINT64_CONSTANT (1000000000)

typedef enum
{
  BENCH_MODE_RELAY,
  BENCH_MODE_NATS,
} BenchMode;

typedef enum
{
  KIND_VIDEO = 0,
  KIND_AUDIO = 1,
  N_KINDS
} BenchKind;

/* Log-linear latency histogram in microseconds: 32 linear buckets per power
 * of two (about 3 % resolution), fixed size, no allocation per sample. */
#define HIST_SUB_BITS 5
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_BUCKETS ((40 - HIST_SUB_BITS + 1) * HIST_SUB)

typedef struct
{
  guint64 counts[HIST_BUCKETS];
  guint64 total;
  gint64 max_ns;
} BenchHist;

typedef enum
{
  NATS_LINE,
  NATS_PAYLOAD,
  NATS_PAYLOAD_END,
} NatsState;

typedef struct
{
  struct lws *wsi;
  guint room;
  guint sender;
  gboolean established;
  gboolean ready;
  gboolean closed;

  /* What each kind's frame looks like, LWS_PRE headroom included, and where
   * its send time goes; copied to a scratch buffer per send because the
   * client masks payloads in place. */
  guint8 *tpl[N_KINDS];
  gsize tpl_len[N_KINDS];
  gsize stamp_off[N_KINDS];
  guint pending[N_KINDS];
  /* When the oldest send still owed was due: its lag says whether the
   * generator keeps its own schedule. */
  gint64 owed_due[N_KINDS];
  guint32 seq;

  /* nats: control lines still to write (CONNECT/SUB/PING, PONG answers). */
  GString *control;

  /* Reassembly of a WebSocket message (relay) or of a NATS payload split
   * across frames (nats). */
  guint8 *rx;
  gsize rx_len;
  gboolean rx_skip;

  NatsState nats_state;
  char line[BENCH_LINE_MAX];
  gsize line_len;
  gsize payload_need;
} BenchConn;

typedef struct
{
  gint64 due;
  guint32 conn;
  guint32 kind;
} BenchEvent;

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

  struct lws_context *ctx;
  BenchConn *conns;
  guint n_conns;
  guint n_ready;
  guint n_failed;
  guint8 *scratch;
  gsize scratch_size;

  /* The pacing schedule: a binary min-heap of the next send of every
   * (sender, kind), driven by one timerfd in lws's poll set. Not an lws timer:
   * lws 4.1 rounds its poll() wait down to whole milliseconds and so spins
   * through the last fraction before every timer, which at thousands of sends
   * per second would burn the CPU this benchmark measures. */
  BenchEvent *heap;
  guint heap_len;
  int timer_fd;
  lws_sorted_usec_list_t stage_sul;
  gint64 period_ns[N_KINDS];

  enum { STAGE_CONNECTING, STAGE_WARMUP, STAGE_WINDOW, STAGE_DRAIN, STAGE_DONE } stage;
  gint64 t_start;
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
} Bench;

static Bench bench;

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void
hist_add (BenchHist *h, gint64 ns)
{
  guint64 us = ns > 0 ? (guint64) ns / 1000 : 0;
  guint idx;

  if (us < HIST_SUB)
    idx = (guint) us;
  else
    {
      guint msb = 63 - (guint) __builtin_clzll (us);
      guint sub = (guint) (us >> (msb - HIST_SUB_BITS)) & (HIST_SUB - 1);
      idx = (msb - HIST_SUB_BITS + 1) * HIST_SUB + sub;
    }
  idx = MIN (idx, HIST_BUCKETS - 1);
  h->counts[idx]++;
  h->total++;
  h->max_ns = MAX (h->max_ns, ns);
}

/* Upper edge of bucket @idx in milliseconds: a percentile is reported as at
 * most this, never flattered. */
static double
hist_bucket_upper_ms (guint idx)
{
  if (idx < HIST_SUB)
    return (idx + 1) / 1000.0;
  guint msb = idx / HIST_SUB + HIST_SUB_BITS - 1;
  guint sub = idx % HIST_SUB;
  guint64 lower = (guint64) (HIST_SUB + sub) << (msb - HIST_SUB_BITS);
  guint64 width = (guint64) 1 << (msb - HIST_SUB_BITS);
  return (double) (lower + width) / 1000.0;
}

static double
hist_percentile_ms (const BenchHist *h, double q)
{
  guint64 rank, seen = 0;

  if (h->total == 0)
    return 0;
  rank = (guint64) ceil (q * (double) h->total);
  rank = MAX (rank, 1);
  for (guint i = 0; i < HIST_BUCKETS; i++)
    {
      seen += h->counts[i];
      if (seen >= rank)
        return MIN (hist_bucket_upper_ms (i), h->max_ns / 1e6);
    }
  return h->max_ns / 1e6;
}

/* utime + stime of every thread of @pid, in seconds. */
static double
proc_cpu_seconds (int pid)
{
  char path[64];
  g_autofree char *contents = NULL;
  const char *p;
  g_auto (GStrv) fields = NULL;

  if (pid <= 0)
    return 0;
  g_snprintf (path, sizeof path, "/proc/%d/stat", pid);
  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return -1;
  /* The command name may hold spaces; fields resume after its ')'. */
  p = strrchr (contents, ')');
  if (p == NULL)
    return -1;
  fields = g_strsplit (p + 2, " ", 16);
  if (g_strv_length (fields) < 14)
    return -1;
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL))
         / (double) sysconf (_SC_CLK_TCK);
}

static double
self_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
         + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void
bench_fail (const char *reason)
{
  if (!bench.failed)
    {
      bench.failed = TRUE;
      bench.fail_reason = g_strdup (reason);
    }
  bench.stage = STAGE_DONE;
  lws_cancel_service (bench.ctx);
}

/* ---- protobuf wire walking ------------------------------------------------
 * The receive path only needs three fields out of two nested messages, so it
 * walks the wire format in place instead of unpacking (which would copy the
 * 2.5 kB payload): the generator shares the CPU with the server it measures. */

static gboolean
read_varint (const guint8 **p, const guint8 *end, guint64 *out)
{
  guint64 v = 0;

  for (guint shift = 0; shift < 64 && *p < end; shift += 7)
    {
      guint8 b = *(*p)++;
      v |= (guint64) (b & 0x7f) << shift;
      if ((b & 0x80) == 0)
        {
          *out = v;
          return TRUE;
        }
    }
  return FALSE;
}

/* Finds varint field @vfield and length-delimited field @bfield of one
 * message; FALSE on malformed input. Missing fields leave outputs untouched. */
static gboolean
scan_message (const guint8 *buf,
              gsize len,
              guint vfield,
              guint64 *vout,
              guint bfield,
              const guint8 **bout,
              gsize *blen)
{
  const guint8 *p = buf, *end = buf + len;

  while (p < end)
    {
      guint64 key, v;
      if (!read_varint (&p, end, &key))
        return FALSE;
      switch (key & 7)
        {
        case 0:
          if (!read_varint (&p, end, &v))
            return FALSE;
          if ((key >> 3) == vfield)
            *vout = v;
          break;
        case 1:
          if (end - p < 8)
            return FALSE;
          p += 8;
          break;
        case 2:
          if (!read_varint (&p, end, &v) || v > (guint64) (end - p))
            return FALSE;
          if ((key >> 3) == bfield)
            {
              *bout = p;
              *blen = (gsize) v;
            }
          p += v;
          break;
        case 5:
          if (end - p < 4)
            return FALSE;
          p += 4;
          break;
        default:
          return FALSE;
        }
    }
  return TRUE;
}

/* One PacketWrapper arrived (relay mode) or one NATS payload (nats mode,
 * carrying the same bytes). */
static void
bench_on_packet (BenchConn *conn, const guint8 *buf, gsize len)
{
  guint64 packet_type = 0, media_type = 0;
  const guint8 *inner = NULL, *data = NULL;
  gsize inner_len = 0, data_len = 0;
  gint64 sent_ns, now;
  guint32 room, sender;

  if (!scan_message (buf, len, 1, &packet_type, 3, &inner, &inner_len)
      || packet_type != CONFAB_PACKET_MEDIA || inner == NULL)
    return; /* system packets: SESSION_ASSIGNED, MEETING, ... */
  if (!scan_message (inner, inner_len, 1, &media_type, 3, &data, &data_len)
      || data == NULL || data_len < BENCH_STAMP_LEN
      || memcmp (data, BENCH_MAGIC, BENCH_MAGIC_LEN) != 0)
    return;

  memcpy (&sent_ns, data + BENCH_MAGIC_LEN, 8);
  memcpy (&room, data + BENCH_MAGIC_LEN + 8, 4);
  memcpy (&sender, data + BENCH_MAGIC_LEN + 12, 4);
  if (room != conn->room || sender == conn->sender)
    {
      /* Another room's traffic, or our own echo: a fan-out bug, not load. */
      bench.foreign++;
      return;
    }
  if (bench.t0 == 0 || sent_ns < bench.t0 || sent_ns >= bench.t1)
    return;

  now = now_ns ();
  bench.delivered[media_type == CONFAB_MEDIA_AUDIO ? KIND_AUDIO : KIND_VIDEO]++;
  hist_add (&bench.latency, now - sent_ns);
}

/* ---- templates ------------------------------------------------------------ */

static void
stamp_fill (guint8 *data, gsize len, BenchConn *conn)
{
  memset (data, 0x5a, len);
  memcpy (data, BENCH_MAGIC, BENCH_MAGIC_LEN);
  memcpy (data + BENCH_MAGIC_LEN + 8, &conn->room, 4);
  memcpy (data + BENCH_MAGIC_LEN + 12, &conn->sender, 4);
}

/* A PacketWrapper{MEDIA, MediaPacket{...}} shaped like what confab-cli sends
 * for 640x360 VP9 (~600 kbps at 30 fps) or 20 ms Opus frames. */
static GBytes *
build_media_packet (BenchConn *conn, BenchKind kind, const char *user_id)
{
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__VideoMetadata video = CONFAB__VIDEO_METADATA__INIT;
  Confab__AudioMetadata audio = CONFAB__AUDIO_METADATA__INIT;
  gsize size = kind == KIND_VIDEO ? bench.video_size : bench.audio_size;
  g_autofree guint8 *data = g_malloc (MAX (size, BENCH_STAMP_LEN));
  g_autoptr (GBytes) inner = NULL;
  gsize inner_len;
  const guint8 *inner_data;

  size = MAX (size, BENCH_STAMP_LEN);
  stamp_fill (data, size, conn);
  media.user_id.data = (guint8 *) user_id;
  media.user_id.len = strlen (user_id);
  media.data.data = data;
  media.data.len = size;
  media.timestamp = (double) confab_now_epoch_ms ();
  if (kind == KIND_VIDEO)
    {
      media.media_type = CONFAB_MEDIA_VIDEO;
      media.frame_type = (char *) "delta";
      media.duration = 33.0;
      video.sequence = 1;
      video.codec = CONFAB__VIDEO_CODEC__VP9_PROFILE0_LEVEL10_8BIT;
      media.video_metadata = &video;
    }
  else
    {
      media.media_type = CONFAB_MEDIA_AUDIO;
      media.frame_type = (char *) "key";
      media.duration = 20.0;
      audio.audio_format = (char *) "opus";
      audio.audio_number_of_channels = 1;
      audio.audio_number_of_frames = 960;
      audio.audio_sample_rate = 48000;
      audio.sequence = 1;
      media.audio_metadata = &audio;
    }
  inner = confab_message_pack (&media.base);
  inner_data = g_bytes_get_data (inner, &inner_len);
  return confab_packet_wrap (CONFAB_PACKET_MEDIA, user_id, 0, inner_data, inner_len);
}

static void
conn_build_templates (BenchConn *conn)
{
  g_autofree char *user_id = g_strdup_printf ("bench-%u-%u", conn->room, conn->sender);

  for (guint k = 0; k < N_KINDS; k++)
    {
      g_autoptr (GBytes) packet = build_media_packet (conn, k, user_id);
      gsize plen;
      const guint8 *pdata = g_bytes_get_data (packet, &plen);
      g_autofree char *header = NULL;
      gsize hlen = 0, flen;
      const guint8 *magic;

      if (bench.mode == BENCH_MODE_NATS)
        header = g_strdup_printf ("PUB room.%s%u.%u %zu\r\n", bench.room_prefix,
                                  conn->room, conn->sender, plen);
      hlen = header != NULL ? strlen (header) : 0;
      flen = hlen + plen + (bench.mode == BENCH_MODE_NATS ? 2 : 0);
      conn->tpl[k] = g_malloc (LWS_PRE + flen);
      conn->tpl_len[k] = flen;
      if (hlen > 0)
        memcpy (conn->tpl[k] + LWS_PRE, header, hlen);
      memcpy (conn->tpl[k] + LWS_PRE + hlen, pdata, plen);
      if (bench.mode == BENCH_MODE_NATS)
        memcpy (conn->tpl[k] + LWS_PRE + hlen + plen, "\r\n", 2);
      magic = memmem (pdata, plen, BENCH_MAGIC, BENCH_MAGIC_LEN);
      g_assert (magic != NULL);
      conn->stamp_off[k] = LWS_PRE + hlen + (gsize) (magic - pdata) + BENCH_MAGIC_LEN;
      bench.scratch_size = MAX (bench.scratch_size, LWS_PRE + flen);
    }
}

/* ---- pacing schedule ------------------------------------------------------ */

static void
heap_swap (guint a, guint b)
{
  BenchEvent t = bench.heap[a];
  bench.heap[a] = bench.heap[b];
  bench.heap[b] = t;
}

static void
heap_sift_down (guint i)
{
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;
      if (l < bench.heap_len && bench.heap[l].due < bench.heap[m].due)
        m = l;
      if (r < bench.heap_len && bench.heap[r].due < bench.heap[m].due)
        m = r;
      if (m == i)
        return;
      heap_swap (i, m);
      i = m;
    }
}

static void
heap_push (BenchEvent ev)
{
  guint i = bench.heap_len++;

  bench.heap[i] = ev;
  while (i > 0 && bench.heap[(i - 1) / 2].due > bench.heap[i].due)
    {
      heap_swap (i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
}

static void
schedule_rearm (void)
{
  struct itimerspec its = { 0 };
  gint64 due = bench.heap_len > 0 ? bench.heap[0].due : now_ns () + NS_PER_S;

  its.it_value.tv_sec = due / NS_PER_S;
  its.it_value.tv_nsec = due % NS_PER_S;
  timerfd_settime (bench.timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void
schedule_run (void)
{
  gint64 now = now_ns ();

  if (bench.stage == STAGE_DONE)
    return;
  /* Everything due by now: owe the sender one more packet of that kind and
   * move its next send on by exactly one period (no drift, no bursts). */
  while (bench.heap_len > 0 && bench.heap[0].due <= now)
    {
      BenchEvent *ev = &bench.heap[0];
      BenchConn *conn = &bench.conns[ev->conn];

      if (!conn->closed)
        {
          if (conn->pending[ev->kind] >= BENCH_MAX_PENDING)
            bench.skipped++;
          else if (conn->pending[ev->kind]++ == 0)
            conn->owed_due[ev->kind] = ev->due;
          lws_callback_on_writable (conn->wsi);
        }
      ev->due += bench.period_ns[ev->kind];
      heap_sift_down (0);
    }
  schedule_rearm ();
}

static void
schedule_start (void)
{
  gint64 now = now_ns ();

  /* Spread phases evenly over all senders so the offered load is smooth. */
  for (guint i = 0; i < bench.n_conns; i++)
    for (guint k = 0; k < N_KINDS; k++)
      {
        BenchEvent ev = {
          .due = now + bench.period_ns[k] * i / bench.n_conns + (k == KIND_AUDIO ? bench.period_ns[k] / 2 : 0),
          .conn = i,
          .kind = k,
        };
        heap_push (ev);
      }
  schedule_rearm ();
}

/* ---- stages --------------------------------------------------------------- */

static void
stage_sul_cb (lws_sorted_usec_list_t *sul)
{
  switch (bench.stage)
    {
    case STAGE_CONNECTING:
      bench_fail ("connect timeout: not every connection became ready");
      return;
    case STAGE_WARMUP:
      bench.stage = STAGE_WINDOW;
      bench.server_cpu0 = proc_cpu_seconds (bench.server_pid);
      bench.gen_cpu0 = self_cpu_seconds ();
      bench.t0 = now_ns ();
      bench.t1 = G_MAXINT64;
      lws_sul_schedule (bench.ctx, 0, &bench.stage_sul, stage_sul_cb,
                        (lws_usec_t) (bench.window_s * 1e6));
      return;
    case STAGE_WINDOW:
      bench.t1 = now_ns ();
      bench.server_cpu1 = proc_cpu_seconds (bench.server_pid);
      bench.gen_cpu1 = self_cpu_seconds ();
      bench.stage = STAGE_DRAIN;
      /* Keep sending through the drain so the last window messages see the
       * same load as the rest. */
      lws_sul_schedule (bench.ctx, 0, &bench.stage_sul, stage_sul_cb,
                        (lws_usec_t) (bench.drain_s * 1e6));
      return;
    case STAGE_DRAIN:
      bench.stage = STAGE_DONE;
      lws_cancel_service (bench.ctx);
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
      schedule_start ();
      lws_sul_schedule (bench.ctx, 0, &bench.stage_sul, stage_sul_cb,
                        (lws_usec_t) (bench.warmup_s * 1e6));
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
      g_string_append (conn->control, "PONG\r\n");
      lws_callback_on_writable (conn->wsi);
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

/* ---- libwebsockets -------------------------------------------------------- */

static gboolean
conn_write_one (BenchConn *conn)
{
  gint64 now;
  guint k;

  if (conn->control != NULL && conn->control->len > 0)
    {
      gsize n = conn->control->len;
      memcpy (bench.scratch + LWS_PRE, conn->control->str, n);
      g_string_truncate (conn->control, 0);
      return lws_write (conn->wsi, bench.scratch + LWS_PRE, n, LWS_WRITE_BINARY) >= (int) n;
    }
  if (!conn->ready || bench.stage == STAGE_CONNECTING || bench.stage == STAGE_DONE)
    return TRUE;
  /* Audio first: it is small and most sensitive to waiting behind video. */
  if (conn->pending[KIND_AUDIO] > 0)
    k = KIND_AUDIO;
  else if (conn->pending[KIND_VIDEO] > 0)
    k = KIND_VIDEO;
  else
    return TRUE;

  conn->pending[k]--;
  memcpy (bench.scratch, conn->tpl[k], conn->tpl_len[k] + LWS_PRE);
  now = now_ns ();
  conn->seq++;
  if (bench.stage == STAGE_WINDOW)
    hist_add (&bench.send_lag, now - conn->owed_due[k]);
  conn->owed_due[k] += bench.period_ns[k];
  memcpy (bench.scratch + conn->stamp_off[k], &now, 8);
  memcpy (bench.scratch + conn->stamp_off[k] + 16, &conn->seq, 4);
  if (bench.stage == STAGE_WINDOW)
    bench.sent[k]++;
  return lws_write (conn->wsi, bench.scratch + LWS_PRE, conn->tpl_len[k], LWS_WRITE_BINARY)
         >= (int) conn->tpl_len[k];
}

static gboolean
conn_wants_write (BenchConn *conn)
{
  return (conn->control != NULL && conn->control->len > 0)
         || (conn->ready && (conn->pending[KIND_AUDIO] > 0 || conn->pending[KIND_VIDEO] > 0));
}

static void
conn_on_message_bytes (struct lws *wsi, BenchConn *conn, const guint8 *in, gsize len)
{
  gboolean first = lws_is_first_fragment (wsi);
  gboolean final = lws_is_final_fragment (wsi) && lws_remaining_packet_payload (wsi) == 0;

  if (bench.mode == BENCH_MODE_NATS)
    {
      nats_on_bytes (conn, in, len);
      return;
    }

  /* relay: one WebSocket message is one PacketWrapper. */
  if (first && final && conn->rx_len == 0)
    {
      bench_on_packet (conn, in, len);
      return;
    }
  if (first)
    {
      conn->rx_len = 0;
      conn->rx_skip = FALSE;
    }
  if (conn->rx_len + len > BENCH_RX_MAX)
    conn->rx_skip = TRUE;
  if (!conn->rx_skip)
    {
      memcpy (conn->rx + conn->rx_len, in, len);
      conn->rx_len += len;
    }
  if (final)
    {
      if (!conn->rx_skip)
        bench_on_packet (conn, conn->rx, conn->rx_len);
      conn->rx_len = 0;
      conn->rx_skip = FALSE;
    }
}

static int
bench_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  BenchConn *conn = user;

  switch (reason)
    {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
      conn->established = TRUE;
      if (bench.mode == BENCH_MODE_NATS)
        {
          g_string_append_printf (conn->control,
                                  "CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,"
                                  "\"lang\":\"c\",\"version\":\"confab-bench\",\"protocol\":1,"
                                  "\"name\":\"bench-%u-%u\"}\r\n"
                                  "SUB room.%s%u.* 1\r\nPING\r\n",
                                  conn->room, conn->sender, bench.room_prefix, conn->room);
          lws_callback_on_writable (wsi);
        }
      break;

    case LWS_CALLBACK_CLIENT_RECEIVE:
      if (bench.mode == BENCH_MODE_RELAY && !conn->ready)
        conn_ready (conn); /* SESSION_ASSIGNED: the relay knows us */
      conn_on_message_bytes (wsi, conn, in, len);
      break;

    case LWS_CALLBACK_CLIENT_WRITEABLE:
      if (!conn_write_one (conn))
        {
          bench_fail ("write failed");
          return -1;
        }
      if (conn_wants_write (conn))
        lws_callback_on_writable (wsi);
      break;

    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
      {
        g_autofree char *msg = g_strdup_printf ("connection error: %s",
                                                in != NULL ? (const char *) in : "(unknown)");
        if (conn != NULL)
          conn->closed = TRUE;
        bench.n_failed++;
        bench_fail (msg);
        break;
      }

    case LWS_CALLBACK_CLIENT_CLOSED:
      if (conn != NULL)
        conn->closed = TRUE;
      if (bench.stage != STAGE_DONE)
        bench_fail ("server closed a connection during the run");
      break;

    default:
      break;
    }
  return 0;
}

static int
timer_callback (struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  guint64 expirations;

  if (reason == LWS_CALLBACK_RAW_RX_FILE)
    {
      if (read (bench.timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        bench_fail ("timerfd read failed");
      schedule_run ();
    }
  return 0;
}

static const struct lws_protocols bench_protocols[] = {
  { "confab-bench", bench_callback, 0, BENCH_RX_MAX, 0, NULL, 0 },
  { "confab-bench-timer", timer_callback, 0, 0, 1, NULL, 0 },
  { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void
print_result (void)
{
  double window = bench.t1 > bench.t0 && bench.t0 > 0 ? (bench.t1 - bench.t0) / 1e9 : 0;
  guint64 sent = bench.sent[KIND_VIDEO] + bench.sent[KIND_AUDIO];
  guint64 delivered = bench.delivered[KIND_VIDEO] + bench.delivered[KIND_AUDIO];
  guint64 expected = sent * (bench.per_room - 1);
  double server_cpu = bench.server_cpu1 - bench.server_cpu0;
  double gen_cpu = bench.gen_cpu1 - bench.gen_cpu0;
  g_autoptr (GString) s = g_string_new ("{");

  g_string_append_printf (s, "\"mode\":\"%s\",\"rooms\":%u,\"senders\":%u,\"ok\":%s",
                          bench.mode == BENCH_MODE_RELAY ? "relay" : "nats",
                          bench.rooms, bench.n_conns, bench.failed ? "false" : "true");
  if (bench.failed)
    {
      g_autofree char *esc = g_strescape (bench.fail_reason, NULL);
      g_string_append_printf (s, ",\"error\":\"%s\"", esc);
    }
  g_string_append_printf (s, ",\"window_s\":%.3f,\"sent\":%" G_GUINT64_FORMAT
                          ",\"sent_video\":%" G_GUINT64_FORMAT ",\"sent_audio\":%" G_GUINT64_FORMAT
                          ",\"expected\":%" G_GUINT64_FORMAT ",\"delivered\":%" G_GUINT64_FORMAT
                          ",\"skipped\":%" G_GUINT64_FORMAT
                          ",\"foreign\":%" G_GUINT64_FORMAT,
                          window, sent, bench.sent[KIND_VIDEO], bench.sent[KIND_AUDIO], expected,
                          delivered, bench.skipped, bench.foreign);
  g_string_append_printf (s, ",\"delivery_ratio\":%.4f,\"offered_msgs_per_s\":%.1f"
                          ",\"nominal_msgs_per_s\":%.1f,\"delivered_msgs_per_s\":%.1f",
                          expected > 0 ? (double) delivered / (double) expected : 0,
                          window > 0 ? sent / window : 0,
                          bench.n_conns * (bench.video_rate + bench.audio_rate) * (bench.per_room - 1),
                          window > 0 ? delivered / window : 0);
  g_string_append_printf (s, ",\"server_cpu_s\":%.3f,\"server_cpu_pct\":%.1f"
                          ",\"msgs_per_server_cpu_s\":%.0f,\"gen_cpu_s\":%.3f,\"gen_cpu_pct\":%.1f",
                          server_cpu, window > 0 ? 100 * server_cpu / window : 0,
                          server_cpu > 0 ? delivered / server_cpu : 0,
                          gen_cpu, window > 0 ? 100 * gen_cpu / window : 0);
  g_string_append_printf (s, ",\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f"
                          ",\"send_lag_p99_ms\":%.3f,\"send_lag_max_ms\":%.3f}",
                          hist_percentile_ms (&bench.latency, 0.50),
                          hist_percentile_ms (&bench.latency, 0.90),
                          hist_percentile_ms (&bench.latency, 0.99),
                          bench.latency.max_ns / 1e6,
                          hist_percentile_ms (&bench.send_lag, 0.99),
                          bench.send_lag.max_ns / 1e6);
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
  struct lws_context_creation_info info = { 0 };
  int rooms = 1, per_room = 10, video_size = 2500, audio_size = 100;
  GOptionEntry entries[] = {
    { "mode", 'm', 0, G_OPTION_ARG_STRING, &mode, "relay or nats", "MODE" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &bench.port, "WebSocket port on 127.0.0.1", "N" },
    { "rooms", 'r', 0, G_OPTION_ARG_INT, &rooms, "Rooms (default 1)", "R" },
    { "per-room", 0, 0, G_OPTION_ARG_INT, &per_room, "Senders per room (default 10)", "N" },
    { "video-size", 0, 0, G_OPTION_ARG_INT, &video_size, "Video payload bytes (2500)", "B" },
    { "audio-size", 0, 0, G_OPTION_ARG_INT, &audio_size, "Audio payload bytes (100)", "B" },
    { "video-rate", 0, 0, G_OPTION_ARG_DOUBLE, &bench.video_rate, "Video packets/s per sender (30)", "N" },
    { "audio-rate", 0, 0, G_OPTION_ARG_DOUBLE, &bench.audio_rate, "Audio packets/s per sender (50)", "N" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &bench.warmup_s, "Warm-up seconds (2)", "S" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &bench.window_s, "Measured window seconds (5)", "S" },
    { "drain", 0, 0, G_OPTION_ARG_DOUBLE, &bench.drain_s, "Seconds to wait for late messages (0.5)", "S" },
    { "server-pid", 0, 0, G_OPTION_ARG_INT, &bench.server_pid, "Server process whose CPU to measure", "PID" },
    { "room-prefix", 0, 0, G_OPTION_ARG_STRING, &bench.room_prefix, "Room name prefix (bench)", "S" },
    { NULL }
  };
  gint64 deadline;

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
  if (mode == NULL || (strcmp (mode, "relay") != 0 && strcmp (mode, "nats") != 0)
      || bench.port <= 0 || bench.port > 65535 || rooms < 1 || rooms > 200
      || per_room < 2 || per_room > 100 || video_size < 0 || video_size > 60000
      || audio_size < 0 || audio_size > 60000 || bench.video_rate <= 0 || bench.audio_rate <= 0
      || bench.video_rate > 1000 || bench.audio_rate > 1000 || bench.window_s <= 0
      || bench.window_s > 600 || bench.warmup_s < 0 || bench.warmup_s > 60
      || bench.drain_s < 0 || bench.drain_s > 60)
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
  raise_fd_limit (bench.n_conns + 256);

  bench.conns = g_new0 (BenchConn, bench.n_conns);
  bench.heap = g_new0 (BenchEvent, bench.n_conns * N_KINDS);
  for (guint i = 0; i < bench.n_conns; i++)
    {
      BenchConn *conn = &bench.conns[i];
      conn->room = i / bench.per_room;
      conn->sender = i % bench.per_room;
      conn->rx = g_malloc (BENCH_RX_MAX);
      if (bench.mode == BENCH_MODE_NATS)
        conn->control = g_string_sized_new (256);
      conn_build_templates (conn);
    }
  bench.scratch_size = MAX (bench.scratch_size, LWS_PRE + 4096);
  bench.scratch = g_malloc (bench.scratch_size);

  lws_set_log_level (LLL_ERR, NULL);
  info.port = CONTEXT_PORT_NO_LISTEN;
  info.protocols = bench_protocols;
  /* Large reads: a recv() can take several relay messages at once. */
  info.pt_serv_buf_size = 256 * 1024;
  info.fd_limit_per_thread = bench.n_conns + 64;
  info.timeout_secs = 20;
  bench.ctx = lws_create_context (&info);
  if (bench.ctx == NULL)
    {
      g_printerr ("lws_create_context failed\n");
      return 2;
    }

  bench.timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  {
    lws_sock_file_fd_type fd = { .filefd = bench.timer_fd };
    struct lws_vhost *vhost = lws_get_vhost_by_name (bench.ctx, "default");
    if (bench.timer_fd < 0 || vhost == NULL
        || lws_adopt_descriptor_vhost (vhost, LWS_ADOPT_RAW_FILE_DESC, fd, "confab-bench-timer", NULL) == NULL)
      {
        g_printerr ("cannot set up the pacing timer\n");
        return 2;
      }
  }

  for (guint i = 0; i < bench.n_conns; i++)
    {
      BenchConn *conn = &bench.conns[i];
      struct lws_client_connect_info ci = { 0 };
      g_autofree char *path = NULL;

      if (bench.mode == BENCH_MODE_RELAY)
        path = g_strdup_printf ("/lobby/bench-%u-%u/%s%u", conn->room, conn->sender,
                                bench.room_prefix, conn->room);
      else
        path = g_strdup ("/");
      ci.context = bench.ctx;
      ci.address = "127.0.0.1";
      ci.port = bench.port;
      ci.path = path;
      ci.host = "127.0.0.1";
      ci.origin = "127.0.0.1";
      ci.protocol = NULL; /* no subprotocol on the wire */
      ci.local_protocol_name = "confab-bench";
      ci.userdata = conn;
      ci.pwsi = &conn->wsi;
      if (lws_client_connect_via_info (&ci) == NULL)
        {
          g_printerr ("connect %u failed to start\n", i);
          bench.failed = TRUE;
          bench.fail_reason = g_strdup ("client connect failed to start");
          break;
        }
    }

  bench.t_start = now_ns ();
  if (!bench.failed)
    lws_sul_schedule (bench.ctx, 0, &bench.stage_sul, stage_sul_cb,
                      (lws_usec_t) (bench.connect_timeout_s * 1e6));
  /* Bounded: every stage has a timer, and this is a hard backstop. */
  deadline = bench.t_start
             + (gint64) ((bench.connect_timeout_s + bench.warmup_s + bench.window_s + bench.drain_s + 10) * 1e9);
  while (!bench.failed && bench.stage != STAGE_DONE && now_ns () < deadline)
    if (lws_service (bench.ctx, 0) < 0)
      break;
  if (bench.stage != STAGE_DONE && !bench.failed)
    bench_fail ("run did not finish in time");

  print_result ();
  lws_sul_cancel (&bench.stage_sul);
  lws_context_destroy (bench.ctx);
  for (guint i = 0; i < bench.n_conns; i++)
    {
      for (guint k = 0; k < N_KINDS; k++)
        g_free (bench.conns[i].tpl[k]);
      g_free (bench.conns[i].rx);
      if (bench.conns[i].control != NULL)
        g_string_free (bench.conns[i].control, TRUE);
    }
  g_free (bench.conns);
  g_free (bench.heap);
  g_free (bench.scratch);
  g_free (bench.room_prefix);
  g_free (bench.fail_reason);
  return bench.failed ? 1 : 0;
}
