/* confab-bench-util.c: the measuring parts both fan-out generators share
 * (see confab-bench-util.h). */
#define G_LOG_DOMAIN "confab-bench"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "confab-bench-util.h"
#include "confab-packet.h"

gint64
confab_bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

void
confab_bench_hist_add (BenchHist *h, gint64 ns)
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

double
confab_bench_hist_percentile_ms (const BenchHist *h, double q)
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
double
confab_bench_proc_cpu_seconds (int pid)
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
  return (g_ascii_strtod (fields[11], NULL) + g_ascii_strtod (fields[12], NULL)) /
         (double) sysconf (_SC_CLK_TCK);
}

double
confab_bench_self_cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* CPU time the whole machine spent busy (all CPUs, from /proc/stat), in
 * seconds: what is left after the server and us is someone else's work, which
 * on a shared machine distorts both latency and the server's batching. */
double
confab_bench_machine_busy_seconds (void)
{
  g_autofree char *contents = NULL;
  guint64 v[8] = { 0 };

  if (!g_file_get_contents ("/proc/stat", &contents, NULL, NULL) ||
      sscanf (contents,
              "cpu %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
              " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT
              " %" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT,
              &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
    return -1;
  /* user nice system [idle iowait] irq softirq steal */
  return (double) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double) sysconf (_SC_CLK_TCK);
}

guint64
confab_bench_proc_status_kib (int pid, const char *field)
{
  g_autofree char *path =
      pid > 0 ? g_strdup_printf ("/proc/%d/status", pid) : g_strdup ("/proc/self/status");
  g_autofree char *contents = NULL;
  gsize flen = strlen (field);

  if (!g_file_get_contents (path, &contents, NULL, NULL))
    return 0;
  for (const char *line = contents; line != NULL && *line != '\0';)
    {
      const char *nl = strchr (line, '\n');
      if (strncmp (line, field, flen) == 0 && line[flen] == ':')
        return g_ascii_strtoull (line + flen + 1, NULL, 10);
      line = nl != NULL ? nl + 1 : NULL;
    }
  return 0;
}

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

gboolean
confab_bench_scan_message (const guint8 *buf,
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

GBytes *
confab_bench_media_packet (
    guint room, guint sender, BenchKind kind, gsize size, const char *user_id, gsize *stamp_off)
{
  ConfabMediaPacket media = CONFAB__MEDIA_PACKET__INIT;
  Confab__VideoMetadata video = CONFAB__VIDEO_METADATA__INIT;
  Confab__AudioMetadata audio = CONFAB__AUDIO_METADATA__INIT;
  g_autofree guint8 *data = NULL;
  g_autoptr (GBytes) inner = NULL;
  gsize inner_len;
  const guint8 *inner_data;
  GBytes *packet;
  const guint8 *pdata, *magic;
  gsize plen;

  size = MAX (size, BENCH_STAMP_LEN);
  data = g_malloc (size);
  memset (data, 0x5a, size);
  memcpy (data, BENCH_MAGIC, BENCH_MAGIC_LEN);
  memcpy (data + BENCH_MAGIC_LEN + 8, &room, 4);
  memcpy (data + BENCH_MAGIC_LEN + 12, &sender, 4);
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
  packet = confab_packet_wrap (CONFAB_PACKET_MEDIA, user_id, 0, inner_data, inner_len);
  pdata = g_bytes_get_data (packet, &plen);
  magic = memmem (pdata, plen, BENCH_MAGIC, BENCH_MAGIC_LEN);
  g_assert (magic != NULL);
  *stamp_off = (gsize) (magic - pdata) + BENCH_MAGIC_LEN;
  return packet;
}

BenchRx
confab_bench_classify (
    const guint8 *buf, gsize len, guint room, guint sender, BenchKind *kind, gint64 *sent_ns)
{
  guint64 packet_type = 0, media_type = 0;
  const guint8 *inner = NULL, *data = NULL;
  gsize inner_len = 0, data_len = 0;
  guint32 r, s;

  if (!confab_bench_scan_message (buf, len, 1, &packet_type, 3, &inner, &inner_len) ||
      packet_type != CONFAB_PACKET_MEDIA || inner == NULL)
    return BENCH_RX_IGNORED; /* system packets: SESSION_ASSIGNED, MEETING, ... */
  if (!confab_bench_scan_message (inner, inner_len, 1, &media_type, 3, &data, &data_len) ||
      data == NULL || data_len < BENCH_STAMP_LEN ||
      memcmp (data, BENCH_MAGIC, BENCH_MAGIC_LEN) != 0)
    return BENCH_RX_IGNORED;
  memcpy (sent_ns, data + BENCH_MAGIC_LEN, 8);
  memcpy (&r, data + BENCH_MAGIC_LEN + 8, 4);
  memcpy (&s, data + BENCH_MAGIC_LEN + 12, 4);
  if (r != room || s == sender)
    return BENCH_RX_FOREIGN;
  *kind = media_type == CONFAB_MEDIA_AUDIO ? KIND_AUDIO : KIND_VIDEO;
  return BENCH_RX_MEDIA;
}

static void
schedule_swap (BenchSchedule *schedule, guint a, guint b)
{
  BenchEvent t = schedule->heap[a];

  schedule->heap[a] = schedule->heap[b];
  schedule->heap[b] = t;
}

void
confab_bench_schedule_sift_down (BenchSchedule *schedule, guint i)
{
  for (;;)
    {
      guint l = 2 * i + 1, r = l + 1, m = i;
      if (l < schedule->len && schedule->heap[l].due < schedule->heap[m].due)
        m = l;
      if (r < schedule->len && schedule->heap[r].due < schedule->heap[m].due)
        m = r;
      if (m == i)
        return;
      schedule_swap (schedule, i, m);
      i = m;
    }
}

void
confab_bench_schedule_push (BenchSchedule *schedule, BenchEvent ev)
{
  guint i = schedule->len++;

  schedule->heap[i] = ev;
  while (i > 0 && schedule->heap[(i - 1) / 2].due > schedule->heap[i].due)
    {
      schedule_swap (schedule, i, (i - 1) / 2);
      i = (i - 1) / 2;
    }
}

void
confab_bench_append_counts (GString *s, const ConfabBenchCounts *c)
{
  double window = c->window_s;
  guint64 sent = c->sent_video + c->sent_audio;
  guint64 expected = sent * (c->per_room - 1);

  g_string_append_printf (s,
                          ",\"window_s\":%.3f,\"sent\":%" G_GUINT64_FORMAT
                          ",\"sent_video\":%" G_GUINT64_FORMAT ",\"sent_audio\":%" G_GUINT64_FORMAT
                          ",\"expected\":%" G_GUINT64_FORMAT ",\"delivered\":%" G_GUINT64_FORMAT
                          ",\"skipped\":%" G_GUINT64_FORMAT ",\"foreign\":%" G_GUINT64_FORMAT,
                          window, sent, c->sent_video, c->sent_audio, expected, c->delivered,
                          c->skipped, c->foreign);
  g_string_append_printf (s,
                          ",\"delivery_ratio\":%.4f,\"offered_msgs_per_s\":%.1f"
                          ",\"nominal_msgs_per_s\":%.1f,\"delivered_msgs_per_s\":%.1f",
                          expected > 0 ? (double) c->delivered / (double) expected : 0,
                          window > 0 ? sent / window : 0,
                          c->n_conns * (c->video_rate + c->audio_rate) * (c->per_room - 1),
                          window > 0 ? c->delivered / window : 0);
  g_string_append_printf (s,
                          ",\"server_cpu_s\":%.3f,\"server_cpu_pct\":%.1f"
                          ",\"msgs_per_server_cpu_s\":%.0f,\"gen_cpu_s\":%.3f,\"gen_cpu_pct\":%.1f",
                          c->server_cpu_s, window > 0 ? 100 * c->server_cpu_s / window : 0,
                          c->server_cpu_s > 0 ? c->delivered / c->server_cpu_s : 0, c->gen_cpu_s,
                          window > 0 ? 100 * c->gen_cpu_s / window : 0);
  g_string_append_printf (
      s, ",\"other_cpu_pct\":%.1f",
      window > 0 ? 100 * MAX (0, c->machine_cpu_s - c->server_cpu_s - c->gen_cpu_s) / window : 0);
}
